"""the expert jury: jury_assignments (an application given to a juror: assigned, scored
or declined with a reason), jury_scores (1-5 per criterion, with a comment) and
calls.review_deadline

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import workflow.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

UTC = workflow.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("review_deadline", sa.Date(), nullable=True))
    op.create_table(
        "jury_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("juror_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("assigned_at", UTC(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=True),
        sa.Column("declined_at", UTC(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("scored_at", UTC(timezone=True), nullable=True),
        sa.Column("recommendation", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_jury_assignments_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["juror_id"], ["users.id"], name=op.f("fk_jury_assignments_juror_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by"], ["users.id"], name=op.f("fk_jury_assignments_assigned_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jury_assignments")),
        sa.UniqueConstraint(
            "application_id", "juror_id", name=op.f("uq_jury_assignments_application_id")
        ),
    )
    op.create_index(
        op.f("ix_jury_assignments_application_id"), "jury_assignments", ["application_id"]
    )
    op.create_index(op.f("ix_jury_assignments_juror_id"), "jury_assignments", ["juror_id"])
    op.create_table(
        "jury_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(length=60), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["jury_assignments.id"],
            name=op.f("fk_jury_scores_assignment_id_jury_assignments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jury_scores")),
        sa.UniqueConstraint(
            "assignment_id", "criterion", name=op.f("uq_jury_scores_assignment_id")
        ),
    )
    op.create_index(op.f("ix_jury_scores_assignment_id"), "jury_scores", ["assignment_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_jury_scores_assignment_id"), table_name="jury_scores")
    op.drop_table("jury_scores")
    op.drop_index(op.f("ix_jury_assignments_juror_id"), table_name="jury_assignments")
    op.drop_index(op.f("ix_jury_assignments_application_id"), table_name="jury_assignments")
    op.drop_table("jury_assignments")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("review_deadline")
