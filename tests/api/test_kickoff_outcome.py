"""POST /onboardings/{id}/kickoff-outcome for runs in flight that wait for it (seed 003).

A run that was booked before the ``complete-at-goal`` release waits in `closed` (nothing is
sent any more) until then: `completed` with segment and advisor completes it; `no_show` or
`rescheduled` restarts onboarding. Outcome and segment are search attributes; the advisor's
name is personal data and stays in the run's state. These runs come from a worker running
``EarlierRelease``; runs of this release: ``test_kickoff_outcome_recorded.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from kickoff import search_attributes as sa
from kickoff.mailcatcher import MailCatcher
from tests.api.conftest import PAST_DELIVERY, Kickoff, State, comparable, templates
from tests.conftest import Api
from tests.support import contract_payload, days_ahead, eventually

MEETING_AT = days_ahead(3, 10)
MEETING = {"meeting_at": MEETING_AT.isoformat()}
COMPLETED = {"outcome": "completed", "segment": "B", "owner": "Sara Lind"}


@pytest.fixture
async def kickoff(earlier_api: Api, smtp: MailCatcher) -> AsyncIterator[Kickoff]:
    """Onboardings run by the earlier release's worker (they wait in `closed` for the outcome)."""
    helper = Kickoff(earlier_api, smtp)
    yield helper
    await helper.terminate_started()


@pytest.fixture(scope="module")
async def bystander(earlier_api: Api, smtp: MailCatcher) -> AsyncIterator[str]:
    helper = Kickoff(earlier_api, smtp)
    oid = await helper.start()
    yield oid
    await helper.terminate_started()


async def _booked(kickoff: Kickoff) -> tuple[str, State]:
    oid = await kickoff.start()
    assert (await kickoff.post(f"/onboardings/{oid}/meeting-booked", MEETING)).status_code == 202
    state = await kickoff.until(oid, lambda s: s["awaiting_outcome"] and "kickoff_booked" in templates(s))
    return oid, state


async def test_a_booked_run_waits_in_closed_with_a_task_only_the_outcome_closes(kickoff: Kickoff) -> None:
    oid, state = await _booked(kickoff)

    assert (state["status"], state["stage"], state["kickoff_outcome"]) == ("running", "closed", None)
    [task] = [t for t in state["tasks"] if t["status"] == "open"]
    assert (task["kind"], task["owner_role"]) == ("kickoff_outcome", "onboarding_lead")
    # Due 17:00 Stockholm the day after the meeting, not the day after the booking.
    assert datetime.fromisoformat(task["due_at"]) == days_ahead(4, 17)
    assert state["next_step"] == "record the kick-off outcome"

    response = await kickoff.post(f"/tasks/{task['id']}/done")
    assert response.status_code == 409
    assert "kickoff-outcome" in response.json()["detail"]
    assert comparable(await kickoff.state(oid)) == comparable(state)


async def test_completed_with_segment_and_advisor_completes_the_run(kickoff: Kickoff) -> None:
    oid, _ = await _booked(kickoff)

    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", COMPLETED)

    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "outcome": "completed", "cycle": 1, "stage": "closed"}
    state = await kickoff.until(oid, lambda s: s["status"] == "completed")
    outcome = state["kickoff_outcome"]
    assert (outcome["outcome"], outcome["segment"], outcome["owner"]) == ("completed", "B", "Sara Lind")
    assert state["awaiting_outcome"] is False
    assert all(t["status"] == "done" for t in state["tasks"])
    assert any(e["event"] == "kickoff_outcome" and "B-kund" in e["detail"] for e in state["timeline"])

    attributes = (await kickoff.api.client.get_workflow_handle(oid).describe()).typed_search_attributes
    assert attributes.get(sa.OUTCOME) == "completed"
    assert attributes.get(sa.SEGMENT) == "B"
    # The advisor's name is personal data: no search attribute carries it.
    assert "Sara Lind" not in repr(attributes)


@pytest.mark.parametrize("outcome", ["no_show", "rescheduled"])
async def test_no_show_or_rescheduled_restarts_onboarding(kickoff: Kickoff, outcome: str) -> None:
    oid, booked = await _booked(kickoff)
    booked_run = await kickoff.run_id(oid)

    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", {"outcome": outcome})

    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "outcome": outcome, "cycle": 2, "stage": "onboarding"}
    state = await kickoff.until(oid, lambda s: s["cycle"] == 2 and "booking_reminder" in templates(s))
    assert (state["status"], state["stage"], state["kickoff_outcome"]) == ("running", "onboarding", None)
    [previous] = state["previous_cycles"]
    assert (previous["cycle"], previous["final_stage"], previous["restart_reason"]) == (1, "closed", outcome)
    assert previous["run_id"] == booked_run
    # The rebooking call task of the new cycle; the old cycle's outcome task is not carried over.
    assert [t["kind"] for t in state["tasks"] if t["status"] == "open"] == ["call"]

    # The booked cycle's run keeps its outcome in visibility; the new cycle starts without one.
    ended = await eventually(
        lambda: _runs(kickoff, f"WorkflowId = '{oid}' AND KickoffOutcome = '{outcome}'"),
        lambda runs: len(runs) == 1,
    )
    assert ended[0]["run_id"] == booked_run
    assert ended[0]["status"] == WorkflowExecutionStatus.CONTINUED_AS_NEW
    current = (await kickoff.api.client.get_workflow_handle(oid).describe()).typed_search_attributes
    assert current.get(sa.OUTCOME) is None
    assert current.get(sa.STAGE) == "onboarding"
    # The new cycle asks the customer to book again; the booked cycle's mails stay with its run.
    assert templates(state) == ["booking_reminder"]
    assert templates(booked) == ["welcome", "kickoff_booked"]


async def test_restart_of_a_run_awaiting_its_outcome_records_the_no_show(kickoff: Kickoff) -> None:
    oid, _ = await _booked(kickoff)

    response = await kickoff.post(f"/onboardings/{oid}/restart", {"reason": "no_show"})

    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "cycle": 2, "stage": "onboarding"}
    state = await kickoff.until(oid, lambda s: s["cycle"] == 2)
    assert state["previous_cycles"][0]["restart_reason"] == "no_show"
    ended = await eventually(
        lambda: _runs(kickoff, f"WorkflowId = '{oid}' AND KickoffOutcome = 'no_show'"),
        lambda runs: len(runs) == 1,
    )
    assert ended[0]["status"] == WorkflowExecutionStatus.CONTINUED_AS_NEW


BAD_OUTCOMES = [
    pytest.param({"outcome": "completed", "owner": "Sara Lind"}, "segment", id="completed-without-segment"),
    pytest.param({"outcome": "completed", "segment": "A"}, "owner", id="completed-without-owner"),
    pytest.param({"outcome": "completed", "segment": "A", "owner": "  "}, "owner", id="blank-owner"),
    pytest.param({"outcome": "completed", "segment": "E", "owner": "Sara"}, "segment", id="unknown-segment"),
    pytest.param({"outcome": "no_show", "segment": "A"}, "segment", id="no-show-with-segment"),
    pytest.param({"outcome": "rescheduled", "owner": "Sara"}, "owner", id="rescheduled-with-owner"),
    pytest.param({"outcome": "held"}, "outcome", id="unknown-outcome"),
    pytest.param({}, "outcome", id="no-outcome"),
    pytest.param({**COMPLETED, "note": "x"}, "note", id="unknown-field"),
    pytest.param({**COMPLETED, "owner": "x" * 201}, "owner", id="owner-too-long"),
]


@pytest.mark.parametrize(("body", "named"), BAD_OUTCOMES)
async def test_bad_outcome_is_422_naming_the_problem_and_changes_nothing(
    kickoff: Kickoff, body: dict[str, Any], named: str
) -> None:
    oid, before = await _booked(kickoff)

    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", body)

    assert response.status_code == 422, response.text
    assert named in response.text
    assert comparable(await kickoff.state(oid)) == comparable(before)


async def test_outcome_before_a_booking_is_409_and_changes_nothing(kickoff: Kickoff, bystander: str) -> None:
    before = await kickoff.state(bystander)

    response = await kickoff.post(f"/onboardings/{bystander}/kickoff-outcome", COMPLETED)

    assert response.status_code == 409
    assert "no kick-off is booked yet" in response.json()["detail"]
    assert comparable(await kickoff.state(bystander)) == comparable(before)


async def test_a_second_outcome_is_409(kickoff: Kickoff) -> None:
    oid, _ = await _booked(kickoff)
    assert (await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", COMPLETED)).status_code == 202
    done = await kickoff.until(oid, lambda s: s["status"] == "completed")

    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", {**COMPLETED, "segment": "A"})

    assert response.status_code == 409
    assert "completed" in response.json()["detail"]
    assert (await kickoff.state(oid))["kickoff_outcome"] == done["kickoff_outcome"]


async def test_unknown_onboarding_is_404_and_a_pipeline_without_outcomes_is_404(kickoff: Kickoff) -> None:
    assert (await kickoff.post("/onboardings/SE-C-nope/kickoff-outcome", COMPLETED)).status_code == 404

    response = await kickoff.submit(
        contract_payload(pipeline="pakkepilot-no", language="nb", delivery_start=PAST_DELIVERY)
    )
    assert response.status_code == 202, response.text
    oid = response.json()["id"]
    await kickoff.until(oid, lambda s: bool(s["emails"]))
    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", COMPLETED)
    assert response.status_code == 404
    assert "does not record kick-off outcomes" in response.json()["detail"]


async def test_outcome_needs_an_api_key(kickoff: Kickoff, bystander: str) -> None:
    response = await kickoff.http.post(f"/onboardings/{bystander}/kickoff-outcome", json=COMPLETED)
    assert response.status_code == 401


async def _runs(kickoff: Kickoff, query: str) -> list[dict[str, Any]]:
    return [
        {"run_id": ex.run_id, "status": ex.status} async for ex in kickoff.api.client.list_workflows(query)
    ]


@pytest.mark.parametrize("outcome", ["no_show", "rescheduled"])
async def test_a_no_show_before_a_booking_is_409_and_restarts_nothing(
    kickoff: Kickoff, bystander: str, outcome: str
) -> None:
    before = await kickoff.state(bystander)

    response = await kickoff.post(f"/onboardings/{bystander}/kickoff-outcome", {"outcome": outcome})

    assert response.status_code == 409
    assert "no kick-off is booked yet" in response.json()["detail"]
    assert comparable(await kickoff.state(bystander)) == comparable(before)


async def test_a_double_submitted_no_show_restarts_once(kickoff: Kickoff) -> None:
    oid, _ = await _booked(kickoff)
    first = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", {"outcome": "no_show"})
    assert first.status_code == 202
    restarted = await kickoff.until(oid, lambda s: s["cycle"] == 2 and "booking_reminder" in templates(s))

    again = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", {"outcome": "no_show"})

    assert again.status_code == 409
    assert "no kick-off is booked yet" in again.json()["detail"]
    assert comparable(await kickoff.state(oid)) == comparable(restarted)


async def test_a_no_show_after_a_completed_kickoff_is_409(kickoff: Kickoff) -> None:
    oid, _ = await _booked(kickoff)
    assert (await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", COMPLETED)).status_code == 202
    done = await kickoff.until(oid, lambda s: s["status"] == "completed")

    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", {"outcome": "no_show"})

    assert response.status_code == 409
    assert "recorded already" in response.json()["detail"]
    assert comparable(await kickoff.state(oid)) == comparable(done)


async def test_a_no_show_on_a_pipeline_without_outcomes_is_404(kickoff: Kickoff) -> None:
    response = await kickoff.submit(
        contract_payload(pipeline="pakkepilot-no", language="nb", delivery_start=PAST_DELIVERY)
    )
    oid = response.json()["id"]
    before = await kickoff.until(oid, lambda s: bool(s["emails"]))

    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", {"outcome": "no_show"})

    assert response.status_code == 404
    assert comparable(await kickoff.state(oid)) == comparable(before)
