"""Staff actions on a running onboarding: meeting booked, calls, park and resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kickoff.mailcatcher import MailCatcher
from tests.api.conftest import NO_ANSWER, TEAM_EMAIL, Kickoff, comparable, events, templates
from tests.conftest import Api
from tests.support import STOCKHOLM, days_ahead, sthlm

UNKNOWN = "SE-C-nobody-signed-this"
# 10:00 in Stockholm three days from now, sent in UTC.
MEETING_AT = days_ahead(3, 10)
MEETING = {"meeting_at": MEETING_AT.astimezone(UTC).isoformat(), "booked_by": "Anna på kundtjänst"}
ACTIONS = [
    pytest.param("meeting-booked", MEETING, id="meeting-booked"),
    pytest.param("calls", {"outcome": "answered"}, id="calls"),
    pytest.param("park", {"reason": "semester"}, id="park"),
    pytest.param("resume", None, id="resume"),
]


@pytest.fixture(scope="module")
async def closed_onboarding(shared_api: Api, smtp: MailCatcher) -> str:
    """One onboarding whose meeting was booked, held and recorded, and whose run has completed."""
    helper = Kickoff(shared_api, smtp)
    oid = await helper.start()
    await helper.close(oid, MEETING)
    return oid


def _timeline_details(state: dict[str, Any], event: str) -> list[str]:
    return [entry["detail"] for entry in state["timeline"] if entry["event"] == event]


# ---------------------------------------------------------------- meeting booked


async def test_meeting_booked_closes_the_onboarding_and_mails_the_team(kickoff: Kickoff) -> None:
    """A booked meeting gets 202, moves the run to closed, finishes its tasks and sends kickoff_booked
    to the team; then the run completes, sending nothing more, and the outcome is awaited."""
    oid = await kickoff.start()
    response = await kickoff.post(f"/onboardings/{oid}/meeting-booked", MEETING)
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "closed"}

    state = await kickoff.until(oid, lambda s: s["status"] == "completed")
    assert (state["stage"], state["awaiting_outcome"]) == ("closed", True)
    assert state["stage_label"] == "Avslutad"
    assert state["kickoff_outcome"] is None
    assert state["emails"][-1]["template"] == "kickoff_booked"
    assert state["emails"][-1]["to"] == TEAM_EMAIL
    assert any("Anna på kundtjänst" in detail for detail in _timeline_details(state, "meeting_booked"))
    # Automation has stopped: every task is done, and none waits for the outcome.
    assert all(task["status"] == "done" for task in state["tasks"])
    [mail] = kickoff.mails(oid, "kickoff_booked")
    assert mail["To"] == TEAM_EMAIL
    assert oid in str(mail["Subject"])
    text = mail.get_body(("plain",))
    assert text is not None
    assert f"{MEETING_AT:%Y-%m-%d} 10:00" in text.get_content()  # the meeting in Stockholm time

    final = await kickoff.record_completed(oid)
    assert (final["status"], final["stage"], final["awaiting_outcome"]) == ("completed", "closed", False)
    assert final["emails"] == state["emails"]  # the outcome sends no mail
    assert len(kickoff.mails(oid, "kickoff_booked")) == 1


@pytest.mark.parametrize(("path", "body"), ACTIONS)
async def test_action_on_a_closed_onboarding_is_409_and_changes_nothing(
    kickoff: Kickoff, closed_onboarding: str, path: str, body: Any
) -> None:
    """Any staff action on an onboarding whose run has completed gets 409 and sends no further mail."""
    before = await kickoff.state(closed_onboarding)
    response = await kickoff.post(f"/onboardings/{closed_onboarding}/{path}", body)
    assert response.status_code == 409, response.text
    assert "completed" in response.json()["detail"]
    assert comparable(await kickoff.state(closed_onboarding)) == comparable(before)
    assert len(kickoff.mails(closed_onboarding, "kickoff_booked")) == 1


@pytest.mark.parametrize(("path", "body"), ACTIONS)
async def test_action_on_unknown_onboarding_is_404(kickoff: Kickoff, path: str, body: Any) -> None:
    """A staff action on an onboarding id that does not exist gets 404 naming the id."""
    response = await kickoff.post(f"/onboardings/{UNKNOWN}/{path}", body)
    assert response.status_code == 404, response.text
    assert UNKNOWN in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("meeting-booked", {}, "meeting_at"),
        ("meeting-booked", {"meeting_at": MEETING_AT.replace(tzinfo=None).isoformat()}, "timezone"),
        ("meeting-booked", {"meeting_at": "tomorrow"}, "meeting_at"),
        ("meeting-booked", {**MEETING, "room": "A"}, "room"),
        ("meeting-booked", {**MEETING, "booked_by": "x" * 201}, "booked_by"),
        ("calls", {"outcome": "maybe"}, "outcome"),
        ("calls", {"outcome": "NO_ANSWER"}, "outcome"),
        ("calls", {}, "outcome"),
        ("calls", {"outcome": "answered", "note": "x" * 2001}, "note"),
        ("park", {}, "reason"),
        ("park", {"reason": ""}, "reason"),
        ("park", {"reason": "semester", "until": "after the holidays"}, "until"),
        ("park", {"reason": "semester", "until": "2020-01-01"}, "until 2020-01-01 is too early"),
    ],
    ids=[
        "meeting-missing-time",
        "meeting-naive-time",
        "meeting-not-a-time",
        "meeting-unknown-field",
        "meeting-booked-by-too-long",
        "call-unknown-outcome",
        "call-outcome-wrong-case",
        "call-missing-outcome",
        "call-note-too-long",
        "park-missing-reason",
        "park-empty-reason",
        "park-bad-until",
        "park-until-in-the-past",
    ],
)
async def test_invalid_action_body_is_422_and_changes_nothing(
    kickoff: Kickoff, bystander: str, path: str, body: dict[str, Any], reason: str
) -> None:
    """An action with an invalid body gets 422 naming the problem, and the onboarding stays as it was."""
    before = await kickoff.state(bystander)
    response = await kickoff.post(f"/onboardings/{bystander}/{path}", body)
    assert response.status_code == 422, response.text
    assert reason in response.text
    assert comparable(await kickoff.state(bystander)) == comparable(before)


# ---------------------------------------------------------------- calls


@pytest.mark.parametrize(
    ("outcome", "label"),
    [("no_answer", NO_ANSWER), ("answered", "Samtal genomfört")],
)
async def test_logged_call_goes_on_the_timeline_and_closes_the_call_task(
    kickoff: Kickoff, outcome: str, label: str
) -> None:
    """A logged call gets 202, adds its outcome label and note to the timeline, and closes the call task."""
    oid = await kickoff.start()
    before = await kickoff.state(oid)
    [call_task] = [t for t in before["tasks"] if t["kind"] == "call" and t["status"] == "open"]
    todos = [t["id"] for t in before["tasks"] if t["kind"] == "todo"]

    response = await kickoff.post(f"/onboardings/{oid}/calls", {"outcome": outcome, "note": "ringde 10:05"})
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "onboarding"}

    state = await kickoff.state(oid)
    [detail] = _timeline_details(state, "call_logged")
    assert detail.startswith(label)
    assert "ringde 10:05" in detail
    tasks = {t["id"]: t for t in state["tasks"]}
    assert tasks[call_task["id"]]["status"] == "done"
    assert [tasks[t]["status"] for t in todos] == ["open"] * len(todos)


async def test_call_without_open_call_task_is_logged_and_closes_nothing_else(kickoff: Kickoff) -> None:
    """A second call, with no call task left open, is still logged and leaves the todo tasks open."""
    oid = await kickoff.start()
    for _ in range(2):
        response = await kickoff.post(f"/onboardings/{oid}/calls", {"outcome": "no_answer"})
        assert response.status_code == 202, response.text
    state = await kickoff.state(oid)
    assert _timeline_details(state, "call_logged") == [NO_ANSWER, NO_ANSWER]
    assert {t["kind"] for t in state["tasks"] if t["status"] == "open"} == {"todo"}
    assert state["stage"] == "onboarding"


# ---------------------------------------------------------------- park and resume


async def test_park_with_until_date_moves_to_manual_follow_up_and_plans_the_resume(kickoff: Kickoff) -> None:
    """Parking gets 202, moves the run to manual_follow_up and plans its resume at 08:00 on the until date."""
    oid = await kickoff.start()
    until = (datetime.now(STOCKHOLM) + timedelta(days=9)).date()
    response = await kickoff.post(
        f"/onboardings/{oid}/park", {"reason": "semester", "until": until.isoformat()}
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "manual_follow_up"}

    state = await kickoff.state(oid)
    assert state["stage"] == "manual_follow_up"
    assert state["stage_label"] == "Manuell uppföljning"
    assert state["next_step"] == "resume onboarding on the agreed date"
    planned = datetime.fromisoformat(state["next_step_at"])
    assert planned == sthlm(until.year, until.month, until.day, 8)
    assert any("semester" in detail for detail in _timeline_details(state, "park"))


async def test_park_without_until_date_waits_for_staff(kickoff: Kickoff) -> None:
    """Parking without an until date leaves nothing scheduled."""
    oid = await kickoff.start()
    response = await kickoff.post(f"/onboardings/{oid}/park", {"reason": "kunden hör av sig"})
    assert response.status_code == 202, response.text
    state = await kickoff.state(oid)
    assert state["stage"] == "manual_follow_up"
    assert state["next_step"] is None
    assert state["next_step_at"] is None


async def test_park_twice_is_409(kickoff: Kickoff) -> None:
    """Parking an already parked onboarding gets 409 with a reason and changes nothing."""
    oid = await kickoff.start()
    assert (await kickoff.post(f"/onboardings/{oid}/park", {"reason": "semester"})).status_code == 202
    before = await kickoff.state(oid)
    response = await kickoff.post(f"/onboardings/{oid}/park", {"reason": "igen"})
    assert response.status_code == 409, response.text
    assert "manual_follow_up" in response.json()["detail"]
    assert comparable(await kickoff.state(oid)) == comparable(before)


async def test_resume_returns_to_onboarding_without_a_second_welcome(kickoff: Kickoff) -> None:
    """Resuming a parked run gets 202 and re-enters onboarding without a second welcome mail or call task."""
    oid = await kickoff.start()
    assert (await kickoff.post(f"/onboardings/{oid}/park", {"reason": "semester"})).status_code == 202

    response = await kickoff.post(f"/onboardings/{oid}/resume")
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "onboarding"}
    resumed = await kickoff.state(oid)
    assert resumed["stage"] == "onboarding"
    assert resumed["next_step"] == "day 3 call task"
    assert "resume" in events(resumed)

    # Barrier: mails go out in order, so once the team's kickoff_booked mail is recorded,
    # a welcome mail queued by the resume would have been recorded before it.
    assert (await kickoff.post(f"/onboardings/{oid}/meeting-booked", MEETING)).status_code == 202
    state = await kickoff.until(oid, lambda s: "kickoff_booked" in templates(s))
    assert templates(state) == ["welcome", "kickoff_booked"]
    assert len(kickoff.mails(oid, "welcome")) == 1
    assert [t["title"] for t in state["tasks"] if t["kind"] == "call"] == [
        "Välkomstsamtal till huvudanvändaren"
    ]


async def test_resume_when_not_parked_is_409_with_a_reason(kickoff: Kickoff) -> None:
    """Resuming an onboarding that is not parked gets 409 naming its stage, and changes nothing."""
    oid = await kickoff.start()
    before = await kickoff.state(oid)
    response = await kickoff.post(f"/onboardings/{oid}/resume")
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert "resume" in detail
    assert "onboarding" in detail
    assert comparable(await kickoff.state(oid)) == comparable(before)
