"""The customer's side: personal links, booked kick-off meetings and times staff block.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_MOMENT = sa.DateTime(timezone=True)
_NOT_REVOKED = sa.text("revoked_at IS NULL")
_NOT_CANCELLED = sa.text("status <> 'cancelled'")


def upgrade() -> None:
    op.create_table(
        "customer_links",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("onboarding_id", sa.String(100), nullable=False),
        sa.Column("token_sealed", sa.String(500), nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.Column("revoked_at", _MOMENT, nullable=True),
        sa.Column("revoked_by", sa.String(320), nullable=True),
        sa.Column("last_used_at", _MOMENT, nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_customer_links")),
    )
    op.create_index("ix_customer_links_onboarding_id", "customer_links", ["onboarding_id"])
    op.create_index(
        "uq_customer_links_live_onboarding",
        "customer_links",
        ["onboarding_id"],
        unique=True,
        sqlite_where=_NOT_REVOKED,
        postgresql_where=_NOT_REVOKED,
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("onboarding_id", sa.String(100), nullable=False),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("starts_at", _MOMENT, nullable=False),
        sa.Column("ends_at", _MOMENT, nullable=False),
        sa.Column("place", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("booked_by", sa.String(32), nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.Column("updated_at", _MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
    )
    op.create_index("ix_bookings_pipeline_starts_at", "bookings", ["pipeline", "starts_at"])
    op.create_index(
        "uq_bookings_taken_place",
        "bookings",
        ["pipeline", "starts_at", "place"],
        unique=True,
        sqlite_where=_NOT_CANCELLED,
        postgresql_where=_NOT_CANCELLED,
    )
    op.create_index(
        "uq_bookings_live_onboarding",
        "bookings",
        ["onboarding_id"],
        unique=True,
        sqlite_where=_NOT_CANCELLED,
        postgresql_where=_NOT_CANCELLED,
    )
    op.create_table(
        "booking_blocks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("starts_at", _MOMENT, nullable=False),
        sa.Column("ends_at", _MOMENT, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", _MOMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_blocks")),
    )
    op.create_index("ix_booking_blocks_pipeline_starts_at", "booking_blocks", ["pipeline", "starts_at"])


def downgrade() -> None:
    for table in ("booking_blocks", "bookings", "customer_links"):
        op.drop_table(table)
