"""Alembic's migrations build exactly the schema the code uses, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from kickoff.db import Database, migrate
from kickoff.db.migrate import current_revision, head_revision, is_migrated
from kickoff.db.schema import metadata


async def test_the_migrated_schema_matches_the_code(database: Database) -> None:
    """No table, column or index of kickoff.db.schema is missing from (or extra in) the migrations."""

    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_migrating_twice_is_harmless_and_leaves_the_head(database: Database) -> None:
    await migrate(database)
    assert await current_revision(database) == head_revision()
    assert await is_migrated(database)


async def test_an_empty_database_is_not_migrated(tmp_path) -> None:
    empty = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}")
    try:
        assert await current_revision(empty) is None
        assert not await is_migrated(empty)
    finally:
        await empty.dispose()
