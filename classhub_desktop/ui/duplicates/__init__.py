"""The Duplicates page: candidate pairs, side-by-side comparison, merge with preview, history, batch review."""
