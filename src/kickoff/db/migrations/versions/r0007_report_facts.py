"""The read model's report facts: each onboarding's anchors and the records its events kept.

Empty after the upgrade: runs of this release write them with their snapshots, and
``kickoff-admin rebuild-read-model`` fills them for runs started earlier.

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "read_anchors",
        sa.Column("onboarding_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("onboarding_id", "name", name=op.f("pk_read_anchors")),
    )
    op.create_table(
        "read_records",
        sa.Column("onboarding_id", sa.String(100), nullable=False),
        sa.Column("record", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("onboarding_id", "record", "position", name=op.f("pk_read_records")),
    )
    op.create_table(
        "read_record_fields",
        sa.Column("onboarding_id", sa.String(100), nullable=False),
        sa.Column("record", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(200), nullable=False),
        sa.Column("number", sa.Float(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "onboarding_id", "record", "position", "field", name=op.f("pk_read_record_fields")
        ),
    )


def downgrade() -> None:
    for table in ("read_record_fields", "read_records", "read_anchors"):
        op.drop_table(table)
