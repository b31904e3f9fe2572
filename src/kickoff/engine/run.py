"""The run's state machine: start, enter a stage, apply an event, fire a step, close.

``Run`` holds one run's state and its pipeline snapshot and changes them in
response to what happens; it never sleeps, sends or reads a clock (every method
takes ``now``), so a unit test drives it in microseconds. What reaches outside
the run (mail) is left in ``queue`` as ``Work`` for the workflow to perform.

Two ways to perform a stage's actions, chosen per run by the workflow:

* **state first** (runs started by this release): tasks, notes and moves are
  applied the moment their stage is entered or their step fires; only mail
  waits in the queue. When the run moves on, queued mail of the stage visit it
  left is dropped, but no task is ever lost.
* **queued** (runs started earlier, replayed exactly as they ran): every
  action waits in the queue, performed one at a time after the mail before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import assert_never

from kickoff.domain import (
    CUSTOMER,
    AmendInput,
    ChecklistItemState,
    CycleSummary,
    EventInput,
    KickoffOutcome,
    OnboardingInput,
    OnboardingState,
    OutcomeInput,
    RestartInput,
    StageVisit,
    TaskResolution,
    TickInput,
)
from kickoff.engine import plan
from kickoff.engine.bookkeeping import Bookkeeping
from kickoff.engine.conditions import Facts, chosen, event_facts, holds
from kickoff.engine.messages import Work, mail_name
from kickoff.engine.rules import awaits_outcome, is_finished, payload_of, text
from kickoff.pipelines.model import Deadline, EntryKind, Pipeline, Step
from kickoff.pipelines.payload import JsonScalar
from kickoff.schedule import start_of_day

EnterHook = Callable[["Run", str], None]


@dataclass
class Run(Bookkeeping):
    pipeline: Pipeline
    state: OnboardingState
    state_first: bool = True
    on_enter: EnterHook | None = None
    """Called after each stage entry (the workflow counts it, and older runs upsert there)."""
    queue: list[Work] = field(default_factory=list)
    restart: RestartInput | None = None
    """Set by a restart (or a no-show): the run continues as the next cycle."""
    roll_over: bool = False
    """A recurring step fired: the run continues as new, so years in one stage stay short."""
    _transition: int = 0
    _last_entry: int = 0

    # ------------------------------------------------------------------ start

    @classmethod
    def start(
        cls,
        input: OnboardingInput,
        now: datetime,
        *,
        state_first: bool = True,
        on_enter: EnterHook | None = None,
    ) -> Run:
        """The run an input describes: carried on from a continue-as-new, or a new cycle."""
        pipeline = input.pipeline
        if input.carried_state is not None:
            return cls(pipeline, input.carried_state, state_first, on_enter)
        tz = pipeline.timezone
        first = pipeline.restart.stage if input.cycle > 1 else pipeline.start_stage
        contract = input.contract
        state = OnboardingState(
            id=input.onboarding_id,
            cycle=input.cycle,
            pipeline=pipeline.id,
            pipeline_version=input.pipeline_version,
            stage=first,
            stage_label=pipeline.stage(first).label,
            stage_entered_at=now,
            contract=contract,
            anchors={
                "signed_at": contract.signed_at,
                "delivery_start": start_of_day(contract.delivery_start, tz),
            },
            previous_cycles=input.previous_cycles,
            modules=pipeline.modules_for(contract.modules),
        )
        state.checklist = [
            ChecklistItemState(id=item.id, checklist=cid, label=item.label, owner=item.owner)
            for cid, checklist in pipeline.checklists.items()
            for item in checklist.items
            if plan.for_modules(state, item.modules)
        ]
        for name, day in contract.dates.items():
            state.anchors[f"contract:{name}"] = start_of_day(day, tz)
        run = cls(pipeline, state, state_first, on_enter)
        if input.cycle > 1:
            run.note(now, "restarted", f"reason: {input.restart_reason}")
        else:
            run.note(now, "contract_received", f"pipeline {pipeline.id}")
        run._begin()
        run.enter(first, now)
        return run

    # ------------------------------------------------------------ questions

    def visit(self) -> tuple[str, int]:
        return self.state.stage, self.state.entry_count[self.state.stage]

    def finished(self) -> bool:
        return is_finished(self.state, self.pipeline)

    def superseded(self, work: Work) -> bool:
        """Whether queued or in-flight work no longer applies: the run is restarting, or it
        has left the stage visit the work belongs to (run-wide work stays)."""
        if self.restart is not None:
            return True
        if work.run_wide or self.visit() == work.visit:
            return False
        # State first, a mail queued by the same transition that then moved the run on
        # (on_enter: [mail, move]) still goes: it was owed before the move.
        return not self.state_first or self._last_entry > work.transition

    def next_step(self) -> tuple[Step | None, datetime | None]:
        return plan.next_step(self.state, self.pipeline)

    # ------------------------------------------------------------ transitions

    def _begin(self) -> None:
        """A new transition (an event, a step, a start): its mail is owed from here."""
        self._transition += 1

    def enter(self, stage_id: str, at: datetime, event: dict[str, object] | None = None) -> None:
        state = self.state
        stage = self.pipeline.stage(stage_id)
        count = state.entry_count.get(stage_id, 0) + 1
        kind: EntryKind = "reentry" if count > 1 else "restart" if state.cycle > 1 else "first_entry"
        state.entry_count[stage_id] = count
        if state.visits:
            state.visits[-1].left_at = at
        state.visits.append(StageVisit(stage=stage_id, entered_at=at))
        state.stage = stage_id
        state.stage_label = stage.label
        state.stage_entered_at = at
        state.fired_steps = []
        state.anchors[f"entered:{stage_id}"] = at
        self._last_entry = self._transition
        self.note(at, "stage_entered", stage.label)
        visit = self.visit()
        if not self.state_first:
            # Work of earlier visits is dropped: the run has moved on. (State first, only mail
            # is queued; next_mail drops what no longer applies, and says so.)
            self.queue = [work for work in self.queue if work.visit == visit or work.run_wide]
        # Conditions are decided on entry, all together (an entry action's move must not change
        # what a later one's condition sees); a snapshot without any ``if:`` chooses every action.
        picked = chosen(stage.on_enter, Facts(state, self.pipeline, at))
        self._perform_all(
            Work(action, visit, f"enter-{index}", at, event, transition=self._transition)
            for index, action in enumerate(stage.on_enter)
            if action.applies_to(kind) and index in picked
        )
        if self.on_enter is not None:
            self.on_enter(self, stage_id)

    def apply_event(self, event: EventInput, now: datetime) -> str:
        """Apply an event the validator accepted; returns the stage the run is in afterwards."""
        self._begin()
        state = self.state
        spec = self.pipeline.events[event.name]
        payload = payload_of(event, spec)  # validated: this only puts values in canonical form
        outcome = payload.get("outcome")
        detail = spec.outcome_labels.get(outcome if isinstance(outcome, str) else "", spec.label)
        extra = [f"{k}: {v}" for k, v in payload.items() if v not in (None, "") and k != "outcome"]
        self.note(now, event.name, "; ".join([detail, *extra]), by=event.by)
        state.event_count += 1
        for anchor in spec.stamps:
            if not payload.get(spec.anchors.get(anchor, "")):
                state.anchors[anchor] = now
        for anchor, field_name in spec.anchors.items():
            if anchor not in spec.stamps or payload.get(field_name):
                earlier = state.anchors.get(anchor)
                self._set_anchor(anchor, text(payload.get(field_name)))
                if anchor in spec.advance_only and earlier is not None:
                    # A back-dated report (an older contact logged late) never rewinds the clock.
                    state.anchors[anchor] = max(earlier, state.anchors.get(anchor, earlier))
        if spec.record is not None:
            entry: dict[str, JsonScalar] = {"at": now.isoformat(), **payload}
            state.records.setdefault(spec.record, []).append(entry)
        if spec.completes_task_kind is not None:
            open_of_kind = [t for t in state.open_tasks() if t.kind == spec.completes_task_kind]
            if open_of_kind:
                self.finish_task(min(open_of_kind, key=lambda t: t.due_at), now, "done_by_staff")
        context: dict[str, object] = {"name": event.name, "label": spec.label, "payload": dict(payload)}
        # The event's conditions (to_if and its actions' if) see the run as the event finds it,
        # its own record kept, before any move: decided here, together.
        facts = event_facts(state, self.pipeline, event.name, payload, now, kept=True)
        picked = chosen(spec.do, facts)
        if spec.to is not None and spec.to != state.stage and holds(spec.to_if, facts):
            self.enter(spec.to, now, context)
        visit = self.visit()
        self._perform_all(
            Work(action, visit, f"event+{state.event_count}-{index}", now, context, True, self._transition)
            for index, action in enumerate(spec.do)
            if index in picked
        )
        if spec.goal:
            state.goal_event = event.name
        return state.stage

    def fire(self, step: Step, due: datetime, now: datetime) -> None:
        """Perform a step whose moment has come (``due``; the clock says ``now``)."""
        self._begin()
        state = self.state
        # A step planned for before the stage was entered (a delivery start long past)
        # happens "at once"; otherwise at its planned moment even if processed late.
        at = max(due, state.stage_entered_at)
        done_already = bool(step.unless_ticked) and not state.unticked(step.unless_ticked)
        occurrence = due
        if isinstance(step, Deadline):
            state.fired_deadlines.append(step.key)
        elif step.repeat:
            occurrence = plan.latest_occurrence(self.pipeline, step, due, now)
            state.repeat_base[step.key] = occurrence
            self.roll_over = True
        else:
            state.fired_steps.append(step.key)
        if done_already:
            self.note(at, "step_skipped", f"{step.summary}: checklist complete")
            return
        # ``if:`` is evaluated at the step's planned moment (as an on-time worker would); false,
        # the step is done for now as unless_ticked leaves it (a repeat tries again next time).
        facts = Facts(state, self.pipeline, at)
        if not holds(step.condition, facts):
            self.note(at, "step_skipped", f"{step.summary}: condition not met")
            return
        picked = chosen(step.do, facts)
        visit, key = self.visit(), plan.step_key(step, occurrence)
        self._perform_all(
            Work(action, visit, f"{key}-{index}", at, transition=self._transition)
            for index, action in enumerate(step.do)
            if index in picked
        )

    def _perform_all(self, works: Iterable[Work]) -> None:
        for work in works:
            if self.state_first and not work.action.is_effect:
                self.perform(work)
            else:
                self.queue.append(work)

    def perform(self, work: Work) -> bool:
        """Apply a state action (a task, a note, a move); False for mail, which the caller sends.
        Actions limited to modules the contract lacks do nothing (True)."""
        action = work.action
        if not plan.for_modules(self.state, action.modules):
            return True
        kind = action.kind
        match kind:
            case "move":
                assert action.move is not None
                self.enter(action.move, work.at)
            case "task":
                assert action.task is not None
                spec = action.task
                due = plan.task_due(self.state, self.pipeline, spec.due, work.at)
                self.add_task(spec.kind, spec.title, spec.owner_role, due, work.at, owner=spec.owner)
            case "note":
                assert action.note is not None
                role = self.pipeline.roles.get(action.note.for_role or "", "")
                self.note(work.at, "note", action.note.text + (f" ({role})" if role else ""))
            case "mail" | "notify":
                return False
            case _:
                assert_never(kind)
        return True

    # --------------------------------------------------------- staff actions

    def tick(self, tick: TickInput, now: datetime) -> list[ChecklistItemState]:
        """Tick or untick an item the validator found; returns the items of its checklist."""
        item = next(i for i in self.state.checklist if i.id == tick.item)
        if tick.ticked and item.ticked_at is None:
            item.ticked_at, item.ticked_by = now, tick.by
            self.note(now, "checklist_ticked", item.label, by=tick.by)
        elif not tick.ticked and item.ticked_at is not None:
            item.ticked_at, item.ticked_by = None, None
            self.note(now, "checklist_unticked", item.label, by=tick.by)
        return [i for i in self.state.checklist if i.checklist == item.checklist]

    def amend(self, amend: AmendInput, now: datetime) -> str:
        """A new delivery start; steps anchored on it are planned anew."""
        state = self.state
        old = state.contract.delivery_start
        state.contract = state.contract.model_copy(update={"delivery_start": amend.delivery_start})
        state.anchors["delivery_start"] = start_of_day(amend.delivery_start, self.pipeline.timezone)
        self.note(now, "contract_amended", f"delivery start {old} -> {amend.delivery_start}")
        return state.stage

    def complete_task(self, task: str, now: datetime, by: str | None = None) -> str:
        found = self.state.task(task)
        assert found is not None  # the validator refused unknown ids
        how: TaskResolution = "done_by_customer" if by == CUSTOMER else "done_by_staff"
        self.finish_task(found, now, how, by=by)
        return found.id

    def record_outcome(self, outcome: OutcomeInput, now: datetime) -> int:
        """How the kick-off went; returns the cycle the onboarding is in afterwards."""
        spec = self.pipeline.kickoff_outcome
        assert spec is not None  # the validator refused pipelines without outcomes
        state = self.state
        state.kickoff_outcome = KickoffOutcome(
            outcome=outcome.outcome,
            segment=outcome.segment,
            owner=outcome.owner,
            recorded_at=now,
            recorded_by=outcome.by,
        )
        state.awaiting_outcome = False
        segment = f"segment {spec.segments[outcome.segment]}" if outcome.segment else ""
        self.note(now, "kickoff_outcome", "; ".join(filter(None, [outcome.outcome, segment])), by=outcome.by)
        for task in state.open_tasks():
            if task.kind == spec.task.kind:
                self.finish_task(task, now, "done_by_staff")
        if outcome.restart is not None:
            self.restart = outcome.restart
            return state.cycle + 1
        return state.cycle

    def next_mail(self, now: datetime) -> Work | None:
        """State first: the next queued mail to send. Mail the run no longer owes (it moved on,
        or is restarting) is dropped with a timeline entry; mail for modules the contract lacks
        silently (it never applied)."""
        while self.queue:
            work = self.queue.pop(0)
            if self.perform(work):
                continue
            if not self.superseded(work):
                return work
            self.mail_cancelled(mail_name(work.action), now)
        return None

    def request_restart(self, restart: RestartInput) -> int:
        self.restart = restart
        if not self.state_first:
            self.queue.clear()  # the old cycle's pending work ends here (an in-flight mail is cancelled)
        # State first, next_mail drops the queued mail with a timeline entry each.
        return self.state.cycle + 1

    # ------------------------------------------------------------------ close

    def close(self, now: datetime, *, completes_at_goal: bool = True) -> None:
        """The run reached its goal: tasks close with it, except those only staff may resolve.

        ``completes_at_goal`` (runs that reach their goal from the ``complete-at-goal``
        release on): nothing more is awaited, the kick-off outcome is recorded outside the
        run. Otherwise (runs already waiting for it) a booked kick-off opens the task that
        waits for its outcome, and the run stays open until it is recorded."""
        for task in self.state.open_tasks():
            if not task.blocks_completion:
                self.finish_task(task, now, "closed_with_onboarding")
        if completes_at_goal:
            self.state.completes_at_goal = True
            return
        spec = self.pipeline.kickoff_outcome
        if spec is not None and awaits_outcome(self.state, self.pipeline):
            wait = spec.task
            due = plan.task_due(self.state, self.pipeline, wait.due, now)
            self.add_task(
                wait.kind, wait.title, wait.owner_role, due, now, owner=wait.owner, blocks_completion=True
            )
            self.state.awaiting_outcome = True

    def complete(self, now: datetime) -> None:
        self.state.status = "completed"
        self.note(now, "completed", self.state.stage_label)

    def cycle_summary(self, run_id: str, now: datetime, reason: str) -> CycleSummary:
        """This cycle as the next one remembers it, its last visit closed now."""
        visits = self.state.visits
        return CycleSummary(
            cycle=self.state.cycle,
            run_id=run_id,
            final_stage=self.state.stage,
            ended_at=now,
            restart_reason=reason,
            visits=[*visits[:-1], *(v.model_copy(update={"left_at": now}) for v in visits[-1:])],
        )

    def _set_anchor(self, name: str, value: str | None) -> None:
        if not value:
            self.state.anchors.pop(name, None)
        else:
            self.state.anchors[name] = plan.parse_anchor(self.pipeline, value)
