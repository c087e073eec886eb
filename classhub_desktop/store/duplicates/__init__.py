"""store.duplicates."""
