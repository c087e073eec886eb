"""store.roster."""
