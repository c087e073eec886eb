"""The shared ClassHub schema as SQLAlchemy Core metadata.

The Alembic migrations in `db/` create the same tables; tests/store/test_schema.py
proves they agree (Alembic's compare finds no difference). Objects that metadata cannot express
(roles, grants, triggers, functions, extension-dependent indexes) live only in the migrations.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=naming_convention)


def _id() -> Column[int]:
    return Column("id", BigInteger, Identity(always=False), primary_key=True)


def _created() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _updated() -> Column[object]:
    return Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _version() -> Column[int]:
    # Bumped by the trg_*_version trigger on every UPDATE (optimistic concurrency for editors).
    return Column("version", Integer, nullable=False, server_default=text("1"))


schools = Table(
    "schools",
    metadata,
    _id(),
    Column("sourced_id", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("school_type", Text),
    _created(),
)

terms = Table(
    "terms",
    metadata,
    _id(),
    Column("sourced_id", Text, nullable=False, unique=True),
    Column("school_id", BigInteger, ForeignKey("schools.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    CheckConstraint("end_date >= start_date", name="dates_ordered"),
)

courses = Table(
    "courses",
    metadata,
    _id(),
    Column("sourced_id", Text, nullable=False, unique=True),
    Column("school_id", BigInteger, ForeignKey("schools.id"), nullable=False, index=True),
    Column("code", Text, nullable=False),
    Column("title", Text, nullable=False),
)

teachers = Table(
    "teachers",
    metadata,
    _id(),
    Column("sourced_id", Text, nullable=False, unique=True),
    Column("school_id", BigInteger, ForeignKey("schools.id"), nullable=False, index=True),
    Column("given_name", Text, nullable=False),
    Column("family_name", Text, nullable=False),
    Column("email", Text, nullable=False, unique=True),
    Column("status", Text, nullable=False, server_default="active"),
    _version(),
    _created(),
    _updated(),
    CheckConstraint("status IN ('active', 'inactive')", name="status"),
)

blocks = Table(
    "blocks",
    metadata,
    _id(),
    Column("sourced_id", Text, nullable=False, unique=True),
    Column("course_id", BigInteger, ForeignKey("courses.id"), nullable=False, index=True),
    Column("term_id", BigInteger, ForeignKey("terms.id"), nullable=False, index=True),
    Column("teacher_id", BigInteger, ForeignKey("teachers.id"), index=True),
    Column("name", Text, nullable=False),
    Column("period", Text),
    _created(),
)

students = Table(
    "students",
    metadata,
    _id(),
    Column("sourced_id", Text, unique=True),
    Column("state_id", Text, index=True),
    Column("school_id", BigInteger, ForeignKey("schools.id"), index=True),
    Column("first_name", Text, nullable=False),
    Column("middle_name", Text),
    Column("last_name", Text, nullable=False),
    Column("preferred_name", Text),
    Column("date_of_birth", Date, index=True),
    Column("grade", Text),
    Column("email", Text, index=True),
    Column("guardian_name", Text),
    Column("guardian_email", Text, index=True),
    Column("guardian_phone", Text, index=True),
    Column("address_line", Text),
    Column("city", Text),
    Column("postal_code", Text),
    Column("status", Text, nullable=False, server_default="active"),
    Column("merged_into_id", BigInteger, ForeignKey("students.id"), index=True),
    _version(),
    _created(),
    _updated(),
    CheckConstraint("status IN ('active', 'inactive', 'merged', 'demo')", name="status"),
    CheckConstraint("(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_target"),
    CheckConstraint("merged_into_id IS DISTINCT FROM id", name="not_merged_into_self"),
    # The raw name order (the roster's orders are on folded names: migration 0005, below).
    Index("ix_students_name_order", "last_name", "first_name", "id"),
    Index("ix_students_lower_last_name", text("lower(last_name)")),
)

student_aliases = Table(
    "student_aliases",
    metadata,
    _id(),
    Column("student_id", BigInteger, ForeignKey("students.id"), nullable=False, index=True),
    Column("source", Text, nullable=False, server_default="sis"),
    Column("external_id", Text, nullable=False),
    Column("note", Text),
    _created(),
    UniqueConstraint("source", "external_id"),
)

enrollments = Table(
    "enrollments",
    metadata,
    _id(),
    Column("student_id", BigInteger, ForeignKey("students.id"), nullable=False),
    Column("block_id", BigInteger, ForeignKey("blocks.id"), nullable=False, index=True),
    Column("status", Text, nullable=False, server_default="active"),
    Column("begin_date", Date),
    Column("end_date", Date),
    _version(),
    _created(),
    _updated(),
    UniqueConstraint("student_id", "block_id"),
    CheckConstraint("status IN ('active', 'completed', 'dropped')", name="status"),
)

token_transactions = Table(
    "token_transactions",
    metadata,
    _id(),
    Column("student_id", BigInteger, ForeignKey("students.id"), nullable=False),
    Column("block_id", BigInteger, ForeignKey("blocks.id"), index=True),
    Column("amount", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", Text),
    _created(),
    Index("ix_token_transactions_student_id_created_at", "student_id", "created_at"),
)

app_users = Table(
    "app_users",
    metadata,
    _id(),
    Column("username", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("teacher_id", BigInteger, ForeignKey("teachers.id"), index=True),
    Column("email", Text),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("failed_logins", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", DateTime(timezone=True)),
    Column("last_login_at", DateTime(timezone=True)),
    _created(),
    CheckConstraint("role IN ('admin', 'support', 'teacher')", name="role"),
    CheckConstraint("role <> 'teacher' OR teacher_id IS NOT NULL", name="teacher_linked"),
)

student_uploads = Table(
    "student_uploads",
    metadata,
    _id(),
    Column("student_id", BigInteger, ForeignKey("students.id"), nullable=False, index=True),
    Column("teacher_id", BigInteger, ForeignKey("teachers.id"), index=True),
    Column("block_id", BigInteger, ForeignKey("blocks.id"), index=True),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("file_path", Text, nullable=False),
    Column("sha256", Text),
    Column("size_bytes", BigInteger),
    Column("mime_type", Text),
    Column("status", Text, nullable=False, server_default="submitted"),
    Column("grade", Text),
    Column("reviewer_id", BigInteger, ForeignKey("app_users.id")),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("submission_version", Integer, nullable=False, server_default=text("1")),
    Column("upload_failed", Boolean, nullable=False, server_default=text("false")),
    _version(),
    _created(),
    _updated(),
    CheckConstraint("status IN ('submitted', 'approved', 'rejected', 'needs_revision')", name="status"),
    Index("ix_student_uploads_status_created_at", "status", "created_at"),
    Index("ix_student_uploads_file_path", "file_path"),
    Index("ix_student_uploads_updated_at_id", "updated_at", "id"),  # keyset paging of the submissions API
)

review_comments = Table(
    "review_comments",
    metadata,
    _id(),
    Column("upload_id", BigInteger, ForeignKey("student_uploads.id"), nullable=False, index=True),
    Column("author_id", BigInteger, ForeignKey("app_users.id")),
    Column("decision", Text),
    Column("body", Text, nullable=False),
    Column("submission_version", Integer),
    _created(),
)

student_events = Table(
    "student_events",
    metadata,
    _id(),
    Column("student_id", BigInteger, ForeignKey("students.id"), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("payload", JSONB),
    _created(),
    Index("ix_student_events_student_id_created_at", "student_id", "created_at"),
    # Retention pruning deletes by age.
    Index("ix_student_events_created_at", "created_at"),
)

notifications = Table(
    "notifications",
    metadata,
    _id(),
    Column("student_id", BigInteger, ForeignKey("students.id"), index=True),
    Column("app_user_id", BigInteger, ForeignKey("app_users.id"), index=True),
    Column("kind", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False, server_default="PENDING"),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
    _created(),
    CheckConstraint("status IN ('PENDING', 'SENT', 'FAILED')", name="status"),
    Index("ix_notifications_status_created_at", "status", "created_at"),
)

class_schedules = Table(
    # A student's weekly schedule: the weekly class generation creates `classes` from it.
    "class_schedules",
    metadata,
    _id(),
    Column("student_id", BigInteger, ForeignKey("students.id"), nullable=False, index=True),
    Column("block_id", BigInteger, ForeignKey("blocks.id"), index=True),
    Column("weekday", SmallInteger, nullable=False),
    Column("start_time", Time, nullable=False),
    Column("duration_minutes", Integer, nullable=False, server_default=text("50")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    _created(),
    CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday_iso"),
)

classes = Table(
    # A scheduled session per student. Legacy generators created duplicates (same student, date and
    # start time), so uniqueness is not a constraint here: the duplicate-classes check finds them and
    # the generator inserts only when no class exists for that slot.
    "classes",
    metadata,
    _id(),
    Column("student_id", BigInteger, ForeignKey("students.id"), nullable=False),
    Column("block_id", BigInteger, ForeignKey("blocks.id"), index=True),
    Column("schedule_id", BigInteger, ForeignKey("class_schedules.id"), index=True),
    Column("class_date", Date, nullable=False),
    Column("start_time", Time, nullable=False),
    Column("duration_minutes", Integer, nullable=False, server_default=text("50")),
    Column("status", Text, nullable=False, server_default="scheduled"),
    Column("payment_status", Text, nullable=False, server_default="unpaid"),
    _version(),
    _created(),
    CheckConstraint("status IN ('scheduled', 'completed', 'cancelled', 'no_show')", name="status"),
    CheckConstraint("payment_status IN ('unpaid', 'paid', 'waived')", name="payment_status"),
    Index("ix_classes_student_slot", "student_id", "class_date", "start_time"),
    Index("ix_classes_class_date", "class_date"),
)

class_generation_logs = Table(
    "class_generation_logs",
    metadata,
    _id(),
    Column("student_id", BigInteger, ForeignKey("students.id"), index=True),
    Column("operation", Text, nullable=False),
    Column("trigger_time", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("status", Text, nullable=False),
    Column("message", Text),
    Column("error_details", JSONB),
    Column("classes_created", Integer, nullable=False, server_default=text("0")),
    Column("job_id", Text),
    CheckConstraint("operation IN ('scheduled', 'manual', 'missing_classes')", name="operation"),
    CheckConstraint("status IN ('success', 'failed', 'skipped')", name="status"),
    Index("ix_class_generation_logs_trigger_time", "trigger_time"),
)

demo_sessions = Table(
    # Admin "view as student" sessions; they expire after 10 minutes.
    "demo_sessions",
    metadata,
    _id(),
    Column("app_user_id", BigInteger, ForeignKey("app_users.id"), index=True),
    Column("student_id", BigInteger, ForeignKey("students.id"), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column(
        "expires_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now() + interval '10 minutes'"),
    ),
    Column("ended_at", DateTime(timezone=True)),
    Index("ix_demo_sessions_expires_at", "expires_at"),
)

audit_log = Table(
    # Append-only: a trigger rejects UPDATE, DELETE and TRUNCATE for every role, the owner included;
    # another stamps db_login, and for non-superusers the time and a database row's actor.
    "audit_log",
    metadata,
    _id(),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False, server_default=text("session_user")),
    Column("actor_kind", Text, nullable=False, server_default="database"),
    Column("action", Text, nullable=False),
    Column("target_table", Text),
    Column("target_id", Text),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column(
        "application_name",
        Text,
        server_default=text("current_setting('application_name', true)"),
    ),
    # The database login that really wrote the row (forced by trigger; an API row's actor is the API user).
    Column("db_login", Text, nullable=False, server_default=text("session_user")),
    CheckConstraint("actor_kind IN ('database', 'api')", name="actor_kind"),
    Index("ix_audit_log_occurred_at_id", "occurred_at", "id"),
    Index("ix_audit_log_actor", "actor"),
    Index("ix_audit_log_action", "action"),
    Index("ix_audit_log_target", "target_table", "target_id"),
)

merges = Table(
    "merges",
    metadata,
    _id(),
    Column("survivor_id", BigInteger, ForeignKey("students.id"), nullable=False, index=True),
    Column("absorbed_id", BigInteger, ForeignKey("students.id"), nullable=False, index=True),
    Column("performed_by", Text, nullable=False, server_default=text("session_user")),
    Column("performed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("field_choices", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("summary", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("undone_at", DateTime(timezone=True)),
    Column("undone_by", Text),
    CheckConstraint("survivor_id <> absorbed_id", name="distinct_students"),
)

merge_journal = Table(
    # Every row a merge changed or deleted, with its full before-image, so undo can restore it.
    "merge_journal",
    metadata,
    _id(),
    Column("merge_id", BigInteger, ForeignKey("merges.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("operation", Text, nullable=False),
    Column("row_pk", JSONB, nullable=False),
    Column("old_row", JSONB),
    Column("new_row", JSONB),
    UniqueConstraint("merge_id", "seq"),
    CheckConstraint("operation IN ('insert', 'update', 'delete')", name="operation"),
)

duplicate_decisions = Table(
    "duplicate_decisions",
    metadata,
    _id(),
    Column("student_a_id", BigInteger, ForeignKey("students.id"), nullable=False),
    Column("student_b_id", BigInteger, ForeignKey("students.id"), nullable=False, index=True),
    Column("verdict", Text, nullable=False, server_default="not_duplicate"),
    Column("decided_by", Text, nullable=False, server_default=text("session_user")),
    Column("decided_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("note", Text),
    UniqueConstraint("student_a_id", "student_b_id"),
    CheckConstraint("student_a_id < student_b_id", name="ordered_pair"),
    CheckConstraint("verdict IN ('not_duplicate')", name="verdict"),
)

api_idempotency_keys = Table(
    # Answers of POST /api/v1/reviews/batch items, so a replayed key returns the first answer.
    "api_idempotency_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("app_user_id", BigInteger, ForeignKey("app_users.id"), nullable=False),
    Column("response", JSONB, nullable=False),
    _created(),
)

# Indexes created by the migrations only: those that depend on an optional extension (pg_trgm), and
# the roster's indexes of migration 0005 on expressions over functions metadata does not define
# (classhub_fold of migration 0004 under COLLATE "C", classhub_grade_rank, student_search_fold).
MIGRATION_ONLY_INDEXES = frozenset(
    {
        "ix_students_search_trgm",
        "ix_students_full_name_trgm",
        "ix_students_search_fold_trgm",
        "ix_students_name_fold_order",
        "ix_students_school_order",
        "ix_students_grade_order",
        "ix_students_birth_order",
        "ix_students_sourced_order",
        "ix_students_first_name_prefix",
        "ix_students_preferred_name_prefix",
    }
)


def include_in_comparison(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic `include_object` hook: leave extension-dependent indexes out of autogenerate/compare."""
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)
