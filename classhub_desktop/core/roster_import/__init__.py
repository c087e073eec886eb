"""core.roster_import."""
