"""core.roster."""
