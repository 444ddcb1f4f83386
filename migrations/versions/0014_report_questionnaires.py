"""progress reports as questionnaires: reports.questionnaire and reports.answers (the
draft), report_versions (each submitted version with the Institute's comments per
section) and report_files (supporting documents)

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-10 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import workflow.models

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

UTC = workflow.models.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("questionnaire", sa.String(32), nullable=True))
        batch.add_column(sa.Column("answers", sa.JSON(), server_default="{}", nullable=False))
    op.create_table(
        "report_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("questionnaire", sa.String(32), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("submitted_at", UTC(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("comments", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("decided_at", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_report_versions_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_versions")),
        sa.UniqueConstraint("report_id", "number", name=op.f("uq_report_versions_report_id")),
    )
    op.create_index(op.f("ix_report_versions_report_id"), "report_versions", ["report_id"])
    op.create_table(
        "report_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("city_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("stored_name", sa.String(100), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_at", UTC(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("removed_at", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_report_files_report_id_reports")
        ),
        sa.ForeignKeyConstraint(
            ["city_id"], ["cities.id"], name=op.f("fk_report_files_city_id_cities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_files")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_report_files_stored_name")),
    )
    op.create_index(op.f("ix_report_files_report_id"), "report_files", ["report_id"])
    op.create_index(op.f("ix_report_files_city_id"), "report_files", ["city_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_report_files_city_id"), table_name="report_files")
    op.drop_index(op.f("ix_report_files_report_id"), table_name="report_files")
    op.drop_table("report_files")
    op.drop_index(op.f("ix_report_versions_report_id"), table_name="report_versions")
    op.drop_table("report_versions")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("answers")
        batch.drop_column("questionnaire")
