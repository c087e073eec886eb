"""login role function

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

`classhub_login_role()` tells a client which ClassHub role the current login acts as, so every
client (this application, psql, scripts) mirrors the database's grants the same way.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION classhub_login_role() RETURNS text
        LANGUAGE sql STABLE SECURITY INVOKER AS $$
          -- USAGE, not MEMBER: a NOINHERIT member does not get the group's privileges until SET ROLE.
          -- The owner of the schema (the login that migrates it, often not a superuser on managed
          -- PostgreSQL) may do everything an administrator may.
          SELECT CASE
            WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN 'classhub_admin'
            WHEN pg_has_role(current_user, 'classhub_admin', 'USAGE') THEN 'classhub_admin'
            WHEN pg_has_role(current_user, (SELECT tableowner::text FROM pg_tables
                                            WHERE schemaname = 'public' AND tablename = 'alembic_version'),
                             'USAGE') THEN 'classhub_admin'
            WHEN pg_has_role(current_user, 'classhub_support', 'USAGE') THEN 'classhub_support'
            WHEN pg_has_role(current_user, 'classhub_readonly', 'USAGE') THEN 'classhub_readonly'
            ELSE NULL
          END
        $$
        """
    )
    op.execute("GRANT EXECUTE ON FUNCTION classhub_login_role() TO PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS classhub_login_role()")
