"""Reading onboardings (one, and lists from visibility) and staff tasks across onboardings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.api.conftest import PAST_DELIVERY, Kickoff
from tests.support import catalog, contract_payload, eventually


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for row in rows]


async def _list(kickoff: Kickoff, **params: Any) -> list[dict[str, Any]]:
    response = await kickoff.get("/onboardings", **params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


async def _open_tasks(kickoff: Kickoff, **params: Any) -> list[dict[str, Any]]:
    response = await kickoff.get("/tasks", status="open", **params)
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


# ---------------------------------------------------------------- one onboarding


async def test_get_onboarding_returns_the_run_with_tasks_mails_and_timeline(kickoff: Kickoff) -> None:
    """GET /onboardings/{id} shows the contract's people, stage, tasks, sent mails and a sorted timeline."""
    payload = contract_payload(
        delivery_start=PAST_DELIVERY,
        main_user={"name": "Åsa Öberg", "email": "asa@example.se", "phone": "+46 70 123 45 67"},
    )
    oid = await kickoff.start(**payload)
    state = await kickoff.state(oid)

    assert state["id"] == oid
    assert state["pipeline"] == "assist-se"
    assert state["pipeline_version"] == catalog().version("assist-se")
    assert state["cycle"] == 1
    assert state["stage"] == "onboarding"
    assert state["stage_label"] == "Onboarding – Pågår"
    assert datetime.fromisoformat(state["stage_entered_at"]).tzinfo is not None
    assert state["status"] == "running"
    assert state["customer"] == payload["customer"]
    assert state["main_user"] == payload["main_user"]
    assert state["delivery_start"] == PAST_DELIVERY
    assert state["previous_cycles"] == []

    assert {t["kind"] for t in state["tasks"]} == {"call", "todo"}
    for task in state["tasks"]:
        assert {"id", "kind", "title", "due_at", "status"} <= set(task)
        assert task["id"].startswith(f"{oid}.1.")
    [welcome] = state["emails"]
    assert (welcome["template"], welcome["to"]) == ("welcome", "asa@example.se")
    assert datetime.fromisoformat(welcome["sent_at"]).tzinfo is not None

    timeline = state["timeline"]
    assert timeline[0]["event"] == "contract_received"
    assert {"stage_entered", "task_created", "mail_sent"} <= {e["event"] for e in timeline}
    moments = [datetime.fromisoformat(e["at"]) for e in timeline]
    assert moments == sorted(moments)


async def test_get_completed_onboarding_still_answers(kickoff: Kickoff) -> None:
    """A closed onboarding (its run completed) is still readable, with status completed."""
    oid = await kickoff.start()
    await kickoff.close(oid)
    await kickoff.api.client.get_workflow_handle(oid).result()  # the run has really ended
    state = await kickoff.state(oid)
    assert (state["status"], state["stage"]) == ("completed", "closed")
    assert [m["template"] for m in state["emails"]] == ["welcome", "kickoff_booked"]


async def test_get_unknown_onboarding_is_404(kickoff: Kickoff) -> None:
    """GET of an onboarding id that does not exist gets 404 naming it."""
    response = await kickoff.get("/onboardings/SE-C-unknown-42")
    assert response.status_code == 404, response.text
    assert "SE-C-unknown-42" in response.json()["detail"]


# ---------------------------------------------------------------- lists


async def test_list_by_stage_and_pipeline_finds_the_running_onboarding(kickoff: Kickoff) -> None:
    """The list filtered by stage and pipeline shows a running onboarding once visibility catches up."""
    oid = await kickoff.start()
    rows = await eventually(
        lambda: _list(kickoff, stage="onboarding", pipeline="assist-se"), lambda r: oid in _ids(r)
    )
    [row] = [r for r in rows if r["id"] == oid]
    assert row["pipeline"] == "assist-se"
    assert row["stage"] == "onboarding"
    assert row["status"] == "running"
    assert row["pipeline_version"] == catalog().version("assist-se")
    assert all(r["stage"] == "onboarding" and r["pipeline"] == "assist-se" for r in rows)
    assert oid not in _ids(await _list(kickoff, stage="new"))
    assert oid in _ids(await _list(kickoff))


async def test_list_shows_a_closed_onboarding_under_closed(kickoff: Kickoff) -> None:
    """A booked onboarding is listed under stage closed with status completed: the booking
    completed the run (its kick-off outcome is recorded in Kickoff's database)."""
    oid = await kickoff.start()
    await kickoff.book(oid)
    rows = await eventually(
        lambda: _list(kickoff, stage="closed"),
        lambda r: any(row["id"] == oid and row["status"] == "completed" for row in r),
    )
    assert all(r["stage"] == "closed" for r in rows)
    assert [row["status"] for row in rows if row["id"] == oid] == ["completed"]
    assert oid not in _ids(await _list(kickoff, stage="onboarding"))


@pytest.mark.parametrize(
    "held_first",
    [
        pytest.param(False, id="awaiting-the-outcome"),
        pytest.param(True, id="after-a-completed-kick-off"),
    ],
)
async def test_list_shows_a_restarted_onboarding_once(kickoff: Kickoff, held_first: bool) -> None:
    """After a restart of a closed onboarding, the list shows only its new, running cycle: whether
    the run continued as new (restarted while awaiting the outcome) or a new run started after the
    completed one."""
    oid = await kickoff.start()
    if held_first:
        await kickoff.close(oid)
    else:
        await kickoff.book(oid)
    assert (await kickoff.post(f"/onboardings/{oid}/restart", {"reason": "no_show"})).status_code == 202
    new_run = await kickoff.run_id(oid)

    def only_new_cycle(rows: list[dict[str, Any]]) -> bool:
        # A run that continued as new starts with the attributes of the run before it (stage
        # closed) until its own upsert reaches visibility: wait for the new cycle's stage too.
        return [(r["run_id"], r["stage"]) for r in rows if r["id"] == oid] == [(new_run, "onboarding")]

    rows = await eventually(lambda: _list(kickoff, pipeline="assist-se"), only_new_cycle)
    [row] = [r for r in rows if r["id"] == oid]
    assert (row["stage"], row["status"]) == ("onboarding", "running")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"stage": "nowhere"}, "unknown stage"),
        ({"pipeline": "assist-no"}, "unknown pipeline"),
        ({"stage": "onboarding", "pipeline": "assist-no"}, "unknown pipeline"),
        ({"stage": "Onboarding"}, "unknown stage"),
        ({"stage": "x' OR WorkflowType != '"}, "unknown stage"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
    ],
    ids=[
        "unknown-stage",
        "unknown-pipeline",
        "known-stage-unknown-pipeline",
        "stage-wrong-case",
        "injection",
        "limit-0",
        "limit-too-big",
    ],
)
async def test_list_with_unknown_filter_is_422(kickoff: Kickoff, params: dict[str, Any], reason: str) -> None:
    """Listing by a stage or pipeline no pipeline defines, or a bad limit, gets 422 with a reason."""
    response = await kickoff.get("/onboardings", **params)
    assert response.status_code == 422, response.text
    assert reason in response.text


# ---------------------------------------------------------------- tasks


async def test_open_tasks_span_onboardings_soonest_due_first(kickoff: Kickoff) -> None:
    """GET /tasks?status=open lists both onboardings' open tasks with their onboarding, soonest due first."""
    first = await kickoff.start()
    second = await kickoff.start()
    tasks = await eventually(
        lambda: _open_tasks(kickoff), lambda t: {first, second} <= {task["onboarding_id"] for task in t}
    )
    due = [datetime.fromisoformat(task["due_at"]) for task in tasks]
    assert due == sorted(due)
    for oid in (first, second):
        state = await kickoff.state(oid)
        expected = {t["id"] for t in state["tasks"] if t["status"] == "open"}
        listed = [t for t in tasks if t["onboarding_id"] == oid]
        assert {t["id"] for t in listed} == expected
        assert all(t["status"] == "open" and t["stage"] == "onboarding" for t in listed)
        assert all(t["pipeline"] == "assist-se" for t in listed)
    # Each onboarding's call is due today and its todos tomorrow: the calls interleave before the todos.
    ours = [t for t in tasks if t["onboarding_id"] in (first, second)]
    assert [t["kind"] for t in ours] == ["call", "call", "todo", "todo", "todo", "todo"]


async def test_open_tasks_filtered_by_owner_role(kickoff: Kickoff) -> None:
    """owner_role narrows the open tasks to that role's."""
    oid = await kickoff.start()
    tasks = await eventually(
        lambda: _open_tasks(kickoff, owner_role="staff"), lambda t: oid in {x["onboarding_id"] for x in t}
    )
    assert {t["owner_role"] for t in tasks} == {"staff"}
    assert oid not in {t["onboarding_id"] for t in await _open_tasks(kickoff, owner_role="onboarding_lead")}


async def test_open_tasks_filtered_by_owner_side(kickoff: Kickoff) -> None:
    """owner=customer lists what the customer still owes, owner=vendor our own work; anything else is 422."""
    response = await kickoff.submit(contract_payload(pipeline="pakkepilot-no", delivery_start=PAST_DELIVERY))
    assert response.status_code == 202, response.text
    oid = response.json()["id"]

    def mine(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [t for t in tasks if t["onboarding_id"] == oid]

    customer = mine(await eventually(lambda: _open_tasks(kickoff, owner="customer"), lambda t: bool(mine(t))))
    vendor = mine(await _open_tasks(kickoff, owner="vendor"))
    everything = mine(await _open_tasks(kickoff))
    assert {t["owner"] for t in customer} == {"customer"}
    assert {t["owner"] for t in vendor} == {"vendor"}
    assert len(customer) >= 5
    assert len(vendor) >= 1
    assert sorted(t["id"] for t in customer + vendor) == sorted(t["id"] for t in everything)
    assert (await kickoff.get("/tasks", owner="partner")).status_code == 422


async def test_tasks_with_other_status_filter_is_422(kickoff: Kickoff) -> None:
    """Only status=open can be listed."""
    response = await kickoff.get("/tasks", status="done")
    assert response.status_code == 422, response.text
    assert "status" in response.text


async def test_task_done_closes_it_and_a_second_time_is_409(kickoff: Kickoff) -> None:
    """Marking a task done gets 202 and drops it from the open list; doing it again gets 409."""
    oid = await kickoff.start()
    task = next(t for t in (await kickoff.state(oid))["tasks"] if t["kind"] == "todo")

    response = await kickoff.post(f"/tasks/{task['id']}/done")
    assert response.status_code == 202, response.text
    assert response.json() == {"id": task["id"], "onboarding_id": oid}
    state = await kickoff.state(oid)
    [done] = [t for t in state["tasks"] if t["id"] == task["id"]]
    assert done["status"] == "done"
    assert done["done_at"] is not None
    listed = await eventually(lambda: _open_tasks(kickoff), lambda t: oid in {x["onboarding_id"] for x in t})
    assert task["id"] not in {t["id"] for t in listed}

    again = await kickoff.post(f"/tasks/{task['id']}/done")
    assert again.status_code == 409, again.text
    assert "already done" in again.json()["detail"]
    assert (await kickoff.state(oid))["tasks"] == state["tasks"]


async def test_task_of_a_closed_onboarding_cannot_be_done(kickoff: Kickoff) -> None:
    """A task of a completed onboarding gets 409: it was closed with the onboarding."""
    oid = await kickoff.start()
    task_id = (await kickoff.state(oid))["tasks"][0]["id"]
    closed = await kickoff.close(oid)
    assert not [t for t in closed["tasks"] if t["kind"] == "kickoff_outcome"]  # none in the run
    response = await kickoff.post(f"/tasks/{task_id}/done")
    assert response.status_code == 409, response.text


@pytest.mark.parametrize(
    "task_id",
    ["nonsense", "SE-C-nobody.1.1", "SE-C-nobody.x.1", "{oid}.1.99", "{oid}.2.1"],
    ids=["not-a-task-id", "unknown-onboarding", "malformed-cycle", "unknown-number", "other-cycle"],
)
async def test_unknown_task_is_404(kickoff: Kickoff, bystander: str, task_id: str) -> None:
    """Marking a task id that exists nowhere done gets 404."""
    response = await kickoff.post(f"/tasks/{task_id.format(oid=bystander)}/done")
    assert response.status_code == 404, response.text
    assert response.json()["detail"]
