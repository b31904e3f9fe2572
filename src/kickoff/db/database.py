"""One async engine per process, for SQLite (embedded) or PostgreSQL (production, tests)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.dml import Insert

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""Several processes (worker, API) share the embedded file: wait for a writer, do not fail."""


def utc_aware(moment: datetime) -> datetime:
    """A moment read back from the database, as an aware UTC datetime: SQLite hands back naive
    datetimes (Kickoff writes them in UTC), PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def dialect_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which has ON CONFLICT (both dialects spell it the same way)."""
    match dialect:
        case "postgresql":
            return postgresql.insert(table)
        case "sqlite":
            return sqlite.insert(table)
        case other:
            raise ValueError(f"Kickoff's database runs on SQLite or PostgreSQL, not {other}")


def insert_if_absent(dialect: str, table: Table, values: Mapping[str, object]) -> Insert:
    """INSERT that leaves an existing row of the same key as it is (rowcount 0)."""
    return dialect_insert(dialect, table).values(values).on_conflict_do_nothing()


class Database:
    """The engine for ``url`` (``sqlite+aiosqlite:///…`` or ``postgresql+asyncpg://…``)."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.engine: AsyncEngine = _engine(url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()


def _engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pool_pre_ping: a connection the server closed (restart, failover) is replaced, not
        # handed to a mail activity to fail on.
        return create_async_engine(url, pool_pre_ping=True)
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # NullPool: a connection per use, closed after it. Opening a SQLite file is cheap, and no
    # pooled connection outlives its event loop or hides a write from another process.
    engine = create_async_engine(
        url, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets readers go on while one process writes; FULL makes each commit durable
        # before it returns (the mail ledger's promise rests on that).
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine
