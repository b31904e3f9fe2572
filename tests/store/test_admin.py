"""``kickoff-admin``: migrations from the command line, and the upgrade from a per-host ledger."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from kickoff.activities import MailLedger
from kickoff.db import Database
from kickoff.db.migrate import is_migrated
from tests.support import ROOT


def admin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kickoff.admin", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def legacy_ledger(path: Path, rows: list[tuple[str, str]]) -> None:
    """A mail-ledger.sqlite3 as the release before the database wrote it."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE mail_ledger"
            " (message_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )
        db.executemany("INSERT INTO mail_ledger VALUES (?, ?, '2026-11-30T10:00:00+00:00')", rows)


async def test_migrate_on_a_fresh_data_folder_builds_the_schema_and_copies_the_old_ledger(
    tmp_path: Path,
) -> None:
    """The upgrade path: the data folder still holds the per-host ledger. Its 'sent' rows stay
    sent (no second mail), its bare claims (then: delivery unknown) stay unknown."""
    legacy_ledger(tmp_path / "mail-ledger.sqlite3", [("<a@t>", "sent"), ("<b@t>", "claimed")])
    done = admin("migrate", env={"KICKOFF_DATA_DIR": str(tmp_path), "KICKOFF_DATABASE_URL": ""})
    assert done.returncode == 0, done.stderr
    assert "copied 2 mail ledger rows" in done.stdout
    assert "database at revision" in done.stdout
    assert not (tmp_path / "mail-ledger.sqlite3").exists()
    assert (tmp_path / "mail-ledger.sqlite3.imported").exists()

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'kickoff.sqlite3'}")
    try:
        assert await is_migrated(database)
        ledger = MailLedger(database)
        assert (await ledger.claim("<a@t>", "retry")).state == "sent"  # type: ignore[union-attr]
        assert (await ledger.claim("<b@t>", "retry")).state == "data_started"  # type: ignore[union-attr]
    finally:
        await database.dispose()

    again = admin("migrate", env={"KICKOFF_DATA_DIR": str(tmp_path), "KICKOFF_DATABASE_URL": ""})
    assert again.returncode == 0, again.stderr
    assert "copied" not in again.stdout  # set aside, not imported twice


async def test_import_mail_ledger_into_postgresql_keeps_what_the_database_has(
    postgres, tmp_path: Path
) -> None:
    """One file per former worker host; a row the database already has wins."""
    with postgres.new_database() as url:
        database = Database(url)
        try:
            env = {"KICKOFF_DATABASE_URL": url, "KICKOFF_DATA_DIR": str(tmp_path / "data")}
            assert admin("migrate", env=env).returncode == 0
            ledger = MailLedger(database)
            assert await ledger.claim("<a@t>", "live") is None
            assert await ledger.start_data("<a@t>", "live")
            await ledger.mark_sent("<a@t>")
            legacy_ledger(tmp_path / "host-1.sqlite3", [("<a@t>", "claimed"), ("<c@t>", "sent")])
            done = admin("import-mail-ledger", str(tmp_path / "host-1.sqlite3"), env=env)
            assert done.returncode == 0, done.stderr
            assert "copied 1 mail ledger rows" in done.stdout
            assert (await ledger.get("<a@t>")).state == "sent"  # type: ignore[union-attr]
            assert (await ledger.get("<c@t>")).state == "sent"  # type: ignore[union-attr]
        finally:
            await database.dispose()


def test_import_of_a_missing_file_is_refused_with_a_reason(tmp_path: Path) -> None:
    done = admin(
        "import-mail-ledger", str(tmp_path / "nope.sqlite3"), env={"KICKOFF_DATA_DIR": str(tmp_path)}
    )
    assert done.returncode == 2
    assert "no such file" in done.stderr
    assert not (tmp_path / "kickoff.sqlite3").exists()  # nothing created for a refused command


def test_an_unreachable_database_fails_migrate_without_printing_the_url(tmp_path: Path) -> None:
    """The URL may carry a password: the error names neither it nor the host."""
    url = "postgresql+asyncpg://kickoff:s3cret-pw@127.0.0.1:1/kickoff"
    done = admin("migrate", env={"KICKOFF_DATABASE_URL": url, "KICKOFF_DATA_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert "kickoff-admin: the database did not answer" in done.stderr
    assert "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stdout + done.stderr
