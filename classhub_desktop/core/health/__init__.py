"""core.health."""
