"""The tables Kickoff keeps beside Temporal, as SQLAlchemy Core metadata.

Alembic's migrations (``kickoff/db/migrations``) create them; this module is what the code
reads and writes through, and a test checks that the migrated schema matches it.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

metadata = MetaData(
    # Stable constraint names, so later migrations can refer to them on every backend.
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

mail_ledger = Table(
    "mail_ledger",
    metadata,
    Column("message_id", String(255), primary_key=True),
    # claimed → data_started → sent, or failed; see kickoff.activities.ledger.
    Column("state", String(16), nullable=False),
    # The attempt holding the claim: only it may move the mail on to data_started.
    Column("claimant", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

kickoff_outcomes = Table(
    "kickoff_outcomes",
    metadata,
    # One outcome per cycle of an onboarding: a second one is refused by the key.
    Column("onboarding_id", String(100), primary_key=True),
    Column("cycle", Integer, primary_key=True),
    Column("pipeline", String(64), nullable=False),
    # completed, no_show or rescheduled; segment and owner (the advisor) only for completed.
    Column("outcome", String(16), nullable=False),
    Column("segment", String(16)),
    Column("owner", String(200)),
    # Who recorded it: the board's staff name, "board" without one, "api" for an API key.
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
"""How each booked kick-off went: CRM data about the customer, kept beside the (completed) run."""
