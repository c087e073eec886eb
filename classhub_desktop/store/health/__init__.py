"""store.health."""
