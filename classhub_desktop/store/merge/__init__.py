"""store.merge."""
