"""Alembic migrations of the shared ClassHub schema (shipped inside the wheel)."""
