"""POST /onboardings/{id}/restart: a new cycle of the same onboarding after a no-show or rebooking."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import MEETING, Kickoff, comparable, templates

REBOOKING_CALL = "Ring kunden och boka ett nytt uppstartsmöte"


@pytest.mark.parametrize(
    "held_first",
    [
        pytest.param(False, id="awaiting-the-outcome"),
        pytest.param(True, id="after-a-completed-kick-off"),
    ],
)
async def test_restart_after_booked_meeting_starts_cycle_2_with_a_booking_reminder(
    kickoff: Kickoff, held_first: bool
) -> None:
    """Restarting a booked onboarding starts cycle 2 in onboarding with a booking reminder, not a
    welcome, as a new run of the same id: whether the kick-off outcome is still awaited (the no-show
    is recorded as that outcome) or the kick-off was recorded as held."""
    oid = await kickoff.start()
    if held_first:
        closed = await kickoff.close(oid)
        assert closed["status"] == "completed"
    else:
        closed = await kickoff.book(oid)
        assert (closed["status"], closed["stage"], closed["awaiting_outcome"]) == (
            "completed",
            "closed",
            True,
        )
    first_run = await kickoff.run_id(oid)

    response = await kickoff.post(f"/onboardings/{oid}/restart", {"reason": "no_show"})
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "cycle": 2, "stage": "onboarding"}

    # The welcome mail comes first in the stage's on_enter list, so had it been queued it
    # would be recorded before the booking reminder this waits for.
    state = await kickoff.until(oid, lambda s: s["cycle"] == 2 and "booking_reminder" in templates(s))
    assert state["id"] == oid
    assert state["stage"] == "onboarding"
    assert state["status"] == "running"
    assert state["awaiting_outcome"] is False
    assert state["kickoff_outcome"] is None  # the new cycle has had no kick-off yet
    assert templates(state) == ["booking_reminder"]
    assert [t["title"] for t in state["tasks"] if t["status"] == "open"] == [REBOOKING_CALL]
    assert any(e["event"] == "restarted" and "no_show" in e["detail"] for e in state["timeline"])
    [previous] = state["previous_cycles"]
    assert previous["cycle"] == 1
    assert previous["final_stage"] == "closed"
    assert previous["restart_reason"] == "no_show"
    assert previous["run_id"] == first_run
    assert await kickoff.run_id(oid) != first_run

    assert len(kickoff.mails(oid, "welcome")) == 1
    assert len(kickoff.mails(oid, "kickoff_booked")) == 1
    assert len(kickoff.mails(oid, "booking_reminder")) == 1
    assert closed["cycle"] == 1


async def test_restart_of_a_running_onboarding_continues_as_cycle_2(kickoff: Kickoff) -> None:
    """Restarting an onboarding that is still running gets 202 and the run goes on as cycle 2."""
    oid = await kickoff.start()
    response = await kickoff.post(f"/onboardings/{oid}/restart", {"reason": "rescheduled"})
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "cycle": 2, "stage": "onboarding"}

    state = await kickoff.until(oid, lambda s: s["cycle"] == 2 and "booking_reminder" in templates(s))
    assert state["stage"] == "onboarding"
    assert [(c["cycle"], c["final_stage"], c["restart_reason"]) for c in state["previous_cycles"]] == [
        (1, "onboarding", "rescheduled")
    ]
    assert len(kickoff.mails(oid, "welcome")) == 1


async def test_restarted_onboarding_can_be_booked_and_restarted_again(kickoff: Kickoff) -> None:
    """A second booking and restart give cycle 3, with both earlier cycles in previous_cycles: the
    first restart after a completed kick-off, the second while cycle 2 awaits its outcome."""
    oid = await kickoff.start()
    await kickoff.close(oid)
    assert (await kickoff.post(f"/onboardings/{oid}/restart", {"reason": "no_show"})).status_code == 202
    await kickoff.until(oid, lambda s: s["cycle"] == 2 and "booking_reminder" in templates(s))
    booked = await kickoff.book(oid)
    assert (booked["cycle"], booked["stage"], booked["status"]) == (2, "closed", "completed")

    response = await kickoff.post(f"/onboardings/{oid}/restart", {"reason": "rescheduled"})
    assert response.status_code == 202, response.text
    assert response.json()["cycle"] == 3
    state = await kickoff.until(oid, lambda s: s["cycle"] == 3)
    assert [c["cycle"] for c in state["previous_cycles"]] == [1, 2]
    assert [c["restart_reason"] for c in state["previous_cycles"]] == ["no_show", "rescheduled"]
    assert [c["final_stage"] for c in state["previous_cycles"]] == ["closed", "closed"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"reason": "bored"}, "reason"),
        ({"reason": "NO_SHOW"}, "reason"),
        ({}, "reason"),
        ({"reason": "no_show", "cycle": 5}, "cycle"),
    ],
    ids=["unknown-reason", "reason-wrong-case", "missing-reason", "unknown-field"],
)
async def test_restart_with_bad_reason_is_422_and_changes_nothing(
    kickoff: Kickoff, bystander: str, body: dict[str, Any], reason: str
) -> None:
    """A restart without one of the pipeline's reasons gets 422 and the onboarding stays in cycle 1."""
    before = await kickoff.state(bystander)
    response = await kickoff.post(f"/onboardings/{bystander}/restart", body)
    assert response.status_code == 422, response.text
    assert reason in response.text
    after = await kickoff.state(bystander)
    assert after["cycle"] == 1
    assert comparable(after) == comparable(before)


async def test_restart_of_unknown_onboarding_is_404(kickoff: Kickoff) -> None:
    """Restarting an onboarding id that does not exist gets 404 and starts nothing."""
    response = await kickoff.post("/onboardings/SE-C-never-signed/restart", {"reason": "no_show"})
    assert response.status_code == 404, response.text
    assert "SE-C-never-signed" in response.json()["detail"]
    assert (await kickoff.get("/onboardings/SE-C-never-signed")).status_code == 404


async def test_a_restart_sent_right_after_the_booking_waits_for_the_closing_run(kickoff: Kickoff) -> None:
    """A no-show reported while the run still sends its closing mail is accepted, not refused."""
    oid = await kickoff.start()
    booked = await kickoff.post(f"/onboardings/{oid}/meeting-booked", MEETING)
    assert booked.status_code == 202, booked.text
    response = await kickoff.post(f"/onboardings/{oid}/restart", {"reason": "no_show"})
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "cycle": 2, "stage": "onboarding"}
    state = await kickoff.until(oid, lambda s: s["cycle"] == 2 and "booking_reminder" in templates(s))
    assert state["previous_cycles"][0]["final_stage"] == "closed"
    assert len(kickoff.mails(oid, "kickoff_booked")) == 1  # the closing mail was not cut off
