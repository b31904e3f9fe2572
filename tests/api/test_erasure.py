"""Erasure (GDPR art. 17) through the HTTP API on the dev server: ``DELETE /onboardings/{id}/personal-data``
ends a running run with a reason ops see, destroys the data key so no payload of its runs decodes
again, scrubs Kickoff's database, and leaves an onboarding that answers only what may be kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus

from kickoff.converter import encrypted
from kickoff.crypto import DataKeys, ErasedError
from kickoff.crypto.codec import ENCODING
from kickoff.db import Database
from kickoff.db.schema import data_keys as data_keys_table
from kickoff.db.schema import kickoff_outcomes, read_onboardings, read_tasks
from kickoff.domain import OnboardingInput
from tests.api.conftest import MEETING, Kickoff
from tests.api.erasure_support import (
    ADVISOR,
    PERSONAL_FIELDS,
    REQUEST_REASON,
    body_text,
    erase,
    payloads_in,
    personal_contract,
    personal_values_in,
)
from tests.conftest import Api


async def _start(kickoff: Kickoff) -> str:
    return await kickoff.start(**PERSONAL_FIELDS)


async def _closed(kickoff: Kickoff) -> str:
    """A booked onboarding whose run completed, its kick-off recorded as held (advisor named)."""
    oid = await _start(kickoff)
    assert (await kickoff.post(f"/onboardings/{oid}/meeting-booked", MEETING)).status_code == 202
    await kickoff.until(oid, lambda s: s["awaiting_outcome"])
    await kickoff.record_completed(oid, owner=ADVISOR)
    return oid


async def _rows(database: Database, table, column, oid: str) -> list[dict[str, Any]]:
    async with database.engine.connect() as db:
        return [dict(r) for r in (await db.execute(select(table).where(column == oid))).mappings()]


async def _api_rows(api: Api, table, column, oid: str) -> list[dict[str, Any]]:
    """Rows of the API's own database (the read model, outcomes, the mail ledger)."""
    database = Database(api.settings.database_url)
    try:
        return await _rows(database, table, column, oid)
    finally:
        await database.dispose()


async def test_erasing_a_running_onboarding_ends_it_with_a_reason_ops_see(
    kickoff: Kickoff, data_keys: DataKeys
) -> None:
    """202 with the id and when; the run is terminated with the GDPR reason (the last event of its
    history, shown in the Temporal UI), and its open tasks leave the task list."""
    oid = await _start(kickoff)
    assert [t for t in (await kickoff.get("/tasks", status="open")).json() if t["onboarding_id"] == oid]

    response = await erase(kickoff, oid)

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["id"] == oid
    erased_at = datetime.fromisoformat(body["erased_at"])
    handle = kickoff.api.client.get_workflow_handle(oid)
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.TERMINATED
    events = [event async for event in handle.fetch_history_events()]
    assert events[-1].workflow_execution_terminated_event_attributes.reason == REQUEST_REASON
    assert not [t for t in (await kickoff.get("/tasks", status="open")).json() if t["onboarding_id"] == oid]
    assert await _api_rows(kickoff.api, read_tasks, read_tasks.c.onboarding_id, oid) == []
    [row] = await _api_rows(kickoff.api, read_onboardings, read_onboardings.c.id, oid)
    assert (row["customer"], row["status"], row["open_tasks"]) == ("(erased)", "terminated", 0)
    [key] = await _rows(data_keys.database, data_keys_table, data_keys_table.c.onboarding_id, oid)
    assert key["wrapped"] is None
    assert key["erased_at"] is not None
    assert erased_at.tzinfo is not None


async def test_the_reason_chosen_is_the_one_ops_see(kickoff: Kickoff) -> None:
    """``?reason=no_longer_needed`` terminates the run with that ground of art. 17."""
    oid = await _start(kickoff)

    assert (await erase(kickoff, oid, reason="no_longer_needed")).status_code == 202

    events = [e async for e in kickoff.api.client.get_workflow_handle(oid).fetch_history_events()]
    reason = events[-1].workflow_execution_terminated_event_attributes.reason
    assert reason == "personal data erased: no longer needed (GDPR art. 17(1)(a))"


async def test_an_unknown_reason_is_422_and_erases_nothing(kickoff: Kickoff) -> None:
    """A reason outside the fixed list is refused before anything is done."""
    oid = await _start(kickoff)

    response = await erase(kickoff, oid, reason="because")

    assert response.status_code == 422, response.text
    assert (await kickoff.state(oid))["status"] == "running"


async def test_erasing_a_completed_booked_onboarding_keeps_its_outcome_without_names(
    kickoff: Kickoff,
) -> None:
    """A completed run stays completed; its kick-off outcome keeps outcome, segment, cycle and
    date but loses the advisor and who recorded it; GET answers only what may be kept."""
    oid = await _closed(kickoff)

    response = await erase(kickoff, oid)

    assert response.status_code == 202, response.text
    description = await kickoff.api.client.get_workflow_handle(oid).describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    [outcome] = await _api_rows(kickoff.api, kickoff_outcomes, kickoff_outcomes.c.onboarding_id, oid)
    assert (outcome["outcome"], outcome["segment"], outcome["cycle"]) == ("completed", "B", 1)
    assert (outcome["owner"], outcome["recorded_by"]) == ("(erased)", "(erased)")
    got = await kickoff.get(f"/onboardings/{oid}")
    assert got.status_code == 200, got.text
    kept = got.json()
    assert (kept["status"], kept["stage"], kept["cycle"], kept["pipeline"]) == (
        "completed",
        "closed",
        1,
        "assist-se",
    )
    assert [(o["cycle"], o["outcome"], o["segment"]) for o in kept["kickoff_outcomes"]] == [
        (1, "completed", "B")
    ]
    assert set(kept["kickoff_outcomes"][0]) == {"cycle", "outcome", "segment", "recorded_at"}
    assert personal_values_in(body_text(got)) == []


async def test_get_after_erasure_answers_what_may_be_kept_and_nothing_personal(kickoff: Kickoff) -> None:
    """Id, pipeline, stage, status, cycle, every stage visit with its dates, and when the
    personal data was erased; no name, org number, address or phone anywhere in the body."""
    oid = await _start(kickoff)
    before = await kickoff.state(oid)
    erased_at = (await erase(kickoff, oid)).json()["erased_at"]

    got = await kickoff.get(f"/onboardings/{oid}")

    assert got.status_code == 200, got.text
    kept = got.json()
    assert kept["id"] == oid
    assert (kept["pipeline"], kept["stage"], kept["status"], kept["cycle"]) == (
        "assist-se",
        "onboarding",
        "terminated",
        1,
    )
    assert kept["pipeline_version"] == before["pipeline_version"]
    assert kept["personal_data_erased_at"] == erased_at
    assert [v["stage"] for v in kept["visits"]] == [v["stage"] for v in before["visits"]]
    assert all(v["entered_at"] for v in kept["visits"])
    assert kept["started_at"]
    assert kept["closed_at"]
    assert not {"customer", "main_user", "timeline", "tasks", "emails"} & set(kept)
    assert personal_values_in(body_text(got)) == []


async def test_a_second_delete_answers_the_first_erasure_time(kickoff: Kickoff) -> None:
    """Erasing again is safe: 200 with the first erased_at, and nothing changes."""
    oid = await _start(kickoff)
    first = await erase(kickoff, oid)
    assert first.status_code == 202, first.text

    again = await erase(kickoff, oid)

    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    description = await kickoff.api.client.get_workflow_handle(oid).describe()
    assert description.status == WorkflowExecutionStatus.TERMINATED


async def test_a_contract_sent_again_after_erasure_is_refused(kickoff: Kickoff) -> None:
    """The same contract (or the same id with other content) gets 409 saying the personal data
    was erased, and no new run starts."""
    contract = personal_contract()
    oid = await kickoff.start(**contract)  # the very body start() sends
    assert (await erase(kickoff, oid)).status_code == 202
    run_id = await kickoff.run_id(oid)

    for body in (contract, {**contract, "licenses": 3}):
        response = await kickoff.submit(body)
        assert response.status_code == 409, response.text
        detail = response.json()["detail"]
        assert detail.startswith("personal data erased")
        assert f"belongs to onboarding {oid}" in detail
        assert "not started again" in detail
        assert personal_values_in(body_text(response)) == []

    description = await kickoff.api.client.get_workflow_handle(oid).describe()
    assert (description.run_id, description.status) == (run_id, WorkflowExecutionStatus.TERMINATED)


@pytest.fixture(scope="module")
async def erased(shared_api: Api, smtp) -> AsyncIterator[str]:
    """One onboarding, booked (its run completed) and then erased, for the refusal table."""
    helper = Kickoff(shared_api, smtp)
    oid = await _start(helper)
    assert (await helper.post(f"/onboardings/{oid}/meeting-booked", MEETING)).status_code == 202
    await helper.until(oid, lambda s: s["status"] == "completed")
    assert (await erase(helper, oid)).status_code == 202
    yield oid
    await helper.terminate_started()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "calls", {"outcome": "no_answer"}),
        ("POST", "park", {"reason": "Semester"}),
        ("POST", "resume", None),
        ("POST", "meeting-booked", MEETING),
        ("POST", "restart", {"reason": "no_show"}),
        ("POST", "kickoff-outcome", {"outcome": "completed", "segment": "B", "owner": ADVISOR}),
        ("POST", "kickoff-outcome", {"outcome": "no_show"}),
        ("POST", "events/call_logged", {"outcome": "answered"}),
        ("POST", "checklist/anything", None),
        ("PATCH", "", {"delivery_start": "2030-01-15"}),
    ],
)
async def test_staff_actions_on_an_erased_onboarding_are_409(
    kickoff: Kickoff, erased: str, method: str, path: str, body: object
) -> None:
    """Every staff action says "personal data erased" (409), never a 500 from an undecodable payload."""
    url = f"/onboardings/{erased}/{path}".rstrip("/")
    response = await kickoff.http.request(method, url, json=body, headers=kickoff.api.auth)

    assert response.status_code == 409, response.text
    assert response.json()["detail"].startswith("personal data erased")


async def test_marking_a_task_of_an_erased_onboarding_done_is_409(kickoff: Kickoff, erased: str) -> None:
    """``POST /tasks/{id}/done`` with one of its task ids: refused the same way."""
    response = await kickoff.post(f"/tasks/{erased}.1.1/done")

    assert response.status_code == 409, response.text
    assert response.json()["detail"].startswith("personal data erased")


@pytest.mark.parametrize("method", ["DELETE", "GET"])
async def test_unknown_onboarding_is_404(kickoff: Kickoff, data_keys: DataKeys, method: str) -> None:
    """Nothing to erase or to show for an id no contract started (and nothing is recorded)."""
    response = await kickoff.http.request(
        method, "/onboardings/SE-C-never-signed/personal-data", headers=kickoff.api.auth
    )

    assert response.status_code == 404, response.text
    table = data_keys_table
    assert await _rows(data_keys.database, table, table.c.onboarding_id, "SE-C-never-signed") == []


@pytest.mark.parametrize("method", ["DELETE", "GET"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-key"}])
async def test_personal_data_needs_an_api_key(
    kickoff: Kickoff, bystander: str, method: str, headers: dict[str, str]
) -> None:
    """401 without a known API key; the onboarding is untouched."""
    response = await kickoff.http.request(method, f"/onboardings/{bystander}/personal-data", headers=headers)

    assert response.status_code == 401, response.text
    assert (await kickoff.state(bystander))["status"] == "running"


async def test_an_erased_history_no_longer_decodes_while_others_do(
    kickoff: Kickoff, data_keys: DataKeys
) -> None:
    """With the tests' master key, every encrypted payload of the erased onboarding's history
    fails to decode (ErasedError), and another onboarding's still decode; the payloads left in
    clear (search attributes) hold nothing personal."""
    erased_id, kept_id = await _start(kickoff), await _start(kickoff)
    assert (await erase(kickoff, erased_id)).status_code == 202
    # A fresh store of keys, as another process reading the database would have: no cache.
    converter = encrypted(DataKeys(data_keys.database, data_keys.master))

    for oid in (erased_id, kept_id):
        events = [e async for e in kickoff.api.client.get_workflow_handle(oid).fetch_history_events()]
        payloads = [p for event in events for p in payloads_in(event)]
        sealed = [p for p in payloads if p.metadata.get("encoding") == ENCODING]
        clear = [p for p in payloads if p.metadata.get("encoding") != ENCODING]
        assert len(sealed) >= 5, oid
        assert personal_values_in(b"".join(p.data for p in clear).decode(errors="replace")) == []
        if oid == erased_id:
            for payload in sealed:
                with pytest.raises(ErasedError):
                    await converter.decode([payload])
        else:
            decoded = await converter.decode(sealed)
            assert len(decoded) == len(sealed)
            started = events[0].workflow_execution_started_event_attributes
            [first] = await converter.decode(started.input.payloads, [OnboardingInput])
            assert first.onboarding_id == kept_id
