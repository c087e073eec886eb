"""initial ClassHub schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Tables are generated from classhub_desktop/store/schema.py; the second half (extensions, functions,
triggers, roles, grants) has no metadata equivalent and is written by hand.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor", sa.Text(), server_default=sa.text("session_user"), nullable=False),
        sa.Column("actor_kind", sa.Text(), server_default="database", nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target_table", sa.Text(), nullable=True),
        sa.Column("target_id", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "application_name",
            sa.Text(),
            server_default=sa.text("current_setting('application_name', true)"),
            nullable=True,
        ),
        sa.Column("db_login", sa.Text(), server_default=sa.text("session_user"), nullable=False),
        sa.CheckConstraint("actor_kind IN ('database', 'api')", name=op.f("ck_audit_log_actor_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"], unique=False)
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"], unique=False)
    op.create_index("ix_audit_log_occurred_at_id", "audit_log", ["occurred_at", "id"], unique=False)
    op.create_index("ix_audit_log_target", "audit_log", ["target_table", "target_id"], unique=False)
    op.create_table(
        "schools",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("sourced_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("school_type", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schools")),
        sa.UniqueConstraint("sourced_id", name=op.f("uq_schools_sourced_id")),
    )
    op.create_table(
        "courses",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("sourced_id", sa.Text(), nullable=False),
        sa.Column("school_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_courses_school_id_schools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("sourced_id", name=op.f("uq_courses_sourced_id")),
    )
    op.create_index(op.f("ix_courses_school_id"), "courses", ["school_id"], unique=False)
    op.create_table(
        "students",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("sourced_id", sa.Text(), nullable=True),
        sa.Column("state_id", sa.Text(), nullable=True),
        sa.Column("school_id", sa.BigInteger(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("middle_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("preferred_name", sa.Text(), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("grade", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("guardian_name", sa.Text(), nullable=True),
        sa.Column("guardian_email", sa.Text(), nullable=True),
        sa.Column("guardian_phone", sa.Text(), nullable=True),
        sa.Column("address_line", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("postal_code", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("merged_into_id", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)", name=op.f("ck_students_merged_has_target")
        ),
        sa.CheckConstraint("status IN ('active', 'inactive', 'merged', 'demo')", name=op.f("ck_students_status")),
        sa.CheckConstraint("merged_into_id IS DISTINCT FROM id", name=op.f("ck_students_not_merged_into_self")),
        sa.ForeignKeyConstraint(["merged_into_id"], ["students.id"], name=op.f("fk_students_merged_into_id_students")),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_students_school_id_schools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_students")),
        sa.UniqueConstraint("sourced_id", name=op.f("uq_students_sourced_id")),
    )
    op.create_index(op.f("ix_students_date_of_birth"), "students", ["date_of_birth"], unique=False)
    op.create_index(op.f("ix_students_email"), "students", ["email"], unique=False)
    op.create_index(op.f("ix_students_guardian_email"), "students", ["guardian_email"], unique=False)
    op.create_index(op.f("ix_students_guardian_phone"), "students", ["guardian_phone"], unique=False)
    op.create_index("ix_students_lower_last_name", "students", [sa.literal_column("lower(last_name)")], unique=False)
    op.create_index(op.f("ix_students_merged_into_id"), "students", ["merged_into_id"], unique=False)
    op.create_index("ix_students_name_order", "students", ["last_name", "first_name", "id"], unique=False)
    op.create_index(op.f("ix_students_school_id"), "students", ["school_id"], unique=False)
    op.create_index(op.f("ix_students_state_id"), "students", ["state_id"], unique=False)
    op.create_table(
        "teachers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("sourced_id", sa.Text(), nullable=False),
        sa.Column("school_id", sa.BigInteger(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=False),
        sa.Column("family_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('active', 'inactive')", name=op.f("ck_teachers_status")),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_teachers_school_id_schools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teachers")),
        sa.UniqueConstraint("email", name=op.f("uq_teachers_email")),
        sa.UniqueConstraint("sourced_id", name=op.f("uq_teachers_sourced_id")),
    )
    op.create_index(op.f("ix_teachers_school_id"), "teachers", ["school_id"], unique=False)
    op.create_table(
        "terms",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("sourced_id", sa.Text(), nullable=False),
        sa.Column("school_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_terms_dates_ordered")),
        sa.ForeignKeyConstraint(["school_id"], ["schools.id"], name=op.f("fk_terms_school_id_schools")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terms")),
        sa.UniqueConstraint("sourced_id", name=op.f("uq_terms_sourced_id")),
    )
    op.create_index(op.f("ix_terms_school_id"), "terms", ["school_id"], unique=False)
    op.create_table(
        "app_users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("teacher_id", sa.BigInteger(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role <> 'teacher' OR teacher_id IS NOT NULL", name=op.f("ck_app_users_teacher_linked")),
        sa.CheckConstraint("role IN ('admin', 'support', 'teacher')", name=op.f("ck_app_users_role")),
        sa.ForeignKeyConstraint(["teacher_id"], ["teachers.id"], name=op.f("fk_app_users_teacher_id_teachers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_users")),
        sa.UniqueConstraint("username", name=op.f("uq_app_users_username")),
    )
    op.create_index(op.f("ix_app_users_teacher_id"), "app_users", ["teacher_id"], unique=False)
    op.create_table(
        "blocks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("sourced_id", sa.Text(), nullable=False),
        sa.Column("course_id", sa.BigInteger(), nullable=False),
        sa.Column("term_id", sa.BigInteger(), nullable=False),
        sa.Column("teacher_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"], name=op.f("fk_blocks_course_id_courses")),
        sa.ForeignKeyConstraint(["teacher_id"], ["teachers.id"], name=op.f("fk_blocks_teacher_id_teachers")),
        sa.ForeignKeyConstraint(["term_id"], ["terms.id"], name=op.f("fk_blocks_term_id_terms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocks")),
        sa.UniqueConstraint("sourced_id", name=op.f("uq_blocks_sourced_id")),
    )
    op.create_index(op.f("ix_blocks_course_id"), "blocks", ["course_id"], unique=False)
    op.create_index(op.f("ix_blocks_teacher_id"), "blocks", ["teacher_id"], unique=False)
    op.create_index(op.f("ix_blocks_term_id"), "blocks", ["term_id"], unique=False)
    op.create_table(
        "class_generation_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("student_id", sa.BigInteger(), nullable=True),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("trigger_time", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("error_details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("classes_created", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("job_id", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "operation IN ('scheduled', 'manual', 'missing_classes')",
            name=op.f("ck_class_generation_logs_operation"),
        ),
        sa.CheckConstraint("status IN ('success', 'failed', 'skipped')", name=op.f("ck_class_generation_logs_status")),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_class_generation_logs_student_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_generation_logs")),
    )
    op.create_index(op.f("ix_class_generation_logs_student_id"), "class_generation_logs", ["student_id"], unique=False)
    op.create_index("ix_class_generation_logs_trigger_time", "class_generation_logs", ["trigger_time"], unique=False)
    op.create_table(
        "duplicate_decisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("student_a_id", sa.BigInteger(), nullable=False),
        sa.Column("student_b_id", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.Text(), server_default="not_duplicate", nullable=False),
        sa.Column("decided_by", sa.Text(), server_default=sa.text("session_user"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("verdict IN ('not_duplicate')", name=op.f("ck_duplicate_decisions_verdict")),
        sa.CheckConstraint("student_a_id < student_b_id", name=op.f("ck_duplicate_decisions_ordered_pair")),
        sa.ForeignKeyConstraint(
            ["student_a_id"], ["students.id"], name=op.f("fk_duplicate_decisions_student_a_id_students")
        ),
        sa.ForeignKeyConstraint(
            ["student_b_id"], ["students.id"], name=op.f("fk_duplicate_decisions_student_b_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_decisions")),
        sa.UniqueConstraint(
            "student_a_id", "student_b_id", name=op.f("uq_duplicate_decisions_student_a_id_student_b_id")
        ),
    )
    op.create_index(op.f("ix_duplicate_decisions_student_b_id"), "duplicate_decisions", ["student_b_id"], unique=False)
    op.create_table(
        "merges",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("survivor_id", sa.BigInteger(), nullable=False),
        sa.Column("absorbed_id", sa.BigInteger(), nullable=False),
        sa.Column("performed_by", sa.Text(), server_default=sa.text("session_user"), nullable=False),
        sa.Column("performed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "field_choices",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "summary",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.Text(), nullable=True),
        sa.CheckConstraint("survivor_id <> absorbed_id", name=op.f("ck_merges_distinct_students")),
        sa.ForeignKeyConstraint(["absorbed_id"], ["students.id"], name=op.f("fk_merges_absorbed_id_students")),
        sa.ForeignKeyConstraint(["survivor_id"], ["students.id"], name=op.f("fk_merges_survivor_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merges")),
    )
    op.create_index(op.f("ix_merges_absorbed_id"), "merges", ["absorbed_id"], unique=False)
    op.create_index(op.f("ix_merges_survivor_id"), "merges", ["survivor_id"], unique=False)
    op.create_table(
        "student_aliases",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("student_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), server_default="sis", nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_student_aliases_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student_aliases")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_student_aliases_source_external_id")),
    )
    op.create_index(op.f("ix_student_aliases_student_id"), "student_aliases", ["student_id"], unique=False)
    op.create_table(
        "student_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("student_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_student_events_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student_events")),
    )
    op.create_index("ix_student_events_created_at", "student_events", ["created_at"], unique=False)
    op.create_index(
        "ix_student_events_student_id_created_at",
        "student_events",
        ["student_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "api_idempotency_keys",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("app_user_id", sa.BigInteger(), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_user_id"], ["app_users.id"], name=op.f("fk_api_idempotency_keys_app_user_id_app_users")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_api_idempotency_keys")),
    )
    op.create_table(
        "class_schedules",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("student_id", sa.BigInteger(), nullable=False),
        sa.Column("block_id", sa.BigInteger(), nullable=True),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), server_default=sa.text("50"), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 1 AND 7", name=op.f("ck_class_schedules_weekday_iso")),
        sa.ForeignKeyConstraint(["block_id"], ["blocks.id"], name=op.f("fk_class_schedules_block_id_blocks")),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_class_schedules_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_class_schedules")),
    )
    op.create_index(op.f("ix_class_schedules_block_id"), "class_schedules", ["block_id"], unique=False)
    op.create_index(op.f("ix_class_schedules_student_id"), "class_schedules", ["student_id"], unique=False)
    op.create_table(
        "demo_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("app_user_id", sa.BigInteger(), nullable=True),
        sa.Column("student_id", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "expires_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now() + interval '10 minutes'"),
            nullable=False,
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["app_user_id"], ["app_users.id"], name=op.f("fk_demo_sessions_app_user_id_app_users")),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_demo_sessions_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demo_sessions")),
    )
    op.create_index(op.f("ix_demo_sessions_app_user_id"), "demo_sessions", ["app_user_id"], unique=False)
    op.create_index("ix_demo_sessions_expires_at", "demo_sessions", ["expires_at"], unique=False)
    op.create_index(op.f("ix_demo_sessions_student_id"), "demo_sessions", ["student_id"], unique=False)
    op.create_table(
        "enrollments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("student_id", sa.BigInteger(), nullable=False),
        sa.Column("block_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("begin_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('active', 'completed', 'dropped')", name=op.f("ck_enrollments_status")),
        sa.ForeignKeyConstraint(["block_id"], ["blocks.id"], name=op.f("fk_enrollments_block_id_blocks")),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_enrollments_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("student_id", "block_id", name=op.f("uq_enrollments_student_id_block_id")),
    )
    op.create_index(op.f("ix_enrollments_block_id"), "enrollments", ["block_id"], unique=False)
    op.create_table(
        "merge_journal",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("merge_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("row_pk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("old_row", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new_row", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint("operation IN ('insert', 'update', 'delete')", name=op.f("ck_merge_journal_operation")),
        sa.ForeignKeyConstraint(["merge_id"], ["merges.id"], name=op.f("fk_merge_journal_merge_id_merges")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_journal")),
        sa.UniqueConstraint("merge_id", "seq", name=op.f("uq_merge_journal_merge_id_seq")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("student_id", sa.BigInteger(), nullable=True),
        sa.Column("app_user_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), server_default="PENDING", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('PENDING', 'SENT', 'FAILED')", name=op.f("ck_notifications_status")),
        sa.ForeignKeyConstraint(["app_user_id"], ["app_users.id"], name=op.f("fk_notifications_app_user_id_app_users")),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_notifications_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_app_user_id"), "notifications", ["app_user_id"], unique=False)
    op.create_index("ix_notifications_status_created_at", "notifications", ["status", "created_at"], unique=False)
    op.create_index(op.f("ix_notifications_student_id"), "notifications", ["student_id"], unique=False)
    op.create_table(
        "student_uploads",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("student_id", sa.BigInteger(), nullable=False),
        sa.Column("teacher_id", sa.BigInteger(), nullable=True),
        sa.Column("block_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("mime_type", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="submitted", nullable=False),
        sa.Column("grade", sa.Text(), nullable=True),
        sa.Column("reviewer_id", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submission_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("upload_failed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('submitted', 'approved', 'rejected', 'needs_revision')",
            name=op.f("ck_student_uploads_status"),
        ),
        sa.ForeignKeyConstraint(["block_id"], ["blocks.id"], name=op.f("fk_student_uploads_block_id_blocks")),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["app_users.id"], name=op.f("fk_student_uploads_reviewer_id_app_users")
        ),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_student_uploads_student_id_students")),
        sa.ForeignKeyConstraint(["teacher_id"], ["teachers.id"], name=op.f("fk_student_uploads_teacher_id_teachers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_student_uploads")),
    )
    op.create_index(op.f("ix_student_uploads_block_id"), "student_uploads", ["block_id"], unique=False)
    op.create_index("ix_student_uploads_file_path", "student_uploads", ["file_path"], unique=False)
    op.create_index("ix_student_uploads_status_created_at", "student_uploads", ["status", "created_at"], unique=False)
    op.create_index(op.f("ix_student_uploads_student_id"), "student_uploads", ["student_id"], unique=False)
    op.create_index(op.f("ix_student_uploads_teacher_id"), "student_uploads", ["teacher_id"], unique=False)
    op.create_table(
        "token_transactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("student_id", sa.BigInteger(), nullable=False),
        sa.Column("block_id", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["block_id"], ["blocks.id"], name=op.f("fk_token_transactions_block_id_blocks")),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_token_transactions_student_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_token_transactions")),
    )
    op.create_index(op.f("ix_token_transactions_block_id"), "token_transactions", ["block_id"], unique=False)
    op.create_index(
        "ix_token_transactions_student_id_created_at",
        "token_transactions",
        ["student_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "classes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("student_id", sa.BigInteger(), nullable=False),
        sa.Column("block_id", sa.BigInteger(), nullable=True),
        sa.Column("schedule_id", sa.BigInteger(), nullable=True),
        sa.Column("class_date", sa.Date(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), server_default=sa.text("50"), nullable=False),
        sa.Column("status", sa.Text(), server_default="scheduled", nullable=False),
        sa.Column("payment_status", sa.Text(), server_default="unpaid", nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("payment_status IN ('unpaid', 'paid', 'waived')", name=op.f("ck_classes_payment_status")),
        sa.CheckConstraint(
            "status IN ('scheduled', 'completed', 'cancelled', 'no_show')", name=op.f("ck_classes_status")
        ),
        sa.ForeignKeyConstraint(["block_id"], ["blocks.id"], name=op.f("fk_classes_block_id_blocks")),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["class_schedules.id"], name=op.f("fk_classes_schedule_id_class_schedules")
        ),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], name=op.f("fk_classes_student_id_students")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classes")),
    )
    op.create_index(op.f("ix_classes_block_id"), "classes", ["block_id"], unique=False)
    op.create_index("ix_classes_class_date", "classes", ["class_date"], unique=False)
    op.create_index(op.f("ix_classes_schedule_id"), "classes", ["schedule_id"], unique=False)
    op.create_index("ix_classes_student_slot", "classes", ["student_id", "class_date", "start_time"], unique=False)
    op.create_table(
        "review_comments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("upload_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("submission_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["app_users.id"], name=op.f("fk_review_comments_author_id_app_users")),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["student_uploads.id"], name=op.f("fk_review_comments_upload_id_student_uploads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_comments")),
    )
    op.create_index(op.f("ix_review_comments_upload_id"), "review_comments", ["upload_id"], unique=False)
    _install_database_objects()


def downgrade() -> None:
    _drop_database_objects()
    op.drop_index(op.f("ix_review_comments_upload_id"), table_name="review_comments")
    op.drop_table("review_comments")
    op.drop_index("ix_classes_student_slot", table_name="classes")
    op.drop_index(op.f("ix_classes_schedule_id"), table_name="classes")
    op.drop_index("ix_classes_class_date", table_name="classes")
    op.drop_index(op.f("ix_classes_block_id"), table_name="classes")
    op.drop_table("classes")
    op.drop_index("ix_token_transactions_student_id_created_at", table_name="token_transactions")
    op.drop_index(op.f("ix_token_transactions_block_id"), table_name="token_transactions")
    op.drop_table("token_transactions")
    op.drop_index(op.f("ix_student_uploads_teacher_id"), table_name="student_uploads")
    op.drop_index(op.f("ix_student_uploads_student_id"), table_name="student_uploads")
    op.drop_index("ix_student_uploads_status_created_at", table_name="student_uploads")
    op.drop_index("ix_student_uploads_file_path", table_name="student_uploads")
    op.drop_index(op.f("ix_student_uploads_block_id"), table_name="student_uploads")
    op.drop_table("student_uploads")
    op.drop_index(op.f("ix_notifications_student_id"), table_name="notifications")
    op.drop_index("ix_notifications_status_created_at", table_name="notifications")
    op.drop_index(op.f("ix_notifications_app_user_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("merge_journal")
    op.drop_index(op.f("ix_enrollments_block_id"), table_name="enrollments")
    op.drop_table("enrollments")
    op.drop_index(op.f("ix_demo_sessions_student_id"), table_name="demo_sessions")
    op.drop_index("ix_demo_sessions_expires_at", table_name="demo_sessions")
    op.drop_index(op.f("ix_demo_sessions_app_user_id"), table_name="demo_sessions")
    op.drop_table("demo_sessions")
    op.drop_index(op.f("ix_class_schedules_student_id"), table_name="class_schedules")
    op.drop_index(op.f("ix_class_schedules_block_id"), table_name="class_schedules")
    op.drop_table("class_schedules")
    op.drop_table("api_idempotency_keys")
    op.drop_index("ix_student_events_student_id_created_at", table_name="student_events")
    op.drop_index("ix_student_events_created_at", table_name="student_events")
    op.drop_table("student_events")
    op.drop_index(op.f("ix_student_aliases_student_id"), table_name="student_aliases")
    op.drop_table("student_aliases")
    op.drop_index(op.f("ix_merges_survivor_id"), table_name="merges")
    op.drop_index(op.f("ix_merges_absorbed_id"), table_name="merges")
    op.drop_table("merges")
    op.drop_index(op.f("ix_duplicate_decisions_student_b_id"), table_name="duplicate_decisions")
    op.drop_table("duplicate_decisions")
    op.drop_index("ix_class_generation_logs_trigger_time", table_name="class_generation_logs")
    op.drop_index(op.f("ix_class_generation_logs_student_id"), table_name="class_generation_logs")
    op.drop_table("class_generation_logs")
    op.drop_index(op.f("ix_blocks_term_id"), table_name="blocks")
    op.drop_index(op.f("ix_blocks_teacher_id"), table_name="blocks")
    op.drop_index(op.f("ix_blocks_course_id"), table_name="blocks")
    op.drop_table("blocks")
    op.drop_index(op.f("ix_app_users_teacher_id"), table_name="app_users")
    op.drop_table("app_users")
    op.drop_index(op.f("ix_terms_school_id"), table_name="terms")
    op.drop_table("terms")
    op.drop_index(op.f("ix_teachers_school_id"), table_name="teachers")
    op.drop_table("teachers")
    op.drop_index(op.f("ix_students_state_id"), table_name="students")
    op.drop_index(op.f("ix_students_school_id"), table_name="students")
    op.drop_index("ix_students_name_order", table_name="students")
    op.drop_index(op.f("ix_students_merged_into_id"), table_name="students")
    op.drop_index("ix_students_lower_last_name", table_name="students")
    op.drop_index(op.f("ix_students_guardian_phone"), table_name="students")
    op.drop_index(op.f("ix_students_guardian_email"), table_name="students")
    op.drop_index(op.f("ix_students_email"), table_name="students")
    op.drop_index(op.f("ix_students_date_of_birth"), table_name="students")
    op.drop_table("students")
    op.drop_index(op.f("ix_courses_school_id"), table_name="courses")
    op.drop_table("courses")
    op.drop_table("schools")
    op.drop_index("ix_audit_log_target", table_name="audit_log")
    op.drop_index("ix_audit_log_occurred_at_id", table_name="audit_log")
    op.drop_index("ix_audit_log_actor", table_name="audit_log")
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.drop_table("audit_log")

    _drop_functions()


# --- Objects that SQLAlchemy metadata does not express --------------------------------------------

VERSIONED_TABLES = ("teachers", "students", "enrollments", "student_uploads", "classes")
UPDATED_AT_TABLES = ("teachers", "students", "enrollments", "student_uploads")
APPEND_ONLY_TABLES = ("audit_log", "review_comments")
ROLES = ("classhub_admin", "classhub_support", "classhub_readonly")
# Support staff run maintenance and guided fixes on operational tables only: never on the roster,
# the token ledger, accounts, merges or the schema's own version table.
SUPPORT_WRITABLE = (
    "classes",
    "class_schedules",
    "class_generation_logs",
    "demo_sessions",
    "notifications",
    "student_events",
    "student_uploads",
)
APP_USERS_PUBLIC_COLUMNS = (
    "id, username, role, teacher_id, email, is_active, failed_logins, locked_until, last_login_at, created_at"
)


def _install_database_objects() -> None:
    # Extensions are optional: pg_trgm and fuzzystrmatch are "trusted" (a database owner may create
    # them); when unavailable the application falls back to slower plain-SQL search.
    op.execute(
        """
        DO $$
        DECLARE ext text;
        BEGIN
          FOREACH ext IN ARRAY ARRAY['pg_trgm', 'fuzzystrmatch'] LOOP
            IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = ext) THEN
              BEGIN
                EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I', ext);
              EXCEPTION WHEN insufficient_privilege THEN
                RAISE NOTICE 'extension % not created: insufficient privilege', ext;
              END;
            END IF;
          END LOOP;
        END $$;
        """
    )
    # The text that roster search matches against: name, preferred name, e-mail and SIS id.
    op.execute(
        """
        CREATE FUNCTION student_search_key(first_name text, last_name text, preferred_name text,
                                           email text, sourced_id text)
        RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' '
                       || coalesce(preferred_name, '') || ' ' || coalesce(email, '') || ' '
                       || coalesce(sourced_id, ''))
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION student_full_name(first_name text, last_name text)
        RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))
        $$
        """
    )
    op.execute(
        """
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
            CREATE INDEX ix_students_search_trgm ON students
              USING gin (student_search_key(first_name, last_name, preferred_name, email, sourced_id)
                         gin_trgm_ops);
            CREATE INDEX ix_students_full_name_trgm ON students
              USING gin (student_full_name(first_name, last_name) gin_trgm_ops);
          END IF;
        END $$;
        """
    )

    # version/updated_at maintenance. Undo of a merge restores before-images byte for byte, so it
    # sets classhub.restoring = 'on' for its transaction and the trigger leaves the row alone.
    op.execute(
        """
        CREATE FUNCTION classhub_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF coalesce(current_setting('classhub.restoring', true), '') = 'on' THEN
            RETURN NEW;
          END IF;
          NEW.version := OLD.version + 1;
          IF TG_ARGV[0] = 'touch' THEN
            NEW.updated_at := now();
          END IF;
          RETURN NEW;
        END $$
        """
    )
    for table in VERSIONED_TABLES:
        touch = "touch" if table in UPDATED_AT_TABLES else "keep"
        op.execute(
            f"CREATE TRIGGER trg_{table}_version BEFORE UPDATE ON {table} FOR EACH ROW "
            f"WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION classhub_bump_version('{touch}')"
        )

    op.execute(
        """
        CREATE FUNCTION classhub_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Rows of this table are history; add a new row instead.';
        END $$
        """
    )
    # Who really wrote an audit row: a database-kind row's actor is the login itself, and the time is
    # the server's. (A superuser, who could disable triggers anyway, may backfill history.)
    op.execute(
        """
        CREATE FUNCTION classhub_stamp_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.db_login := session_user;
          IF NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) THEN
            NEW.occurred_at := now();
            IF NEW.actor_kind = 'database' THEN
              NEW.actor := session_user;
            END IF;
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER trg_audit_log_stamp BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION classhub_stamp_audit_row()"
    )
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER trg_{table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION classhub_reject_change()"
        )
        op.execute(
            f"CREATE TRIGGER trg_{table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION classhub_reject_change()"
        )

    # Roles are cluster-wide: create them only when missing, so a second database in the same
    # cluster migrates too (and two migrations racing each other do not fail).
    for role in ROLES:
        op.execute(
            f"""
            DO $$
            BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN;
              END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
              NULL;
            END $$;
            """
        )
    all_roles = ", ".join(ROLES)
    # Only the schema's owner creates objects (CVE-2018-1058; the default before PostgreSQL 15).
    op.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {all_roles}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {all_roles}")
    op.execute("GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO classhub_admin")
    op.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO classhub_admin, classhub_support")
    for table in SUPPORT_WRITABLE:
        op.execute(f"GRANT INSERT, UPDATE, DELETE ON {table} TO classhub_support")
    # Tables created by later migrations get the same baseline (each migration narrows as needed).
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {all_roles}")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT INSERT, UPDATE, DELETE ON TABLES TO classhub_admin")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO classhub_admin, classhub_support"
    )
    # The migration gate must not be fakeable: only the owner writes the schema version.
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {all_roles}")
    # The token ledger is history: rows are re-pointed by merges, never deleted.
    op.execute(f"REVOKE DELETE ON token_transactions FROM {all_roles}")
    for table in APPEND_ONLY_TABLES:
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {all_roles}")
        op.execute(f"GRANT INSERT ON {table} TO classhub_admin, classhub_support")
    # Password hashes are readable by administrators only.
    op.execute("REVOKE SELECT ON app_users FROM classhub_support, classhub_readonly")
    op.execute(f"GRANT SELECT ({APP_USERS_PUBLIC_COLUMNS}) ON app_users TO classhub_support, classhub_readonly")
    op.execute("REVOKE SELECT ON api_idempotency_keys FROM classhub_readonly")
    op.execute(f"GRANT EXECUTE ON FUNCTION student_search_key(text, text, text, text, text) TO {all_roles}")
    op.execute(f"GRANT EXECUTE ON FUNCTION student_full_name(text, text) TO {all_roles}")


def _drop_database_objects() -> None:
    # Roles stay: they are cluster-wide and other ClassHub databases may use them.
    op.execute("DROP INDEX IF EXISTS ix_students_search_trgm")
    op.execute("DROP INDEX IF EXISTS ix_students_full_name_trgm")
    op.execute("DROP TRIGGER IF EXISTS trg_audit_log_stamp ON audit_log")
    for table in APPEND_ONLY_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_no_truncate ON {table}")
    for table in VERSIONED_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_version ON {table}")


def _drop_functions() -> None:
    op.execute("DROP FUNCTION IF EXISTS classhub_reject_change()")
    op.execute("DROP FUNCTION IF EXISTS classhub_stamp_audit_row()")
    op.execute("DROP FUNCTION IF EXISTS classhub_bump_version()")
    op.execute("DROP FUNCTION IF EXISTS student_search_key(text, text, text, text, text)")
    op.execute("DROP FUNCTION IF EXISTS student_full_name(text, text)")
