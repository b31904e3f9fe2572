"""POST /pipelines/{id}/migrate over real HTTP on the dev server: a dry run says what adopting the
current version changes for each running onboarding, a migration moves those that can (timeline,
KickoffPipelineVersion, audit log) and refuses the others with the reason; only admins may.
``kickoff-admin pipeline-impact`` says the same for an edited file from the command line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kickoff import search_attributes as sa
from kickoff.db import Database
from kickoff.identity import AccountStore
from kickoff.identity.tokens import TokenStore
from kickoff.service.migration import running_query
from kickoff.temporal import deployment_scope
from tests.accounts import ADMIN, STAFF, StaffAccount
from tests.api.conftest import PAST_DELIVERY, Kickoff
from tests.migration_support import FIXED, TYPO, Snapshot, current, start_on, variant
from tests.store.test_admin import admin
from tests.support import eventually, make_contract

PARKED = "paused"
OLD: Snapshot = variant(
    "assist-se",
    (FIXED, TYPO),
    *((f"{key}manual_follow_up", f"{key}{PARKED}") for key in ("id: ", "to: ", "[")),
)
"""assist-se before two edits: its reminder had a typo, and its parking stage another id."""


@pytest.fixture
async def database(kickoff: Kickoff) -> AsyncIterator[Database]:
    """The served app's own database (its accounts, tokens and audit log)."""
    database = Database(kickoff.api.settings.database_url)
    yield database
    await database.dispose()


async def _bearer(database: Database, who: StaffAccount) -> dict[str, str]:
    account = await AccountStore(database).by_email(who.email)
    assert account is not None
    text, _ = await TokenStore(database).create(account, "tests")
    return {"Authorization": f"Bearer {text}"}


async def _start_old(kickoff: Kickoff, *, park: bool = False) -> str:
    """An assist-se onboarding on OLD, waiting in onboarding (or parked), listed by visibility."""
    contract = make_contract(delivery_start=PAST_DELIVERY)
    handle = await start_on(
        kickoff.api.client, kickoff.api.settings.task_queue, contract, OLD, started=kickoff.started
    )
    oid = handle.id
    await kickoff.until(oid, lambda s: s["stage"] == "onboarding" and bool(s["emails"]))
    stage = "onboarding"
    if park:
        parked = await kickoff.post(f"/onboardings/{oid}/park", {"reason": "Semester"})
        assert parked.status_code == 202, parked.text
        stage = PARKED
    query = running_query(deployment_scope(kickoff.api.settings.task_queue), "assist-se", version=OLD[1])
    await eventually(
        lambda: kickoff.api.client.count_workflows(
            f"{query} AND WorkflowId = '{oid}' AND KickoffStage = '{stage}'"
        ),
        lambda counted: counted.count == 1,
    )
    return oid


def _body(oids: list[str], *, dry_run: bool, **extra: Any) -> dict[str, Any]:
    return {
        "from_version": OLD[1],
        "to_version": current()[1],
        "onboardings": oids,
        "dry_run": dry_run,
        **extra,
    }


def _by_id(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["onboarding_id"]: result for result in answer["results"]}


async def test_a_dry_run_says_what_changes_and_who_cannot_adopt(kickoff: Kickoff, database: Database) -> None:
    """A waiting onboarding can adopt (its reminder template changed, no step moves); a parked
    one cannot (its stage is gone); nothing changes."""
    waiting, parked = await _start_old(kickoff), await _start_old(kickoff, park=True)
    admin = await _bearer(database, ADMIN)
    answer = await kickoff.http.post(
        "/pipelines/assist-se/migrate", json=_body([waiting, parked], dry_run=True), headers=admin
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["dry_run"], report["counts"]) == (True, {"can_adopt": 1, "cannot_adopt": 1})
    results = _by_id(report)
    can = results[waiting]
    assert (can["outcome"], can["reason"], can["stage"]) == ("can_adopt", None, "onboarding")
    assert [(t["template"], t["languages"]) for t in can["impact"]["templates"]] == [
        ("booking_reminder", ["sv"])
    ]
    assert can["impact"]["steps"] == []
    cannot = results[parked]
    assert cannot["outcome"] == "cannot_adopt"
    assert f"'{PARKED}'" in cannot["reason"]
    assert "not in version" in cannot["reason"]
    for oid in (waiting, parked):
        state = await kickoff.state(oid)
        assert state["pipeline_version"] == OLD[1]
        assert "pipeline_migrated" not in [e["event"] for e in state["timeline"]]


async def test_migrating_moves_who_can_and_refuses_the_rest_with_the_reason(
    kickoff: Kickoff, database: Database
) -> None:
    """The waiting onboarding follows the current version (timeline by the admin, search attribute,
    audit log); the parked one is refused with its reason and keeps its version."""
    waiting, parked = await _start_old(kickoff), await _start_old(kickoff, park=True)
    admin = await _bearer(database, ADMIN)
    answer = await kickoff.http.post(
        "/pipelines/assist-se/migrate", json=_body([waiting, parked], dry_run=False), headers=admin
    )
    assert answer.status_code == 200, answer.text
    results = _by_id(answer.json())
    assert results[waiting]["outcome"] == "migrated"
    assert results[parked]["outcome"] == "refused"
    assert f"'{PARKED}'" in results[parked]["reason"]

    version = current()[1]
    moved = await kickoff.until(waiting, lambda s: s["pipeline_version"] == version)
    [entry] = [e for e in moved["timeline"] if e["event"] == "pipeline_migrated"]
    assert entry["by"] == ADMIN.email
    assert f"{OLD[1]} -> {version}" in entry["detail"]
    handle = kickoff.api.client.get_workflow_handle(waiting)
    await eventually(handle.describe, lambda d: d.typed_search_attributes.get(sa.PIPELINE_VERSION) == version)
    assert (await kickoff.state(parked))["pipeline_version"] == OLD[1]

    for oid, outcome in ((waiting, "migrated"), (parked, "refused")):
        audit = await kickoff.http.get("/audit", params={"onboarding": oid}, headers=admin)
        [logged] = [e for e in audit.json() if e["action"] == "pipeline_migration"]
        assert (logged["actor"], logged["detail"]["outcome"], logged["detail"]["to_version"]) == (
            ADMIN.email,
            outcome,
            version,
        )


async def test_a_stage_filter_selects_only_the_onboardings_in_those_stages(
    kickoff: Kickoff, database: Database
) -> None:
    """With stages, only the onboardings in them are assessed (the service key acts as an admin)."""
    waiting, parked = await _start_old(kickoff), await _start_old(kickoff, park=True)
    answer = await kickoff.post(
        "/pipelines/assist-se/migrate", _body([waiting, parked], dry_run=True, stages=[PARKED])
    )
    assert answer.status_code == 200, answer.text
    assert list(_by_id(answer.json())) == [parked]


async def test_a_to_version_other_than_the_current_one_is_a_409_naming_it(kickoff: Kickoff) -> None:
    """Running onboardings only move to the version this deployment runs: the 409 says which."""
    answer = await kickoff.post(
        "/pipelines/assist-se/migrate", {**_body([], dry_run=True), "to_version": "0123456789ab"}
    )
    assert answer.status_code == 409, answer.text
    assert current()[1] in answer.json()["detail"]
    assert "current version" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("path", "change", "status"),
    [
        pytest.param("/pipelines/no-such/migrate", {}, 404, id="unknown-pipeline"),
        pytest.param("/pipelines/assist-se/migrate", {"from_version": current()[1]}, 422, id="same-versions"),
        pytest.param("/pipelines/assist-se/migrate", {"stages": ["Bad Stage"]}, 422, id="bad-stage"),
        pytest.param("/pipelines/assist-se/migrate", {"dry_run": None}, 422, id="no-dry-run"),
    ],
)
async def test_requests_that_name_nothing_to_move_are_refused(
    kickoff: Kickoff, path: str, change: dict[str, Any], status: int
) -> None:
    """An unknown pipeline is a 404; the same version twice, a malformed stage id or no dry_run a 422."""
    answer = await kickoff.post(path, {**_body([], dry_run=True), **change})
    assert answer.status_code == status, answer.text


async def test_staff_may_not_migrate(kickoff: Kickoff, database: Database) -> None:
    """Moving onboardings between versions is for admins: a staff token gets 403 and nothing is read."""
    staff = await _bearer(database, STAFF)
    answer = await kickoff.http.post(
        "/pipelines/assist-se/migrate", json=_body([], dry_run=True), headers=staff
    )
    assert answer.status_code == 403, answer.text
    assert "admin" in answer.json()["detail"]


# ---------------------------------------------------------------- kickoff-admin pipeline-impact


def _cli_env(kickoff: Kickoff, key_env: dict[str, str]) -> dict[str, str]:
    settings = kickoff.api.settings
    return {
        **key_env,
        "KICKOFF_TEMPORAL_ADDRESS": kickoff.api.client.service_client.config.target_host,
        "KICKOFF_TASK_QUEUE": settings.task_queue,
        "KICKOFF_DATA_DIR": str(settings.data_dir),
    }


async def test_pipeline_impact_lists_running_onboardings_and_what_adopting_changes(
    kickoff: Kickoff, key_env: dict[str, str]
) -> None:
    """``kickoff-admin pipeline-impact pipelines.yaml`` lists the onboardings on another version
    by version and stage, says which can adopt and what changes, as text and as JSON; nothing moves."""
    waiting, parked = await _start_old(kickoff), await _start_old(kickoff, park=True)
    env = _cli_env(kickoff, key_env)
    done = await asyncio.to_thread(admin, "pipeline-impact", "pipelines.yaml", env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Impact of pipelines.yaml on running onboardings (dry run: nothing is changed)"
    assert f"  version {OLD[1]}, stage onboarding: " in done.stdout
    at = lines.index(f"    {waiting}: can adopt")
    assert lines[at + 1] == "      template booking_reminder changed (sv)"
    [refused] = [line for line in lines if line.startswith(f"    {parked}: cannot adopt: ")]
    assert f"'{PARKED}'" in refused

    as_json = await asyncio.to_thread(admin, "pipeline-impact", "pipelines.yaml", "--json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    [assist] = [p for p in json.loads(as_json.stdout) if p["pipeline"] == "assist-se"]
    assert assist["to_version"] == current()[1]
    results = {r["onboarding_id"]: r for r in assist["results"]}
    assert (results[waiting]["outcome"], results[parked]["outcome"]) == ("can_adopt", "cannot_adopt")
    assert (await kickoff.state(waiting))["pipeline_version"] == OLD[1]


@pytest.mark.parametrize(
    ("file", "env", "code", "says"),
    [
        pytest.param(
            "pipelines.yaml",
            {"KICKOFF_TEMPORAL_ADDRESS": "127.0.0.1:9", "KICKOFF_DATABASE_URL": ""},
            1,
            "Temporal did not answer",
            id="temporal-down",
        ),
        pytest.param("no-such.yaml", {}, 2, "cannot read", id="no-file"),
    ],
)
def test_pipeline_impact_says_clearly_what_it_could_not_do(
    tmp_path: Path, file: str, env: dict[str, str], code: int, says: str
) -> None:
    """Temporal out of reach (exit 1) or a file that cannot be read (exit 2): said on stderr."""
    done = admin("pipeline-impact", file, env={"KICKOFF_DATA_DIR": str(tmp_path), **env})
    assert done.returncode == code, done.stdout
    assert says in done.stderr
