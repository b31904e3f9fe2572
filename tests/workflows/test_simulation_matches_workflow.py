"""The preview can be trusted: the simulator and the real workflow make the same plan.

For each of the four pipelines one script (a contract, then events, ticks, a task done and an
amendment at given moments) runs twice: through ``kickoff.simulate.preview`` on its simulated
clock, and through ``OnboardingWorkflow`` on the time-skipping test server with a real worker,
mail activity and read model. Both must enter the same stages, create the same tasks (title,
due time, status) and send the same mails (template, recipient, language) at the same moments,
and refuse the same actions for the same reason. Script moments are counted from the test
server's own clock (it starts at the real now), at 10:00 or 11:00 local time, away from the
pipelines' step times (08:00, 09:00, 16:00), so no step and action share a moment.

"The same moment" allows ``TOLERANCE``: the workflow applies an action when its update
arrives, a little after the clock was skipped to the action's moment, and records a mail as
sent when the activity returns; every planned moment (a step, a due time) is minute-exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from kickoff.domain import AmendInput, EventInput, FinishTaskInput, OnboardingState, TickInput
from kickoff.schedule import local_moment, zone
from kickoff.simulate import Simulation, preview
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.support import catalog, make_contract, settled_state, skip_to, start_run

TOLERANCE = timedelta(minutes=1)


@dataclass
class Script:
    """A contract's fields and the actions of one scenario, counted in days from ``today``."""

    today: date
    tz: str
    contract: dict[str, Any] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    end: datetime | None = None

    def at(self, day: int, clock: str = "10:00") -> datetime:
        """``day`` days after today at local ``clock``, as an aware moment."""
        return local_moment(self.today + timedelta(days=day), time.fromisoformat(clock), self.tz)

    def day(self, day: int) -> str:
        return (self.today + timedelta(days=day)).isoformat()

    def act(self, day: int, clock: str = "10:00", **action: Any) -> None:
        self.actions.append({"at": self.at(day, clock), **action})

    def until(self, day: int) -> None:
        self.end = self.at(day, "23:00")


def assist(s: Script) -> None:
    """Waits for a delivery start that is amended, is parked and resumes by itself, closes a call
    task twice (an event and by hand), refuses a resume, and completes with a booking."""
    s.contract = {"delivery_start": s.day(2), "language": "sv"}
    s.act(1, amend=s.day(4))  # onboarding begins on day 5 at 08:00
    s.act(6, event="call_logged", payload={"outcome": "answered", "note": "Trevligt samtal"})
    s.act(9, event="park", payload={"reason": "Semester", "until": s.day(17)})
    s.act(18, done="call")
    s.act(19, event="resume")  # refused: not parked any more
    s.act(21, event="meeting_booked", payload={"meeting_at": s.at(25).isoformat(), "booked_by": "Sara"})
    s.until(22)


def pakkepilot(s: Script) -> None:
    """In English with fulfilment only: a booked and held kick-off starts the business-day plan,
    go-live is refused until the customer's checklist is ticked, hypercare ends with feedback."""
    s.contract = {"delivery_start": s.day(0), "language": "en", "modules": ["fulfilment"]}
    s.act(1, event="kickoff_booked", payload={"meeting_at": s.at(2).isoformat()})
    s.act(2, "11:00", event="kickoff_held", payload={"note": "Volume 300 orders a week"})
    s.act(4, event="go_live")  # refused: the checklist is not ticked
    for item in ("portal_access", "integration_tested", "shipping_agreed", "returns_agreed"):
        s.act(5, tick=item)
    s.act(5, "11:00", tick="escalation_known")
    s.act(6, event="go_live", payload={"note": "Live"})
    s.act(7, event="issue_reported", payload={"description": "Label printer"})
    s.until(16)


def kundprocess(s: Script) -> None:
    """A customer card ticked in week 1 (its overdue step is skipped), the delivery programme, a
    partnership with a small and a large opportunity, a churn risk, the renewal deadline and both
    recurring steps (two continue-as-new), ended by the customer."""
    s.contract = {"delivery_start": s.day(0), "language": "en", "dates": {"renewal": s.day(140)}}
    s.act(1, event="contact_logged", payload={"channel": "phone", "summary": "Intro"})
    s.act(2, event="start_delivery")  # refused: the customer card is not complete
    for item in ("enrich_data", "decision_makers", "email_details", "services_bought"):
        s.act(3, tick=item)
    s.act(3, "11:00", tick="future_opportunities")
    s.act(3, "11:00", tick="customer_folder")
    s.act(9, event="start_delivery")
    s.act(70, event="opportunity_logged", payload={
        "title": "Fler licenser", "value": 250000, "expected_on": s.day(100), "status": "pipeline",
    })  # fmt: skip
    # A large one: where the pipeline says so, the sales team is involved.
    s.act(72, event="opportunity_logged", payload={
        "title": "Koncernavtal", "value": 600000, "expected_on": s.day(120), "status": "pipeline",
    })  # fmt: skip
    s.act(75, event="churn_risk", payload={"reason": "Ny VD"})
    s.act(158, event="partnership_ended", payload={"reason": "Uppköpta"})
    s.until(160)


def wisenetwork(s: Script) -> None:
    """CMS, CRM and the accountant's training only: a held kick-off (reported an hour late), a
    tick of a training the contract lacks is refused, launch once both checklists are done."""
    s.contract = {"delivery_start": s.day(0), "language": "fi", "modules": ["cms", "crm", "accounting"]}
    s.act(4, event="call_logged", payload={"outcome": "no_answer"})
    s.act(5, event="kickoff_held", payload={"held_at": s.at(5, "09:00").isoformat()})
    s.act(6, tick="training_sales")  # refused: not part of this contract's modules
    s.act(8, event="system_opened")
    for item in ("training_crm_cms", "training_accountant", "domain_dns", "content_moved", "settings_done"):
        s.act(9, tick=item)
    s.act(10, event="launched", payload={"web_address": "https://asiakas.example"})
    s.until(12)


SCRIPTS: dict[str, Callable[[Script], None]] = {
    "assist-se": assist,
    "pakkepilot-no": pakkepilot,
    "kundprocess-se": kundprocess,
    "wisenetwork-fi": wisenetwork,
}


# ---------------------------------------------------------------- the two runs


def _oldest_open(state: OnboardingState, kind: str) -> str:
    """The task a ``done: <kind>`` action marks done, as the simulator picks it."""
    open_tasks = [t for t in state.open_tasks() if t.kind == kind or t.title == kind]
    return min(open_tasks, key=lambda t: t.due_at).id if open_tasks else f"none-of-kind-{kind}"


async def _perform(handle: WorkflowHandle[Any, Any], state: OnboardingState, action: dict[str, Any]) -> None:
    """The action as the API sends it: one update of the run."""
    if "event" in action:
        event = EventInput(name=action["event"], payload=action.get("payload", {}))
        await handle.execute_update(OnboardingWorkflow.apply_event, event)
    elif "tick" in action:
        await handle.execute_update(OnboardingWorkflow.tick_item, TickInput(item=action["tick"]))
    elif "done" in action:
        finish = FinishTaskInput(task=_oldest_open(state, action["done"]))
        await handle.execute_update(OnboardingWorkflow.finish_task, finish)
    else:
        amend = AmendInput(delivery_start=date.fromisoformat(action["amend"]))
        await handle.execute_update(OnboardingWorkflow.amend_contract, amend)


async def run_workflow(
    env: WorkflowEnvironment, task_queue: str, script: Script, contract: Any
) -> tuple[OnboardingState, datetime, list[str | None]]:
    """The script through the real workflow: its final state, when it started, and each
    action's refusal (None: accepted)."""
    handle = await start_run(env, task_queue, contract)
    started = (await settled_state(env, handle)).visits[0].entered_at
    refusals: list[str | None] = []
    for action in script.actions:
        await skip_to(env, action["at"])
        state = await settled_state(env, handle)  # every step due by now has fired
        try:
            await _perform(handle, state, action)
        except WorkflowUpdateFailedError as failed:
            cause = failed.cause
            refusals.append(cause.message if isinstance(cause, ApplicationError) else repr(cause))
        else:
            refusals.append(None)
    assert script.end is not None
    await skip_to(env, script.end)
    return await settled_state(env, handle), started, refusals


# ---------------------------------------------------------------- comparing


def near(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= TOLERANCE


def assert_same_plan(state: OnboardingState, sim: Simulation, refusals: list[str | None]) -> None:
    """Stages, tasks, mails, refusals and the end agree, each moment within TOLERANCE."""
    ran = [(v.stage, v.entered_at) for v in state.visits]
    previewed = [(s.stage, s.at) for s in sim.stages]
    assert [s for s, _ in ran] == [s for s, _ in previewed]
    assert all(near(a, b) for (_, a), (_, b) in zip(ran, previewed, strict=True)), (ran, previewed)

    tasks = {t.id: t for t in sim.tasks}
    assert [t.id for t in state.tasks] == list(tasks)
    for task in state.tasks:
        planned = tasks[task.id]
        fields = ("title", "kind", "owner", "owner_role", "status", "resolution")
        assert [getattr(task, f) for f in fields] == [getattr(planned, f) for f in fields], task.title
        assert near(task.created_at, planned.created.at), task.title
        assert near(task.due_at, planned.due.at), task.title
        assert near(task.done_at, planned.done.at if planned.done else None), task.title

    sent = [(m.template, m.to, m.language) for m in state.emails]
    assert sent == [(m.template, m.to, m.language) for m in sim.mails]
    moments = [(m.template, m.sent_at, p.at) for m, p in zip(state.emails, sim.mails, strict=True)]
    assert all(near(sent, planned) for _, sent, planned in moments), moments

    assert refusals == [outcome.refusal for outcome in sim.script]
    assert (state.stage, state.status) == (sim.stage, sim.status)


@pytest.mark.parametrize("pipeline_id", list(SCRIPTS))
async def test_simulation_and_workflow_make_the_same_plan(
    ts_env: WorkflowEnvironment, ts_worker: Any, task_queue: str, pipeline_id: str
) -> None:
    """One script per pipeline: the preview's stages, tasks, mails and refusals are the run's."""
    pipelines = catalog()
    tz = pipelines.pipelines[pipeline_id].timezone
    now = await ts_env.get_current_time()
    script = Script(today=now.astimezone(zone(tz)).date(), tz=tz)
    SCRIPTS[pipeline_id](script)
    contract = make_contract(pipeline=pipeline_id, signed_at=now.isoformat(), **script.contract)

    state, started, refusals = await run_workflow(ts_env, task_queue, script, contract)
    sim = preview(
        pipelines,
        pipeline_id,
        contract.model_dump(mode="json"),
        start=started,
        script=script.actions,
        until=script.end,
    )

    assert_same_plan(state, sim, refusals)
    assert any(refusals), "the script has a refused action"
    assert not all(refusals), "and accepted ones"
    assert (sim.ended, state.status) == ("goal", "completed")
