"""A durable record of which Message-IDs the mail activity has handed to SMTP.

Why it exists: Temporal runs an activity *at least* once. If a worker dies
after the SMTP server accepted a mail but before the activity's completion
reached Temporal, the activity runs again. Without a record of its own it
would send the mail a second time.

The protocol (two rows states, each committed with fsync before moving on):

1. ``claim`` before talking to SMTP. A fresh claim means "not sent yet".
2. ``mark_sent`` as soon as the SMTP server accepted the message.

A later attempt that finds ``sent`` returns without sending (the crash was
between "sent" and "recorded"). One that finds only ``claimed`` cannot know
whether the server got the mail (the crash was during DATA): it refuses
to guess, because the rule is "never twice", and the workflow asks staff to
check instead. A failure or cancellation before DATA, or a refusal in reply
to DATA, certainly delivered nothing: it releases the claim, so ordinary
retries still send.

SQLite on a local path serves one worker host; several hosts need a shared
store behind the same three methods.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

LedgerState = Literal["claimed", "sent"]


@dataclass(frozen=True)
class LedgerEntry:
    message_id: str
    state: LedgerState
    updated_at: str


class MailLedger:
    """Claim / sent / release records keyed by Message-ID (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS mail_ledger ("
                " message_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA synchronous=FULL")
        return db

    def _claim(self, message_id: str) -> LedgerEntry | None:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT state, updated_at FROM mail_ledger WHERE message_id = ?", (message_id,)
            ).fetchone()
            if row is not None:
                db.execute("COMMIT")
                return LedgerEntry(message_id, row[0], row[1])
            db.execute("INSERT INTO mail_ledger VALUES (?, 'claimed', ?)", (message_id, _now()))
            db.execute("COMMIT")
            return None

    def _set(self, message_id: str, state: LedgerState) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE mail_ledger SET state = ?, updated_at = ? WHERE message_id = ?",
                (state, _now(), message_id),
            )

    def _release(self, message_id: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM mail_ledger WHERE message_id = ? AND state = 'claimed'", (message_id,))

    def _get(self, message_id: str) -> LedgerEntry | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT state, updated_at FROM mail_ledger WHERE message_id = ?", (message_id,)
            ).fetchone()
        return LedgerEntry(message_id, row[0], row[1]) if row else None

    async def claim(self, message_id: str) -> LedgerEntry | None:
        """Claim ``message_id``; returns the existing entry instead if there is one."""
        return await asyncio.to_thread(self._claim, message_id)

    async def mark_sent(self, message_id: str) -> None:
        await asyncio.to_thread(self._set, message_id, "sent")

    async def release(self, message_id: str) -> None:
        """Forget a claim whose send certainly failed, so a retry may send."""
        await asyncio.to_thread(self._release, message_id)

    async def get(self, message_id: str) -> LedgerEntry | None:
        return await asyncio.to_thread(self._get, message_id)


def _now() -> str:
    return datetime.now(UTC).isoformat()
