"""A durable, shared record of where each Message-ID's delivery stands.

Why it exists: Temporal runs an activity *at least* once. If a worker dies after the SMTP
server accepted a mail but before the activity's completion reached Temporal, the activity
runs again; without a record of its own it would send the mail a second time. The record
lives in Kickoff's database, so every worker on every host sees the same one.

The states, each committed (durably) before the step it guards:

1. ``claimed`` before talking to SMTP, by one attempt (its ``claimant`` token). Nothing has
   been handed over yet: a later attempt that finds only a claim may take it over and send.
   The earlier attempt, if it is in fact still alive, then loses step 2 and sends nothing.
2. ``data_started`` just before DATA, only by the attempt that holds the claim. From here
   the server may have the mail: a later attempt gives this one time to finish, and if it
   never does, the delivery is genuinely unknown; the workflow asks staff to check instead
   of guessing (the rule is "never twice").
3. ``sent`` once the server accepted the message; a later attempt returns without sending.

``failed`` (the server refused DATA) delivered nothing, like a released claim: a later
attempt may send. A failure or cancellation before DATA deletes the claim.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import delete, select, update

from kickoff.db import Database
from kickoff.db.database import insert_if_absent, utc_aware
from kickoff.db.schema import mail_ledger

LedgerState = Literal["claimed", "data_started", "sent", "failed"]


@dataclass(frozen=True)
class LedgerEntry:
    message_id: str
    state: LedgerState
    updated_at: datetime


def new_claimant() -> str:
    """A token for one attempt's claim."""
    return uuid.uuid4().hex


class MailLedger:
    """The ledger's transitions, one atomic statement each (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def claim(self, message_id: str, claimant: str) -> LedgerEntry | None:
        """Claim ``message_id`` for ``claimant`` (None), or return the entry that forbids it.

        A fresh row, a bare claim (whose holder provably sent nothing) and a failed send
        can all be claimed; ``data_started`` and ``sent`` cannot."""
        now = _now()
        async with self.database.engine.begin() as db:
            inserted = await db.execute(
                insert_if_absent(
                    self.database.dialect,
                    mail_ledger,
                    {"message_id": message_id, "state": "claimed", "claimant": claimant, "updated_at": now},
                )
            )
            if inserted.rowcount == 1:
                return None
            taken_over = await db.execute(
                update(mail_ledger)
                .where(mail_ledger.c.message_id == message_id, mail_ledger.c.state.in_(("claimed", "failed")))
                .values(state="claimed", claimant=claimant, updated_at=now)
            )
            if taken_over.rowcount == 1:
                return None
            row = (
                await db.execute(
                    select(mail_ledger.c.state, mail_ledger.c.updated_at).where(
                        mail_ledger.c.message_id == message_id
                    )
                )
            ).one_or_none()
        if row is None:  # released between our insert and update: try again
            return await self.claim(message_id, claimant)
        return LedgerEntry(message_id, row.state, utc_aware(row.updated_at))

    async def start_data(self, message_id: str, claimant: str) -> bool:
        """Record that DATA is about to start; False if this attempt no longer holds the claim."""
        return await self._move(message_id, "data_started", claimant=claimant, from_state="claimed")

    async def mark_sent(self, message_id: str) -> None:
        await self._move(message_id, "sent", from_state="data_started")

    async def mark_failed(self, message_id: str, claimant: str) -> None:
        """The server refused DATA: nothing was delivered, a later attempt may send."""
        await self._move(message_id, "failed", claimant=claimant, from_state="data_started")

    async def release(self, message_id: str, claimant: str) -> None:
        """Forget this attempt's claim (it sent nothing), so a retry may send."""
        async with self.database.engine.begin() as db:
            await db.execute(
                delete(mail_ledger).where(
                    mail_ledger.c.message_id == message_id,
                    mail_ledger.c.claimant == claimant,
                    mail_ledger.c.state == "claimed",
                )
            )

    async def get(self, message_id: str) -> LedgerEntry | None:
        async with self.database.engine.connect() as db:
            row = (
                await db.execute(
                    select(mail_ledger.c.state, mail_ledger.c.updated_at).where(
                        mail_ledger.c.message_id == message_id
                    )
                )
            ).one_or_none()
        return LedgerEntry(message_id, row.state, utc_aware(row.updated_at)) if row else None

    async def _move(
        self, message_id: str, state: LedgerState, *, from_state: LedgerState, claimant: str | None = None
    ) -> bool:
        condition = [mail_ledger.c.message_id == message_id, mail_ledger.c.state == from_state]
        if claimant is not None:
            condition.append(mail_ledger.c.claimant == claimant)
        async with self.database.engine.begin() as db:
            moved = await db.execute(
                update(mail_ledger).where(*condition).values(state=state, updated_at=_now())
            )
        return moved.rowcount == 1


def _now() -> datetime:
    return datetime.now(UTC)


LEGACY_LEDGER = "mail-ledger.sqlite3"
"""The file earlier releases kept on each worker host (in KICKOFF_DATA_DIR)."""


async def import_legacy_ledger(path: Path, ledger: MailLedger) -> int:
    """Copy an earlier release's per-host ledger file into the database; returns rows copied.

    Its ``sent`` rows must survive the upgrade: a retry of a mail sent just before it would
    otherwise send again. Its ``claimed`` rows meant "delivery unknown" (that ledger had no
    data_started), so they become data_started, never a claim a retry could take. Rows the
    database already has win. Idempotent."""
    with sqlite3.connect(path) as legacy:
        rows = legacy.execute("SELECT message_id, state, updated_at FROM mail_ledger").fetchall()
    copied = 0
    async with ledger.database.engine.begin() as db:
        for message_id, state, updated_at in rows:
            values = {
                "message_id": message_id,
                "state": "sent" if state == "sent" else "data_started",
                "claimant": "imported",
                "updated_at": utc_aware(datetime.fromisoformat(updated_at)),
            }
            copied += (
                await db.execute(insert_if_absent(ledger.database.dialect, mail_ledger, values))
            ).rowcount
    return copied
