"""store.teachers."""
