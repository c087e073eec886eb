"""submissions sync index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

GET /api/v1/submissions pages by (updated_at, id) so offline clients can sync with a high-water mark;
without this index every page sorts all visible uploads.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_student_uploads_updated_at_id", "student_uploads", ["updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_student_uploads_updated_at_id", table_name="student_uploads")
