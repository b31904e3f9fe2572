"""The board's Pipelines page: the versions running onboardings follow, counted per pipeline, and
for admins the dry run and the migration to the current version with a results page per onboarding."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError

from kickoff.db import Database
from kickoff.domain import EventInput
from kickoff.identity.audit import AuditLog
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.accounts import ADMIN
from tests.board.support import PAST_DELIVERY, BoardServer, alert, csrf_token, signed_in_client, text_of
from tests.migration_support import FIXED, TYPO, Snapshot, current, start_on, variant
from tests.support import eventually, make_contract

PARKED = "paused"
OLD: Snapshot = variant(
    "assist-se",
    (FIXED, TYPO),
    *((f"{key}manual_follow_up", f"{key}{PARKED}") for key in ("id: ", "to: ", "[")),
)
"""assist-se before two edits: a typo in its reminder, and its parking stage under another id."""


@pytest.fixture
async def started(board: BoardServer) -> AsyncIterator[list[str]]:
    """The onboardings a test starts on OLD, ended with the test (the board server is shared)."""
    ids: list[str] = []
    yield ids
    for oid in ids:
        with contextlib.suppress(RPCError):
            await board.api.client.get_workflow_handle(oid).terminate(reason="test finished")


async def _start_old(board: BoardServer, started: list[str], *, park: bool = False) -> str:
    handle = await start_on(
        board.api.client,
        board.api.settings.task_queue,
        make_contract(delivery_start=PAST_DELIVERY),
        OLD,
        started=started,
    )
    await board.until(handle.id, lambda s: s["stage"] == "onboarding" and bool(s["emails"]))
    if park:
        await handle.execute_update(
            OnboardingWorkflow.apply_event, EventInput(name="park", payload={"reason": "Semester"})
        )
    return handle.id


def _count(page: str, pipeline: str, version: str) -> int | None:
    section = re.search(rf'data-pipeline="{pipeline}".*?</section>', page, re.S)
    assert section, f"no section for {pipeline}"
    found = re.search(rf'data-version="{version}" data-count="(\d+)"', section.group(0))
    return int(found.group(1)) if found else None


def _row(page: str, oid: str) -> tuple[str, str]:
    """An onboarding's row on the results page: its outcome and its text."""
    found = re.search(rf'<tr data-onboarding="{oid}" data-outcome="([a-z_]+)">(.*?)</tr>', page, re.S)
    assert found, f"no result row for {oid}"
    return found.group(1), text_of(found.group(2))


async def _post(http: httpx.AsyncClient, form: str, data: dict[str, Any]) -> httpx.Response:
    return await http.post(
        "/board/pipelines/assist-se/migrate", data={"csrf_token": csrf_token(form), **data}
    )


async def test_the_page_counts_the_versions_in_use_and_staff_get_no_forms(
    board: BoardServer, staff: httpx.AsyncClient, started: list[str]
) -> None:
    """Each pipeline shows its current version and, per version in use, its running onboardings
    (from visibility); the nav marks the page; only admins see the migration form."""
    await _start_old(board, started)

    async def read() -> str:
        return (await staff.get("/board/pipelines")).text

    page = await eventually(read, lambda text: (_count(text, "assist-se", OLD[1]) or 0) >= 1)
    assert _count(page, "assist-se", current()[1]) is not None  # listed even with no runs on it
    assert f'data-current="{current()[1]}"' in page
    assert '<a href="/board/pipelines" aria-current="page">Pipelines</a>' in page
    for pipeline in ("pakkepilot-no", "kundprocess-se", "wisenetwork-fi"):
        assert f'data-pipeline="{pipeline}"' in page
    assert 'action="/board/pipelines/assist-se/migrate"' not in page


async def test_an_admin_dry_runs_then_migrates_and_sees_each_result(
    board: BoardServer, started: list[str]
) -> None:
    """The dry run lists a waiting onboarding that can adopt (template changed) and a parked one
    that cannot (its stage is gone), changing nothing; the migration moves the first and refuses
    the second with the reason, audited."""
    waiting = await _start_old(board, started)
    parked = await _start_old(board, started, park=True)
    async with signed_in_client(board.base_url, ADMIN) as admin:
        form = await eventually(
            lambda: _text(admin.get("/board/pipelines")),
            lambda text: (_count(text, "assist-se", OLD[1]) or 0) >= 2,
        )
        assert 'action="/board/pipelines/assist-se/migrate"' in form
        dry = await _post(admin, form, {"from_version": OLD[1], "dry_run": "true"})
        assert dry.status_code == 200, alert(dry.text)
        assert 'data-dry-run="true"' in dry.text
        assert "Nothing was changed." in dry.text
        outcome, text = _row(dry.text, waiting)
        assert outcome == "can_adopt"
        assert "template booking_reminder changed (sv)" in text
        outcome, text = _row(dry.text, parked)
        assert outcome == "cannot_adopt"
        assert f"its current stage '{PARKED}'" in text
        assert (await board.state(waiting))["pipeline_version"] == OLD[1]

        moved = await _post(admin, dry.text, {"from_version": OLD[1], "dry_run": "false"})
        assert moved.status_code == 200, alert(moved.text)
        assert 'data-dry-run="false"' in moved.text
        assert _row(moved.text, waiting)[0] == "migrated"
        outcome, text = _row(moved.text, parked)
        assert outcome == "refused"
        assert f"'{PARKED}'" in text
    state = await board.until(waiting, lambda s: s["pipeline_version"] == current()[1])
    [entry] = [e for e in state["timeline"] if e["event"] == "pipeline_migrated"]
    assert entry["by"] == ADMIN.email
    database = Database(board.api.settings.database_url)
    try:
        logged = await AuditLog(database).entries(onboarding_id=parked)
    finally:
        await database.dispose()
    assert [(e.action, e.detail["outcome"]) for e in logged] == [("pipeline_migration", "refused")]


async def test_a_stage_filter_only_looks_at_onboardings_in_those_stages(
    board: BoardServer, started: list[str]
) -> None:
    """Ticking a stage limits the dry run to the onboardings in it."""
    waiting = await _start_old(board, started)
    async with signed_in_client(board.base_url, ADMIN) as admin:
        form = await eventually(
            lambda: _text(admin.get("/board/pipelines")),
            lambda text: (_count(text, "assist-se", OLD[1]) or 0) >= 1,
        )
        dry = await _post(admin, form, {"from_version": OLD[1], "dry_run": "true", "stages": ["new"]})
        assert dry.status_code == 200, alert(dry.text)
        assert f'data-onboarding="{waiting}"' not in dry.text
        assert "only in new" in text_of(dry.text)


async def test_staff_cannot_post_the_migration(board: BoardServer, staff: httpx.AsyncClient) -> None:
    """The migration form's target refuses a staff session with 403 and moves nothing."""
    page = await staff.get("/board/pipelines")
    answer = await _post(staff, page.text, {"from_version": OLD[1], "dry_run": "false"})
    assert answer.status_code == 403
    assert "admin" in text_of(answer.text)


async def _text(response: Any) -> str:
    return (await response).text
