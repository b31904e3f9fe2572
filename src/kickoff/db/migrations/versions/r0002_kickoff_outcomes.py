"""Kick-off outcomes: how each booked kick-off went, recorded by staff after the run completed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kickoff_outcomes",
        sa.Column("onboarding_id", sa.String(100), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("segment", sa.String(16), nullable=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("onboarding_id", "cycle", name=op.f("pk_kickoff_outcomes")),
    )


def downgrade() -> None:
    op.drop_table("kickoff_outcomes")
