"""roster indexes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

Keyset pagination of the roster (store/roster/students.py) for every sort order it offers: each order is a
tuple of never-NULL keys ending in the primary key, and each has a B-tree index whose columns are
exactly that tuple, so page N is one index range scan whatever N is (no OFFSET, no sort).

Names sort by their folded form (`classhub_fold`, migration 0004: lower case, accents removed,
apostrophes dropped, punctuation and leading spaces gone) compared byte by byte (COLLATE "C"): the
same order on every server whatever its collation, and Python's code-point order of
core.duplicate_text.fold. So "Aa, Meyer" < "ADAMS, Liam" < "Álvarez" (as "alvarez") < "Zed", and a
name stored with a leading space sorts where its letters do. FOLD(x) below is
`classhub_fold(x) COLLATE "C"`; the displayed names stay as stored.

- name:          (FOLD(last_name), FOLD(first_name), id)                      ix_students_name_fold_order
- school:        (school_id, FOLD(last_name), FOLD(first_name), id), walked school by school
                                                                             ix_students_school_order
- grade:         (classhub_grade_rank(grade), FOLD(last_name), FOLD(first_name), id)
                                                                             ix_students_grade_order
- date of birth: (coalesce(date_of_birth, '9999-12-31'), FOLD(last_name), FOLD(first_name), id)
                                                                             ix_students_birth_order
- sourced id:    (coalesce(sourced_id, ''), id)                              ix_students_sourced_order

(0001's ix_students_name_order on the raw names stays: the duplicate and merge code may use it.)

Search folds both sides (store/roster/query.py):
- a word of 3 or more characters matches anywhere in `student_search_fold(first, last, preferred,
  email, sourced_id)` (the fields joined, then folded: one space between them) through the GIN index
  ix_students_search_fold_trgm (gin_trgm_ops; created only when pg_trgm is installed, like 0001's
  ix_students_search_trgm; without it the search still works, reading the table);
- a word of 1 or 2 characters matches the start of a folded first, last or preferred name:
  `FOLD(x) LIKE 'ab%'` on a C-collated expression is a range scan of a plain B-tree
  (ix_students_first_name_prefix, ix_students_preferred_name_prefix; the last name uses the
  leading column of ix_students_name_fold_order).

`classhub_grade_rank(text)` orders grades as a school does (PK, K, 1 … 12, then anything else,
then none) instead of as text ("10" < "2"). It and `student_search_fold` are inlinable SQL
functions, so the planner matches the query's expression against the index's.

The indexes depend on classhub_fold: dropping that function now needs CASCADE (which drops them).
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ALL_ROLES = "classhub_admin, classhub_support, classhub_readonly"
NAMES = '(classhub_fold(last_name) COLLATE "C"), (classhub_fold(first_name) COLLATE "C"), id'
PREFIX_COLUMNS = ("first_name", "preferred_name")  # the last name's prefix index is the name order's
SEARCH_FOLD = "student_search_fold(first_name, last_name, preferred_name, email, sourced_id)"

# Every index this migration has ever created (earlier drafts too), for the downgrade.
INDEXES = (
    "ix_students_search_fold_trgm",
    "ix_students_name_fold_order",
    "ix_students_school_order",
    "ix_students_grade_order",
    "ix_students_birth_order",
    "ix_students_sourced_order",
    "ix_students_last_name_prefix",
    "ix_students_first_name_prefix",
    "ix_students_preferred_name_prefix",
)


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
    # One fold of the joined fields (five folds cost five times as much on every recheck of a match).
    # Not STRICT, so it is inlined; a NULL field is an empty one. classhub_fold is named with its schema:
    # PostgreSQL builds and maintains indexes under a search_path of pg_catalog only, where the body of
    # an inlined function is parsed too.
    schema = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT pronamespace::regnamespace::text FROM pg_proc WHERE oid = 'classhub_fold(text)'::regprocedure"
        )
        .scalar_one()
    )  # quoted when it needs to be
    fold = f"{schema}.classhub_fold"
    op.execute(
        f"""
        CREATE FUNCTION student_search_fold(first_name text, last_name text, preferred_name text,
                                            email text, sourced_id text)
        RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT {fold}(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' '
                        || coalesce(preferred_name, '') || ' ' || coalesce(email, '') || ' '
                        || coalesce(sourced_id, ''))
        $$
        """
    )
    for function in ("classhub_grade_rank(text)", "student_search_fold(text, text, text, text, text)"):
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {ALL_ROLES}")
    op.execute(f"CREATE INDEX ix_students_name_fold_order ON students ({NAMES})")
    op.execute(f"CREATE INDEX ix_students_school_order ON students (school_id, {NAMES})")
    op.execute(f"CREATE INDEX ix_students_grade_order ON students (classhub_grade_rank(grade), {NAMES})")
    op.execute(
        f"CREATE INDEX ix_students_birth_order ON students ((coalesce(date_of_birth, '9999-12-31'::date)), {NAMES})"
    )
    op.execute("CREATE INDEX ix_students_sourced_order ON students ((coalesce(sourced_id, '')), id)")
    for column in PREFIX_COLUMNS:
        op.execute(f'CREATE INDEX ix_students_{column}_prefix ON students ((classhub_fold({column}) COLLATE "C"))')
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
            CREATE INDEX ix_students_search_fold_trgm ON students USING gin ({SEARCH_FOLD} gin_trgm_ops);
          END IF;
        END $$;
        """
    )


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP FUNCTION IF EXISTS student_search_fold(text, text, text, text, text)")
    op.execute("DROP FUNCTION IF EXISTS classhub_grade_rank(text)")
