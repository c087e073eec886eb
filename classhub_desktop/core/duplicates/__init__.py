"""core.duplicates."""
