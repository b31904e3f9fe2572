"""Kickoff's database in the tests: a migrated SQLite file, or a fresh database on a real
PostgreSQL server that the suite starts itself (Debian's package, via pytest-postgresql)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy
from alembic import command
from pytest_postgresql.executors import PostgreSQLExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.db import Database
from kickoff.db.migrate import alembic_config
from kickoff.mailcatcher import free_port

PG_USER = "postgres"


def migrated_sqlite(path: Path) -> Database:
    """A SQLite file at ``path`` at the newest schema (migrated synchronously: usable in
    plain fixtures and in subprocess workers alike)."""
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    engine.dispose()
    return Database(f"sqlite+aiosqlite:///{path}")


def mail_with_own_ledger(host: str, port: int, ledger_file: Path, **smtp: Any) -> MailActivities:
    """Mail activities for a test's own worker: SMTP at ``host:port``, a fresh SQLite ledger."""
    return MailActivities(
        SmtpConfig(host, port, "Kickoff <kickoff@test.example>", **smtp),
        MailLedger(migrated_sqlite(ledger_file)),
    )


def pg_ctl() -> str:
    """Debian keeps PostgreSQL's server programs out of PATH, under its major version."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if found:
        return str(found[-1])
    on_path = shutil.which("pg_ctl")
    if on_path is None:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs Debian's postgresql")
    return on_path


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int

    def url(self, dbname: str) -> str:
        return f"postgresql+asyncpg://{PG_USER}@{self.host}:{self.port}/{dbname}"

    @contextmanager
    def new_database(self) -> Iterator[str]:
        """A fresh, empty database for one test, dropped afterwards; yields its URL."""
        dbname = f"kickoff_{uuid.uuid4().hex[:12]}"
        with DatabaseJanitor(user=PG_USER, host=self.host, port=self.port, dbname=dbname):
            yield self.url(dbname)


def start_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server on a free port in a temporary folder, for the whole session.

    PostgreSQL refuses to run as root (CI and our machines run the suite as root): then
    pg_ctl runs as the ``postgres`` user the Debian package creates, in a folder it owns."""
    folder = Path(tempfile.mkdtemp(prefix="kickoff-pg-"))
    executable = pg_ctl()
    if os.geteuid() == 0:
        wrapper = folder / "pg_ctl"
        wrapper.write_text(f'#!/bin/sh\nexec runuser -u postgres -- "{executable}" "$@"\n', encoding="utf-8")
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
        shutil.chown(folder, user="postgres")
        folder.chmod(0o755)  # runuser's postgres must reach the wrapper and the data folder
        executable = str(wrapper)
    executor = PostgreSQLExecutor(
        executable=executable,
        host="127.0.0.1",
        port=free_port(),
        datadir=str(folder / "data"),
        unixsocketdir=str(folder),
        logfile=str(folder / "postgresql.log"),
        startparams="-w",
        dbname="kickoff_tests",
        user=PG_USER,
        postgres_options="-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
    )
    try:
        with executor:
            executor.wait_for_postgres()
            yield PostgresServer(executor.host, executor.port)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
