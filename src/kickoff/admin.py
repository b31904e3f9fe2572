"""``kickoff-admin``: operator commands beside the API and the worker.

``kickoff-admin migrate`` brings Kickoff's database (KICKOFF_DATABASE_URL) to the newest
schema. It is idempotent: compose runs it once before the API and workers start, ``make
run`` on every start. If the data folder still holds an earlier release's per-host mail
ledger, it copies it into the database too (``import-mail-ledger`` does that for a file
elsewhere, e.g. one per former worker host).

``kickoff-admin rebuild-read-model`` rebuilds the staff views' read model from Temporal, the
source of truth, and brings runs started before the read model existed onto it: run it once
after upgrading to the release that introduced it, and whenever the read model is in doubt.

Staff accounts and tokens: ``create-user``, ``create-token``, ``disable-user``, ``enable-user``,
``ensure-first-admin`` (see ``kickoff.admin_accounts``).

``kickoff-admin pipeline-impact FILE`` is a dry run of an edited pipelines file: for each pipeline
whose version it changes, the running onboardings by their current version and stage, and what
adopting the file's version would change for each (``--json`` for the same as data). Nothing is
changed; ``POST /pipelines/{id}/migrate`` or the board's Pipelines page moves them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from temporalio.service import RPCError

from kickoff import admin_accounts
from kickoff.activities.ledger import LEGACY_LEDGER, MailLedger, import_legacy_ledger
from kickoff.crypto.fields import sealer_of
from kickoff.db import Database, migrate
from kickoff.db.migrate import current_revision
from kickoff.db.read_model import ReadModelStore
from kickoff.engine.migration import describe
from kickoff.pipelines import PipelineCatalog, PipelineError, load_pipelines
from kickoff.readmodel.from_temporal import RebuildResult, rebuild
from kickoff.service.migration import PipelineImpact, impacts_of
from kickoff.settings import get_settings
from kickoff.temporal import connect, deployment_scope


async def _migrate() -> str | None:
    database = Database(get_settings().database_url)
    try:
        await migrate(database)
        return await current_revision(database)
    finally:
        await database.dispose()


async def _import_file(path: Path) -> int:
    database = Database(get_settings().database_url)
    try:
        await migrate(database)
        return await import_legacy_ledger(path, MailLedger(database))
    finally:
        await database.dispose()


def _import_and_set_aside(path: Path) -> None:
    copied = asyncio.run(_import_file(path))
    # Renamed, not deleted: the file stays for an audit, and is not imported on every start.
    path.rename(path.with_name(path.name + ".imported"))
    print(f"kickoff-admin: copied {copied} mail ledger rows from {path.name}")


class TemporalUnreachableError(Exception):
    """No Temporal frontend answers at KICKOFF_TEMPORAL_ADDRESS."""


async def _rebuild(clear: bool) -> RebuildResult:
    settings = get_settings()
    database = Database(settings.database_url)
    try:
        await migrate(database)
        try:
            client = await connect()
        except RuntimeError:  # the SDK's "Failed client connect", whatever the cause
            raise TemporalUnreachableError from None
        store = ReadModelStore(database, sealer_of(client.data_converter))
        return await rebuild(client, store, settings.task_queue, clear=clear)
    finally:
        await database.dispose()


async def _pipeline_impact(catalog: PipelineCatalog) -> list[PipelineImpact]:
    settings = get_settings()
    try:
        client = await connect()
    except RuntimeError:  # the SDK's "Failed client connect", whatever the cause
        raise TemporalUnreachableError from None
    return await impacts_of(client, deployment_scope(settings.task_queue), catalog, datetime.now(UTC))


def impact_lines(source: str, catalog: PipelineCatalog, found: list[PipelineImpact]) -> Iterator[str]:
    """``pipeline-impact`` for people: per pipeline, its running onboardings on other versions
    grouped by version and stage, and per onboarding whether it can adopt and what changes."""
    yield f"Impact of {source} on running onboardings (dry run: nothing is changed)"
    for pipeline in found:
        tz = catalog.pipelines[pipeline.pipeline].timezone
        results = pipeline.results
        yield ""
        if not results:
            yield f"{pipeline.pipeline} -> {pipeline.to_version}: no running onboarding on another version"
            continue
        adopt = sum(result.outcome == "can_adopt" for result in results)
        yield (
            f"{pipeline.pipeline} -> {pipeline.to_version}: {len(results)} running onboarding(s) on "
            f"other versions, {adopt} can adopt it"
        )
        group: tuple[str | None, str | None] | None = None
        for result in results:
            if (result.from_version, result.stage) != group:
                group = (result.from_version, result.stage)
                size = sum((r.from_version, r.stage) == group for r in results)
                yield f"  version {result.from_version or '?'}, stage {result.stage or '?'}: {size}"
            verdict = {
                "can_adopt": "can adopt",
                "cannot_adopt": f"cannot adopt: {result.reason}",
                "failed": f"could not be asked: {result.reason}",
            }.get(result.outcome, result.outcome)
            yield f"    {result.onboarding_id}: {verdict}"
            changes = describe(result.impact, tz) if result.impact is not None else []
            yield from (f"      {line}" for line in changes)
            if result.impact is not None and not changes:
                yield "      nothing it still owes changes"


def _print_pipeline_impact(path: Path, as_json: bool) -> int:
    try:
        catalog = load_pipelines(path)
    except PipelineError as err:
        print(f"kickoff-admin: {err}", file=sys.stderr)
        return 2
    found = asyncio.run(_pipeline_impact(catalog))
    if as_json:
        print(
            json.dumps([pipeline.model_dump(mode="json") for pipeline in found], indent=2, ensure_ascii=False)
        )
    else:
        print("\n".join(impact_lines(path.name, catalog, found)))
    unanswered = [r.onboarding_id for p in found for r in p.results if r.outcome == "failed"]
    if unanswered:
        print(
            f"kickoff-admin: {len(unanswered)} running onboardings did not answer (is a worker up?): "
            + ", ".join(unanswered[:20]),
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except TemporalUnreachableError:
        print("kickoff-admin: Temporal did not answer (KICKOFF_TEMPORAL_ADDRESS)", file=sys.stderr)
        return 1
    except RPCError as exc:
        print(f"kickoff-admin: Temporal did not answer ({exc.status.name})", file=sys.stderr)
        return 1
    except (OSError, SQLAlchemyError) as exc:
        # Only the kind of failure: the URL (and a driver's message quoting it) may hold a password.
        print(f"kickoff-admin: the database did not answer ({type(exc).__name__})", file=sys.stderr)
        return 1


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="kickoff-admin", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the database migrations (idempotent)")
    importing = commands.add_parser(
        "import-mail-ledger", help="copy an earlier release's mail-ledger.sqlite3 into the database"
    )
    importing.add_argument("path", type=Path)
    rebuilding = commands.add_parser(
        "rebuild-read-model", help="rebuild the staff views' read model from Temporal (idempotent)"
    )
    rebuilding.add_argument("--clear", action="store_true", help="empty the read model first")
    impact = commands.add_parser(
        "pipeline-impact",
        help="dry run: what a pipelines file would change for the running onboardings (nothing changes)",
    )
    impact.add_argument("file", type=Path, help="the edited pipelines file")
    impact.add_argument("--json", action="store_true", help="print the impact as JSON")
    admin_accounts.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command in admin_accounts.COMMANDS:
        return admin_accounts.run_command(args)
    match args.command:
        case "migrate":
            revision = asyncio.run(_migrate())
            legacy = get_settings().data_dir / LEGACY_LEDGER
            if legacy.exists():
                _import_and_set_aside(legacy)
            # The URL may hold a password: say where the schema is, not where the database is.
            print(f"kickoff-admin: database at revision {revision}")
            return 0
        case "import-mail-ledger":
            if not args.path.is_file():
                parser.error(f"no such file: {args.path}")
            _import_and_set_aside(args.path)
            return 0
        case "rebuild-read-model":
            result = asyncio.run(_rebuild(args.clear))
            print(
                f"kickoff-admin: read model rebuilt: {result.stored} onboardings stored, "
                f"{result.joined} running runs told to keep it current, {result.removed} rows removed"
            )
            if result.failed:
                # Ids only: they carry no personal data, and ops needs them to look.
                print(
                    f"kickoff-admin: {len(result.failed)} runs did not answer (is a worker up?): "
                    + ", ".join(sorted(result.failed)[:20]),
                    file=sys.stderr,
                )
                return 1
            return 0
        case "pipeline-impact":
            return _print_pipeline_impact(args.file, args.json)
        case _:  # argparse refuses unknown commands before this
            parser.error(f"unknown command {args.command}")


def run() -> None:
    """The console script: exit without interpreter finalization, where the Temporal runtime's
    native threads could still call into Python and abort the process (as the worker does)."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
