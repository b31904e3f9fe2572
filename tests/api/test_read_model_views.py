"""GET /tasks and the views read Kickoff's read model: paged, current the moment a staff action is
answered, and with a booked run's "record the kick-off outcome" reminder after it completed."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.api.conftest import Kickoff
from tests.support import days_ahead

MEETING_AT = days_ahead(3, 10)


def _mine(tasks: list[dict[str, object]], oid: str) -> list[dict[str, object]]:
    return [t for t in tasks if t["onboarding_id"] == oid]


async def test_open_tasks_come_in_pages_linked_by_cursor(kickoff: Kickoff) -> None:
    """A page holds ``limit`` tasks and links the next one; following the links visits every
    open task once, soonest due first."""
    oid = await kickoff.start()
    everything = (await kickoff.get("/tasks", limit=1000)).json()
    seen: list[dict[str, object]] = []
    response = await kickoff.get("/tasks", limit=2)
    while True:
        assert response.status_code == 200, response.text
        seen += response.json()
        link = response.links.get("next")
        if link is None:
            break
        response = await kickoff.http.get(link["url"], headers=kickoff.api.auth)
    assert [t["id"] for t in seen] == [t["id"] for t in everything]
    assert _mine(seen, oid)
    due = [datetime.fromisoformat(str(t["due_at"])) for t in seen]
    assert due == sorted(due)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"after": "not-a-cursor"}, "after is not a cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"status": "done"}, "status"),
    ],
    ids=["bad-cursor", "limit-0", "limit-too-big", "status-done"],
)
async def test_bad_paging_is_a_422_with_a_reason(
    kickoff: Kickoff, params: dict[str, object], reason: str
) -> None:
    response = await kickoff.get("/tasks", **params)
    assert response.status_code == 422
    assert reason in response.text


async def test_a_done_task_is_gone_from_the_list_when_the_action_is_answered(kickoff: Kickoff) -> None:
    """The run writes its read model in the workflow task that applies the action, before
    Temporal answers it: no waiting, no stale list right after a staff action."""
    oid = await kickoff.start()
    [first, *_] = _mine((await kickoff.get("/tasks", limit=1000)).json(), oid)
    done = await kickoff.post(f"/tasks/{first['id']}/done")
    assert done.status_code == 202, done.text
    after = _mine((await kickoff.get("/tasks", limit=1000)).json(), oid)
    assert first["id"] not in {t["id"] for t in after}


async def test_a_booked_run_leaves_the_outcome_reminder_in_the_inbox_until_it_is_recorded(
    kickoff: Kickoff,
) -> None:
    """The run completes at the booking; its reminder to record the outcome (due 17:00 the day
    after the meeting, as pipelines.yaml says) is a task in GET /tasks, which "done" refuses
    (the outcome closes it), and which recording the outcome removes."""
    oid = await kickoff.start()
    await kickoff.book(oid, {"meeting_at": MEETING_AT.isoformat()})
    state = await kickoff.until(oid, lambda s: s["status"] == "completed")
    [reminder] = _mine((await kickoff.get("/tasks", limit=1000)).json(), oid)
    assert reminder["id"] == f"{oid}.{state['cycle']}.0"
    assert str(reminder["title"]).startswith("Efterarbete uppstartsmöte")
    due = datetime.fromisoformat(str(reminder["due_at"]))
    assert (due - MEETING_AT).days == 1 or due.date() > MEETING_AT.date()
    assert due.astimezone(MEETING_AT.tzinfo).strftime("%H:%M") == "17:00"

    refused = await kickoff.post(f"/tasks/{reminder['id']}/done")
    assert refused.status_code == 409
    assert "kickoff-outcome" in refused.json()["detail"]

    await kickoff.record_completed(oid)
    assert _mine((await kickoff.get("/tasks", limit=1000)).json(), oid) == []
