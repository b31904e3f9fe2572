"""The read model: onboardings, their open tasks and stage visits, as the staff views read them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-16
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "read_onboardings",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("pipeline_version", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("stage_label", sa.String(200), nullable=False),
        sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("customer", sa.String(200), nullable=False),
        sa.Column("next_step", sa.String(200), nullable=True),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_tasks", sa.Integer(), nullable=False),
        sa.Column("open_task_roles", sa.JSON(), nullable=False),
        sa.Column("awaiting_outcome", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("segment", sa.String(16), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_onboardings")),
    )
    op.create_index(
        "ix_read_onboardings_pipeline_status_stage", "read_onboardings", ["pipeline", "status", "stage"]
    )
    op.create_table(
        "read_tasks",
        sa.Column("id", sa.String(120), nullable=False),
        sa.Column("onboarding_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("owner", sa.String(16), nullable=False),
        sa.Column("owner_role", sa.String(64), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocks_completion", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_tasks")),
    )
    op.create_index(op.f("ix_read_tasks_onboarding_id"), "read_tasks", ["onboarding_id"])
    op.create_index("ix_read_tasks_due_at_id", "read_tasks", ["due_at", "id"])
    op.create_table(
        "read_visits",
        sa.Column("onboarding_id", sa.String(100), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(64), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("onboarding_id", "cycle", "position", name=op.f("pk_read_visits")),
    )


def downgrade() -> None:
    op.drop_table("read_visits")
    op.drop_table("read_tasks")
    op.drop_table("read_onboardings")
