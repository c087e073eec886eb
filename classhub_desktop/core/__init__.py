"""Pure domain logic. Imports no Qt, no SQLAlchemy, no httpx (checked by import-linter)."""
