"""The staff accounts every test server has: one per role, with one known password.

Hashing with Argon2 takes a third of a second, so the hash is made once per test process and
the rows are written straight into each test database.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy
from pwdlib import PasswordHash

from kickoff.db.schema import staff_accounts

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class StaffAccount:
    email: str
    name: str
    role: str


STAFF = StaffAccount("anna@assist.example", "Anna Test", "staff")
ADMIN = StaffAccount("admin@assist.example", "Ada Admin", "admin")
VIEWER = StaffAccount("viewer@assist.example", "Vera Viewer", "viewer")
ADVISOR = StaffAccount("sara@assist.example", "Sara Lind", "staff")
ACCOUNTS = (STAFF, ADMIN, VIEWER, ADVISOR)


@functools.cache
def _password_hash() -> str:
    return PasswordHash.recommended().hash(PASSWORD)


def seed_accounts(sqlite_file: Path) -> None:
    """Write the test accounts into a migrated SQLite file (idempotent)."""
    engine = sqlalchemy.create_engine(f"sqlite:///{sqlite_file}")
    with engine.begin() as connection:
        for account in ACCOUNTS:
            exists = connection.execute(
                sqlalchemy.select(staff_accounts.c.id).where(staff_accounts.c.email == account.email)
            ).first()
            if exists is None:
                connection.execute(
                    staff_accounts.insert().values(
                        id=uuid.uuid4().hex,
                        email=account.email,
                        name=account.name,
                        role=account.role,
                        password_hash=_password_hash(),
                        created_at=datetime.now(UTC),
                    )
                )
    engine.dispose()
