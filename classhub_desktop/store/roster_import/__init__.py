"""store.roster_import."""
