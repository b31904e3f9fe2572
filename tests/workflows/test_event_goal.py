"""A goal can be an event, not only a stage: applying it completes the run where it stands."""

from __future__ import annotations

from datetime import timedelta

from kickoff.pipelines import parse_pipelines
from tests.support import PIPELINES_FILE, local_date, make_contract, send_event, settled_state, start_run


def with_a_cancellation_event():
    """assist-se plus an event that ends the onboarding in whatever stage it is (a cancelled contract)."""
    text = PIPELINES_FILE.read_text(encoding="utf-8")
    marker = "    events:\n      meeting_booked:\n"
    assert text.count(marker) == 1
    text = text.replace(
        marker,
        "    events:\n"
        "      contract_cancelled:\n"
        "        label: Avtalet uppsagt\n"
        "        payload:\n"
        "          reason: {type: text, required: true}\n"
        "        goal: true\n"
        "        do:\n"
        "          - notify: {subject: 'Uppsagt: {{ onboarding_id }}', text: '{{ event.payload.reason }}'}\n"
        "      meeting_booked:\n",
    )
    return parse_pipelines(text, source="event-goal.yaml")


async def test_a_goal_event_completes_the_run_in_its_stage_after_its_actions(
    ts_env, ts_worker, task_queue, smtp
):
    """The run stays in `onboarding`, performs the event's notify (a mail to the team carrying the
    reason), closes its open tasks and completes."""
    now = await ts_env.get_current_time()
    contract = make_contract(delivery_start=(local_date(now) - timedelta(days=2)).isoformat())
    handle = await start_run(ts_env, task_queue, contract, with_a_cancellation_event())
    assert (await settled_state(ts_env, handle)).stage == "onboarding"

    assert await send_event(handle, "contract_cancelled", reason="Konkurs") == "onboarding"
    final = await handle.result()

    assert final.status == "completed"
    assert final.stage == "onboarding"
    assert final.goal_event == "contract_cancelled"
    assert not final.open_tasks()
    team_mails = [m for m in smtp.for_onboarding(final.id) if m["To"] == "onboarding-team@assist.example"]
    assert [m["Subject"] for m in team_mails] == [f"Uppsagt: {final.id}"]
    text = team_mails[0].get_body(("plain",))
    assert text is not None
    assert "Konkurs" in text.get_content()
