"""The tables Kickoff keeps beside Temporal, as SQLAlchemy Core metadata.

Alembic's migrations (``kickoff/db/migrations``) create them; this module is what the code
reads and writes through, and a test checks that the migrated schema matches it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

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

# ---------------------------------------------------------------- the read model
# What the staff views read (kickoff.readmodel): written by each run after its state changed,
# rebuilt from Temporal by ``kickoff-admin rebuild-read-model``. Temporal stays the truth.

read_onboardings = Table(
    "read_onboardings",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("run_id", String(64), nullable=False),
    # Order of one onboarding's writes: a lower revision never replaces a higher one.
    Column("revision", BigInteger, nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("pipeline", String(64), nullable=False),
    Column("pipeline_version", String(64), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("stage_label", String(200), nullable=False),
    Column("stage_entered_at", DateTime(timezone=True), nullable=False),
    # running or completed; terminated, failed or timed_out when ops ended the run.
    Column("status", String(16), nullable=False),
    Column("customer", String(200), nullable=False),
    Column("next_step", String(200)),
    Column("next_step_at", DateTime(timezone=True)),
    Column("open_tasks", Integer, nullable=False),
    # The owner role of each open task, as a JSON list (the board's role filter).
    Column("open_task_roles", JSON, nullable=False),
    Column("awaiting_outcome", Boolean, nullable=False),
    Column("outcome", String(16)),
    Column("segment", String(16)),
    Column("window_start", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_read_onboardings_pipeline_status_stage", "pipeline", "status", "stage"),
)

read_tasks = Table(
    "read_tasks",
    metadata,
    Column("id", String(120), primary_key=True),
    Column("onboarding_id", String(100), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("title", String(500), nullable=False),
    Column("owner", String(16), nullable=False),
    Column("owner_role", String(64)),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("stage", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("blocks_completion", Boolean, nullable=False),
    # The inbox's order (soonest due first) is also its paging key.
    Index("ix_read_tasks_due_at_id", "due_at", "id"),
)
"""Open tasks only; done ones are in their run's state."""

read_visits = Table(
    "read_visits",
    metadata,
    Column("onboarding_id", String(100), primary_key=True),
    Column("cycle", Integer, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("stage", String(64), nullable=False),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("left_at", DateTime(timezone=True)),
)

read_anchors = Table(
    "read_anchors",
    metadata,
    Column("onboarding_id", String(100), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    # The anchor's local date (YYYY-MM-DD) in its pipeline's timezone: what targets in
    # business days count from.
    Column("day", String(10), nullable=False),
)
"""Each onboarding's anchors (signed_at, entered:<stage>, last_contact, ...): compliance reports."""

read_records = Table(
    "read_records",
    metadata,
    Column("onboarding_id", String(100), primary_key=True),
    Column("record", String(200), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("logged_at", DateTime(timezone=True)),
)
"""One row per payload an event kept under ``record:`` (an opportunity): what record reports count."""

read_record_fields = Table(
    "read_record_fields",
    metadata,
    Column("onboarding_id", String(100), primary_key=True),
    Column("record", String(200), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("field", String(200), primary_key=True),
    # A number field's value, or a choice's (a boolean as true/false); free text and dates
    # are never copied here (they stay in the run, where erasure reaches them).
    Column("number", Float),
    Column("value", Text),
)

# ---------------------------------------------------------------- encryption

data_keys = Table(
    "data_keys",
    metadata,
    # One data key per onboarding: every Temporal payload of its runs is encrypted with it.
    Column("onboarding_id", String(100), primary_key=True),
    # The master key that wrapped it (KICKOFF_ENCRYPTION_KEYS), and the wrapped key itself.
    Column("master_key_id", String(32), nullable=False),
    Column("wrapped", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Erasure destroys the key (wrapped becomes NULL) and keeps when that happened.
    Column("erased_at", DateTime(timezone=True)),
)

# ---------------------------------------------------------------- staff identity (kickoff.identity)

staff_accounts = Table(
    "staff_accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    # Lower-cased; one account per address, whether it signs in locally or by single sign-on.
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    # viewer, staff or admin (kickoff.identity.roles).
    Column("role", String(16), nullable=False),
    # An Argon2 hash (pwdlib); NULL for an account that signs in by single sign-on only.
    Column("password_hash", String(255)),
    # The identity provider's issuer and subject, once the account signed in through it.
    Column("sso_issuer", String(500)),
    Column("sso_subject", String(255)),
    Column("disabled_at", DateTime(timezone=True)),
    # Failed password sign-ins in a row, and until when the account refuses them after too many.
    Column("failed_sign_ins", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_sign_in_at", DateTime(timezone=True)),
    UniqueConstraint("sso_issuer", "sso_subject"),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    # SHA-256 of the cookie's random token: a copy of the table signs nobody in.
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", String(36), ForeignKey("staff_accounts.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Index("ix_staff_sessions_account_id", "account_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    # The token's public part (shown in lists); the secret part is only ever stored hashed.
    Column("id", String(32), primary_key=True),
    Column("account_id", String(36), ForeignKey("staff_accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_api_tokens_account_id", "account_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    # The account that acted (NULL for a service key, named in ``actor``).
    Column("account_id", String(36)),
    Column("actor", String(320), nullable=False),
    Column("action", String(64), nullable=False),
    Column("onboarding_id", String(100)),
    # What was done, without personal data of customers (names, e-mail addresses, notes).
    Column("detail", JSON),
    Index("ix_audit_log_onboarding_id_at", "onboarding_id", "at"),
    Index("ix_audit_log_account_id_at", "account_id", "at"),
)

onboarding_owners = Table(
    "onboarding_owners",
    metadata,
    Column("onboarding_id", String(100), primary_key=True),
    Column("account_id", String(36), ForeignKey("staff_accounts.id", ondelete="CASCADE"), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
)

task_assignments = Table(
    "task_assignments",
    metadata,
    Column("task_id", String(120), primary_key=True),
    Column("onboarding_id", String(100), nullable=False),
    Column("account_id", String(36), ForeignKey("staff_accounts.id", ondelete="CASCADE"), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Index("ix_task_assignments_account_id", "account_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # Whose key (a fingerprint of the credential) and the key itself: two callers never collide.
    Column("principal", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    # Fingerprint of method, path and body: the same key for another request is refused.
    Column("request_hash", String(64), nullable=False),
    # NULL while the first request is in flight.
    Column("status_code", Integer),
    Column("response_headers", JSON),
    Column("response_body", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_idempotency_keys_expires_at", "expires_at"),
)

# ---------------------------------------------------------------- the customer's side

customer_links = Table(
    "customer_links",
    metadata,
    # SHA-256 of the token in the link: a leaked table opens no page.
    Column("token_hash", String(64), primary_key=True),
    Column("onboarding_id", String(100), nullable=False),
    # The token itself, sealed with the onboarding's data key, so every reminder carries the
    # same link; erasing the onboarding's key makes it unreadable.
    Column("token_sealed", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", String(320)),
    Column("last_used_at", DateTime(timezone=True)),
    Index("ix_customer_links_onboarding_id", "onboarding_id"),
    # At most one live link per onboarding: two mails sent at once agree on it.
    Index(
        "uq_customer_links_live_onboarding",
        "onboarding_id",
        unique=True,
        sqlite_where=text("revoked_at IS NULL"),
        postgresql_where=text("revoked_at IS NULL"),
    ),
)
"""The customer's personal links (``/c/{token}``), one live per onboarding."""

bookings = Table(
    "bookings",
    metadata,
    # Also the invitation's UID: a rescheduled meeting keeps it (and raises its sequence).
    Column("id", String(36), primary_key=True),
    Column("onboarding_id", String(100), nullable=False),
    Column("pipeline", String(64), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    # Which of the slot's places (0 .. slots_per_time - 1) it holds: the unique index below
    # is what stops two customers taking the last one.
    Column("place", Integer, nullable=False),
    # held (taking the place, the run not told yet) → booked → cancelled.
    Column("status", String(16), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("booked_by", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_bookings_pipeline_starts_at", "pipeline", "starts_at"),
    Index(
        "uq_bookings_taken_place",
        "pipeline",
        "starts_at",
        "place",
        unique=True,
        sqlite_where=text("status <> 'cancelled'"),
        postgresql_where=text("status <> 'cancelled'"),
    ),
    Index(
        "uq_bookings_live_onboarding",
        "onboarding_id",
        unique=True,
        sqlite_where=text("status <> 'cancelled'"),
        postgresql_where=text("status <> 'cancelled'"),
    ),
)
"""Kick-off meetings customers booked on their page."""

booking_blocks = Table(
    "booking_blocks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline", String(64), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_booking_blocks_pipeline_starts_at", "pipeline", "starts_at"),
)
"""Times staff block on the board: no customer can book into them."""
