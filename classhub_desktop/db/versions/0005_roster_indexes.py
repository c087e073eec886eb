"""roster indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

Keyset pagination of the roster (store/roster.py) for every sort order it offers: each order is a
tuple of never-NULL keys ending in the primary key, and each has a B-tree index whose columns are
exactly that tuple, so page N is one index range scan whatever N is (no OFFSET, no sort):

- name:          (last_name, first_name, id)                                 ix_students_name_order (0001)
- school:        (school_id, last_name, first_name, id) walked school by school ix_students_school_order
- grade:         (classhub_grade_rank(grade), last_name, first_name, id)     ix_students_grade_order
- date of birth: (coalesce(date_of_birth, '9999-12-31'), last_name, first_name, id) ix_students_birth_order
- sourced id:    (coalesce(sourced_id, ''), id)                              ix_students_sourced_order

Search of 1 or 2 characters matches the start of a first, last or preferred name (a trigram index
cannot answer fewer than 3 characters well); `lower(name) text_pattern_ops` indexes answer those
prefix matches whatever the database's collation (ix_students_*_prefix).

`classhub_grade_rank(text)` orders grades as a school does (PK, K, 1 … 12, then anything else,
then none) instead of as text ("10" < "2"). It is an inlinable SQL function, so the planner matches
the query's expression against the index's.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PREFIX_COLUMNS = ("last_name", "first_name", "preferred_name")
ALL_ROLES = "classhub_admin, classhub_support, classhub_readonly"


def upgrade() -> None:
    op.execute(
        r"""
        CREATE FUNCTION classhub_grade_rank(grade text) RETURNS integer
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT CASE
            WHEN grade IS NULL OR btrim(grade) = '' THEN 1000
            WHEN upper(btrim(grade)) IN ('PK', 'PREK', 'PRE-K') THEN -1
            WHEN upper(btrim(grade)) IN ('K', 'KG') THEN 0
            WHEN btrim(grade) ~ '^[0-9]{1,2}$' THEN btrim(grade)::integer
            ELSE 999
          END
        $$
        """
    )
    op.execute(f"GRANT EXECUTE ON FUNCTION classhub_grade_rank(text) TO {ALL_ROLES}")
    op.create_index("ix_students_school_order", "students", ["school_id", "last_name", "first_name", "id"])
    op.execute(
        "CREATE INDEX ix_students_grade_order ON students (classhub_grade_rank(grade), last_name, first_name, id)"
    )
    op.execute(
        "CREATE INDEX ix_students_birth_order ON students"
        " ((coalesce(date_of_birth, '9999-12-31'::date)), last_name, first_name, id)"
    )
    op.execute("CREATE INDEX ix_students_sourced_order ON students ((coalesce(sourced_id, '')), id)")
    for column in PREFIX_COLUMNS:
        op.execute(f"CREATE INDEX ix_students_{column}_prefix ON students (lower({column}) text_pattern_ops)")


def downgrade() -> None:
    for column in PREFIX_COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_students_{column}_prefix")
    for name in ("ix_students_sourced_order", "ix_students_birth_order", "ix_students_grade_order"):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_students_school_order", table_name="students")
    op.execute("DROP FUNCTION IF EXISTS classhub_grade_rank(text)")
