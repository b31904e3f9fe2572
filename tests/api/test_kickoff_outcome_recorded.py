"""A booking completes the run; the kick-off outcome is recorded in Kickoff's database (seed 003:
"När ticket har status Avslutad stoppas också workflowet").

`completed` (segment, advisor) is recorded as it is; `no_show` / `rescheduled` is recorded on
the booked cycle and starts the next one as a new run of the same id, in onboarding with the
booking reminder and no second welcome mail. Who recorded it: "api" for an API key.
"""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from kickoff import search_attributes as sa
from tests.api.conftest import Kickoff, State, comparable, templates
from tests.support import days_ahead, eventually

MEETING = {"meeting_at": days_ahead(3, 10).isoformat()}
COMPLETED = {"outcome": "completed", "segment": "B", "owner": "Sara Lind"}


async def _booked(kickoff: Kickoff) -> tuple[str, State]:
    oid = await kickoff.start()
    assert (await kickoff.post(f"/onboardings/{oid}/meeting-booked", MEETING)).status_code == 202
    return oid, await kickoff.until(oid, lambda s: s["status"] == "completed")


async def test_a_booking_completes_the_run_after_mailing_the_team_and_awaits_the_outcome(
    kickoff: Kickoff,
) -> None:
    """meeting-booked closes the stage, mails the team, and the run completes (Temporal too);
    the onboarding shows the outcome as awaited, with no task in the run."""
    oid, state = await _booked(kickoff)

    assert (state["stage"], state["awaiting_outcome"], state["kickoff_outcome"]) == ("closed", True, None)
    assert templates(state) == ["welcome", "kickoff_booked"]
    assert not [t for t in state["tasks"] if t["status"] == "open"]
    assert state["kickoff_outcomes"] == []
    description = await kickoff.api.client.get_workflow_handle(oid).describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    assert len(kickoff.mails(oid, "kickoff_booked")) == 1


async def test_completed_is_recorded_with_who_and_when_and_shown(kickoff: Kickoff) -> None:
    """The outcome, its segment and advisor, "api" as who recorded it, and when, in GET."""
    oid, _ = await _booked(kickoff)

    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", COMPLETED)

    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "outcome": "completed", "cycle": 1, "stage": "closed"}
    state = await kickoff.state(oid)
    outcome = state["kickoff_outcome"]
    assert (outcome["outcome"], outcome["segment"], outcome["owner"]) == ("completed", "B", "Sara Lind")
    assert outcome["recorded_by"] == "api"
    assert outcome["recorded_at"]
    assert state["awaiting_outcome"] is False
    assert [(o["cycle"], o["outcome"]) for o in state["kickoff_outcomes"]] == [(1, "completed")]


@pytest.mark.parametrize("outcome", ["no_show", "rescheduled"])
async def test_no_show_or_rescheduled_starts_a_new_run_in_onboarding_without_a_second_welcome(
    kickoff: Kickoff, outcome: str
) -> None:
    """The booked cycle keeps its outcome; cycle 2 is a new run of the same id, in onboarding,
    mailing the booking reminder (not the welcome), findable by its restart reason."""
    oid, booked = await _booked(kickoff)
    booked_run = await kickoff.run_id(oid)

    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", {"outcome": outcome})

    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "outcome": outcome, "cycle": 2, "stage": "onboarding"}
    state = await kickoff.until(oid, lambda s: s["cycle"] == 2 and "booking_reminder" in templates(s))
    assert (state["status"], state["stage"], state["kickoff_outcome"]) == ("running", "onboarding", None)
    assert templates(state) == ["booking_reminder"]
    assert len(kickoff.mails(oid, "welcome")) == 1
    [previous] = state["previous_cycles"]
    assert (previous["run_id"], previous["restart_reason"]) == (booked_run, outcome)
    assert [(o["cycle"], o["outcome"]) for o in state["kickoff_outcomes"]] == [(1, outcome)]
    attributes = (await kickoff.api.client.get_workflow_handle(oid).describe()).typed_search_attributes
    assert (attributes.get(sa.RESTART_REASON), attributes.get(sa.STAGE)) == (outcome, "onboarding")
    found = await eventually(
        lambda: _run_ids(kickoff, f"WorkflowId = '{oid}' AND KickoffRestartReason = '{outcome}'"),
        lambda ids: len(ids) == 1,
    )
    assert found != [booked_run]
    assert templates(booked) == ["welcome", "kickoff_booked"]


async def test_a_second_outcome_is_409_and_the_first_stays(kickoff: Kickoff) -> None:
    oid, _ = await _booked(kickoff)
    assert (await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", COMPLETED)).status_code == 202
    first = (await kickoff.state(oid))["kickoff_outcome"]

    for body in ({**COMPLETED, "segment": "A"}, {"outcome": "no_show"}):
        response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", body)
        assert response.status_code == 409
        assert "recorded already (completed)" in response.json()["detail"]
    state = await kickoff.state(oid)
    assert (state["kickoff_outcome"], state["cycle"]) == (first, 1)


async def test_a_double_submitted_no_show_restarts_once(kickoff: Kickoff) -> None:
    oid, _ = await _booked(kickoff)
    assert (
        await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", {"outcome": "no_show"})
    ).status_code == 202
    restarted = await kickoff.until(oid, lambda s: s["cycle"] == 2 and "booking_reminder" in templates(s))

    again = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", {"outcome": "no_show"})

    assert again.status_code == 409
    assert "no kick-off is booked yet" in again.json()["detail"]
    assert comparable(await kickoff.state(oid)) == comparable(restarted)


async def test_restart_of_a_booked_run_records_the_no_show(kickoff: Kickoff) -> None:
    """POST /restart with no_show on a booked (completed) run records it as that cycle's outcome."""
    oid, _ = await _booked(kickoff)

    response = await kickoff.post(f"/onboardings/{oid}/restart", {"reason": "no_show"})

    assert response.status_code == 202, response.text
    state = await kickoff.until(oid, lambda s: s["cycle"] == 2)
    assert [(o["cycle"], o["outcome"], o["recorded_by"]) for o in state["kickoff_outcomes"]] == [
        (1, "no_show", "api")
    ]


BAD = [
    pytest.param({"outcome": "completed", "owner": "Sara Lind"}, "segment", id="completed-without-segment"),
    pytest.param({"outcome": "completed", "segment": "A", "owner": "  "}, "owner", id="blank-owner"),
    pytest.param({"outcome": "completed", "segment": "E", "owner": "Sara"}, "segment", id="unknown-segment"),
    pytest.param({"outcome": "no_show", "segment": "A"}, "segment", id="no-show-with-segment"),
    pytest.param({"outcome": "held"}, "outcome", id="unknown-outcome"),
    pytest.param({**COMPLETED, "note": "x"}, "note", id="unknown-field"),
]


@pytest.mark.parametrize(("body", "named"), BAD)
async def test_a_bad_outcome_is_422_and_records_nothing(
    kickoff: Kickoff, body: dict[str, Any], named: str
) -> None:
    oid, before = await _booked(kickoff)

    response = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", body)

    assert response.status_code == 422, response.text
    assert named in response.text
    after = await kickoff.state(oid)
    assert (after["kickoff_outcomes"], after["awaiting_outcome"]) == ([], True)
    assert comparable(after) == comparable(before)


async def test_unknown_onboarding_is_404(kickoff: Kickoff) -> None:
    response = await kickoff.post("/onboardings/SE-C-nobody/kickoff-outcome", COMPLETED)
    assert response.status_code == 404


async def _run_ids(kickoff: Kickoff, query: str) -> list[str]:
    return [ex.run_id async for ex in kickoff.api.client.list_workflows(query)]
