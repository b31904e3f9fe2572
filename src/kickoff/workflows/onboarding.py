"""The onboarding workflow: an interpreter for one pipeline snapshot.

Orchestration only. No I/O, no wall clock, no randomness: time comes from
``workflow.now()``, mail goes out through the ``send_mail`` activity, and
everything a process owner may change comes from the ``Pipeline`` snapshot
in the input (so editing ``pipelines.yaml`` never changes a run in flight).

Shape of a run:

* Entering a stage is a synchronous state change (stage, anchors, timeline)
  that queues the stage's ``on_enter`` actions. Update handlers enter stages
  directly, so a validator always sees the stage every accepted event led to.
* The main loop performs queued actions in order, then sleeps until the
  earliest unperformed schedule step of the current stage, or until an event
  wakes it. Each step's moment is computed from its anchor, never chained
  from the previous sleep, so a late worker cannot shift the plan.
* A step or action belongs to one visit of a stage; when the run moves on,
  whatever that visit had not performed yet is dropped.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    # pydantic's EmailStr imports email_validator lazily on first use, which the
    # sandbox would flag as a late import: load it up front, outside the sandbox.
    import email_validator  # noqa: F401

    from kickoff import search_attributes as sa
    from kickoff.domain import (
        AmendInput,
        ChecklistItemState,
        CycleSummary,
        EmailRecord,
        EventInput,
        KickoffOutcome,
        OnboardingInput,
        OnboardingState,
        OutcomeInput,
        RestartInput,
        SendMailInput,
        SendMailResult,
        StageVisit,
        Task,
        TaskResolution,
        TaskSide,
        TickInput,
        TimelineEntry,
        task_id,
    )
    from kickoff.pipelines.model import (
        Action,
        Deadline,
        Due,
        EntryKind,
        Event,
        Moment,
        Pipeline,
        Stage,
        Step,
    )
    from kickoff.pipelines.payload import JsonScalar, PayloadError, check_payload
    from kickoff.schedule import format_local, offset_moment, start_of_day

MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=["TemplateError", "MailDeliveryUnknown"],
)
# An SMTP outage is retried for a day; after that a staff task replaces the mail.
MAIL_GIVE_UP_AFTER = timedelta(days=1)
# Room for the activity's wait on an earlier attempt's claim plus a slow SMTP relay.
MAIL_ATTEMPT_TIMEOUT = timedelta(minutes=2)
# The activity heartbeats every second: a dead worker's attempt is retried after this.
MAIL_HEARTBEAT_TIMEOUT = timedelta(seconds=10)


WAIT_FOR_CANCELLED_MAIL = "wait-for-cancelled-mail"
"""Patch id: a cancelled mail's activity is awaited, so a mail SMTP already took is recorded."""
FLAG_SLOW_MAIL = "flag-slow-mail"
"""Patch id: a mail still retrying after MAIL_SLOW_AFTER is counted in a search attribute."""
# SMTP answers in seconds; a mail not done after this is being retried (relay down, refused):
# ops find such runs with `KickoffRetryingActions > 0` long before the one-day give-up.
MAIL_SLOW_AFTER = timedelta(minutes=15)


def _text(value: JsonScalar) -> str | None:
    return value if isinstance(value, str) else None


def _payload_of(event: EventInput, spec: Event, now: datetime | None = None) -> dict[str, JsonScalar]:
    """The event's payload checked against its declaration (``PayloadError`` if it does not fit).

    A snapshot taken before events declared their payloads (a run that started
    earlier) declares none: its events take the fields the shorthand routes send.
    """
    if "payload" not in spec.model_fields_set:
        return dict(event.payload)
    return check_payload(event.name, spec, event.payload, now)


def _invalid(reason: str) -> ApplicationError:
    """A refusal caused by the event's payload (the API answers 422), not by the run's stage (409)."""
    return ApplicationError(reason, type="InvalidPayload", non_retryable=True)


@dataclass(frozen=True)
class _Work:
    """One action to perform, tied to the stage visit that produced it."""

    action: Action
    visit: tuple[str, int]
    key: str
    at: datetime
    event: dict[str, object] | None = None
    """The event that queued the action, for its templates (``event.payload.reason``)."""
    run_wide: bool = False
    """An event's own actions (an escalation) belong to the run, not to the stage visit:
    a stage move does not drop or cancel them; only a restart does."""


@workflow.defn(name="Onboarding")
class OnboardingWorkflow:
    @workflow.init
    def __init__(self, input: OnboardingInput) -> None:
        self._pipeline: Pipeline = input.pipeline
        calendar = self._pipeline.calendar
        self._closed_days = frozenset(calendar.closed_days) if calendar else frozenset()
        self._queue: list[_Work] = []
        self._wake = False
        self._restart: RestartInput | None = None
        self._published_open_tasks: int | None = None
        # Written only once a mail was slow: older runs' histories have no such upsert.
        self._published_retrying: int | None = None
        # Set when a recurring step fired: the run then continues as new, so a
        # stage that lasts for years (partnership) never grows a long history.
        self._roll_over = False
        # SDK metrics are not emitted while a history replays, so counts stay true.
        self._transitions = workflow.metric_meter().create_counter(
            "kickoff_stage_transitions", "Stage entries, by pipeline and stage"
        )
        if input.carried_state is not None:
            # Continue-as-new: the run goes on exactly where the previous one stopped.
            self._state = input.carried_state
            return
        now = workflow.now()
        tz = self._pipeline.timezone
        first_stage = self._pipeline.restart.stage if input.cycle > 1 else self._pipeline.start_stage
        self._state = OnboardingState(
            id=input.onboarding_id,
            cycle=input.cycle,
            pipeline=self._pipeline.id,
            pipeline_version=input.pipeline_version,
            stage=first_stage,
            stage_label=self._pipeline.stage(first_stage).label,
            stage_entered_at=now,
            contract=input.contract,
            anchors={
                "signed_at": input.contract.signed_at,
                "delivery_start": start_of_day(input.contract.delivery_start, tz),
            },
            previous_cycles=input.previous_cycles,
            modules=self._pipeline.modules_for(input.contract.modules),
        )
        self._state.checklist = [
            ChecklistItemState(id=item.id, checklist=cid, label=item.label, owner=item.owner)
            for cid, checklist in self._pipeline.checklists.items()
            for item in checklist.items
            if self._for_modules(item.modules)
        ]
        for name, day in input.contract.dates.items():
            self._state.anchors[f"contract:{name}"] = start_of_day(day, tz)
        if input.cycle > 1:
            self._timeline(now, "restarted", f"reason: {input.restart_reason}")
        else:
            self._timeline(now, "contract_received", f"pipeline {self._pipeline.id}")
        self._enter(first_stage, now)

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, input: OnboardingInput) -> OnboardingState:
        attributes = [
            sa.PIPELINE.value_set(self._pipeline.id),
            sa.STAGE.value_set(self._state.stage),
            sa.PIPELINE_VERSION.value_set(self._state.pipeline_version),
        ]
        inherited = workflow.info().typed_search_attributes
        if input.carried_state is None:
            # A restart continues as new and would inherit the no-show it restarts after.
            attributes += [key.value_unset() for key in (sa.OUTCOME, sa.SEGMENT) if inherited.get(key)]
        workflow.upsert_search_attributes(attributes)
        self._publish()
        while True:
            await self._perform_queued()
            if self._restart is not None:
                await self._continue_as_restart(input, self._restart)
            if self._finished():
                break
            if self._roll_over or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                # An event may have arrived while the handlers drained: it queued work.
                if not self._queue and self._restart is None:
                    workflow.continue_as_new(input.model_copy(update={"carried_state": self._state}))
                continue

            step, due = self._next_step()
            self._publish()
            self._wake = False
            if step is None or due is None:
                await workflow.wait_condition(lambda: self._wake)
                continue
            delay = due - workflow.now()
            if delay > timedelta(0):
                try:
                    await workflow.wait_condition(
                        lambda: self._wake, timeout=delay, timeout_summary=step.summary
                    )
                    continue  # an event arrived first: re-plan from the new state
                except TimeoutError:
                    # The timer and an event can land in the same activation: if an
                    # event came too, re-plan, as the step may belong to a stage left.
                    if self._wake:
                        continue
            self._fire(step, due)

        await self._close(input)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _continue_as_restart(self, input: OnboardingInput, restart: RestartInput) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        summary = CycleSummary(
            cycle=self._state.cycle,
            run_id=workflow.info().run_id,
            final_stage=self._state.stage,
            ended_at=workflow.now(),
            restart_reason=restart.reason,
            visits=[
                *self._state.visits[:-1],
                *(v.model_copy(update={"left_at": workflow.now()}) for v in self._state.visits[-1:]),
            ],
        )
        workflow.continue_as_new(
            OnboardingInput(
                onboarding_id=input.onboarding_id,
                contract=self._state.contract,
                pipeline=restart.pipeline,
                pipeline_version=restart.pipeline_version,
                cycle=self._state.cycle + 1,
                restart_reason=restart.reason,
                previous_cycles=[*self._state.previous_cycles, summary],
            ),
            # The next cycle is listed in its first stage from its start, not under this
            # cycle's stage and outcome until its own first upsert is indexed.
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.PIPELINE, restart.pipeline.id),
                    SearchAttributePair(sa.STAGE, restart.pipeline.restart.stage),
                    SearchAttributePair(sa.PIPELINE_VERSION, restart.pipeline_version),
                ]
            ),
        )

    # -------------------------------------------------------------- handlers

    @workflow.query
    def state(self) -> OnboardingState:
        """The run's full state: stage, tasks, mails and timeline."""
        return self._state

    @workflow.update
    def apply_event(self, event: EventInput) -> str:
        """Apply a staff or system event; returns the stage the run is in afterwards."""
        spec = self._pipeline.events[event.name]
        now = workflow.now()
        # The validator accepted it, so this only puts values in canonical form.
        payload = _payload_of(event, spec)
        outcome = payload.get("outcome")
        detail = spec.outcome_labels.get(outcome if isinstance(outcome, str) else "", spec.label)
        extra = [f"{k}: {v}" for k, v in payload.items() if v not in (None, "") and k != "outcome"]
        self._timeline(now, event.name, "; ".join([detail, *extra]))
        self._state.event_count += 1
        for anchor in spec.stamps:
            if not payload.get(spec.anchors.get(anchor, "")):
                self._state.anchors[anchor] = now
        for anchor, field in spec.anchors.items():
            if anchor not in spec.stamps or payload.get(field):
                earlier = self._state.anchors.get(anchor)
                self._set_anchor(anchor, _text(payload.get(field)))
                if anchor in spec.advance_only and earlier is not None:
                    # A back-dated report (an older contact logged late) never rewinds the clock.
                    self._state.anchors[anchor] = max(earlier, self._state.anchors.get(anchor, earlier))
        if spec.record is not None:
            entry: dict[str, JsonScalar] = {"at": now.isoformat(), **payload}
            self._state.records.setdefault(spec.record, []).append(entry)
        if spec.completes_task_kind is not None:
            open_of_kind = [t for t in self._state.open_tasks() if t.kind == spec.completes_task_kind]
            if open_of_kind:
                self._finish_task(min(open_of_kind, key=lambda t: t.due_at), now, "done_by_staff")
        context: dict[str, object] = {"name": event.name, "label": spec.label, "payload": dict(payload)}
        if spec.to is not None and spec.to != self._state.stage:
            self._enter(spec.to, now, context)
        visit = self._visit()
        self._queue.extend(
            _Work(action, visit, f"event+{self._state.event_count}-{index}", now, context, run_wide=True)
            for index, action in enumerate(spec.do)
        )
        if spec.goal:
            self._state.goal_event = event.name
        self._publish()
        self._wake = True
        return self._state.stage

    @apply_event.validator
    def _validate_event(self, event: EventInput) -> None:
        self._refuse_if_finished()
        spec = self._pipeline.events.get(event.name)
        if spec is None:
            raise LookupError(
                f"pipeline {self._pipeline.id} has no event {event.name!r} "
                f"(events: {', '.join(self._pipeline.events)})"
            )
        allowed = self._pipeline.event_allowed_in(spec)
        if self._state.stage not in allowed:
            raise ValueError(
                f"{event.name} is not accepted in stage {self._state.stage!r} "
                f"(accepted in: {', '.join(allowed)})"
            )
        try:
            payload = _payload_of(event, spec, workflow.now())
        except PayloadError as problems:
            raise _invalid(str(problems)) from None
        outcome = payload.get("outcome")
        if spec.outcome_labels and outcome not in spec.outcome_labels:
            raise _invalid(f"outcome must be one of {sorted(spec.outcome_labels)}")
        if spec.to is not None and spec.to != self._state.stage:
            self._refuse_ungated(spec.to)
        # An anchor the event sets from a planned date (an until-date) must not
        # plan a step of the stage it leads to in the past: that step would fire
        # at once. A datetime field reports a fact ("kick-off held at"), which
        # may well be in the past: its overdue steps then simply happen now.
        target = self._pipeline.stage(spec.to).schedule if spec.to else ()
        for anchor, field in spec.anchors.items():
            value = _text(payload.get(field))
            declared = spec.payload.get(field)
            if not value or (declared is not None and declared.type == "datetime"):
                continue
            try:
                moment = self._parse_anchor(value)
            except ValueError:
                raise _invalid(f"{field}: {value!r} is not a date") from None
            self._refuse_past_steps(target, anchor, moment, f"{field} {value}")

    def _refuse_past_steps(self, steps: Sequence[Step], anchor: str, moment: datetime, what: str) -> None:
        """Moving ``anchor`` to ``moment`` must not plan one of ``steps`` in the past (it would
        fire at once): 422 naming the step and when it would have been."""
        now = workflow.now()
        for step in steps:
            if step.repeat or anchor not in step.at.anchor_names():
                continue
            due = self._at(moment, step.at)
            if due <= now:
                raise _invalid(
                    f"{what} is too early: '{step.summary}' would be at "
                    f"{format_local(due, self._pipeline.timezone)}, which has passed"
                )

    def _refuse_ungated(self, stage_id: str) -> None:
        """A move into a stage that requires checklists is refused until every item is ticked."""
        stage = self._pipeline.stage(stage_id)
        missing = self._state.unticked(stage.requires)
        if missing:
            listed = ", ".join(f"{item.id} ({item.label})" for item in missing)
            raise ValueError(f"cannot move to {stage.label} ({stage.id}): unticked checklist items: {listed}")

    @workflow.update
    def tick_item(self, tick: TickInput) -> list[ChecklistItemState]:
        """Tick or untick a checklist item; returns the items of its checklist."""
        item = next(i for i in self._state.checklist if i.id == tick.item)
        now = workflow.now()
        if tick.ticked and item.ticked_at is None:
            item.ticked_at, item.ticked_by = now, tick.by
            self._timeline(now, "checklist_ticked", item.label)
        elif not tick.ticked and item.ticked_at is not None:
            item.ticked_at, item.ticked_by = None, None
            self._timeline(now, "checklist_unticked", item.label)
        self._publish()
        return [i for i in self._state.checklist if i.checklist == item.checklist]

    @tick_item.validator
    def _validate_tick(self, tick: TickInput) -> None:
        self._refuse_if_finished()
        if not any(i.id == tick.item for i in self._state.checklist):
            known = self._pipeline.checklist_items()
            if tick.item in known:
                raise LookupError(f"checklist item {tick.item} is not part of this onboarding's modules")
            raise LookupError(
                f"pipeline {self._pipeline.id} has no checklist item {tick.item!r} "
                f"(items: {', '.join(i.id for i in self._state.checklist)})"
            )

    @workflow.update
    def amend_contract(self, amend: AmendInput) -> str:
        """Move the delivery start of a contract whose onboarding has not begun; returns the stage.
        Steps anchored on it are planned anew (the waiting timer moves)."""
        old = self._state.contract.delivery_start
        self._state.contract = self._state.contract.model_copy(
            update={"delivery_start": amend.delivery_start}
        )
        self._state.anchors["delivery_start"] = start_of_day(amend.delivery_start, self._pipeline.timezone)
        self._timeline(workflow.now(), "contract_amended", f"delivery start {old} -> {amend.delivery_start}")
        self._publish()
        self._wake = True
        return self._state.stage

    @amend_contract.validator
    def _validate_amend(self, amend: AmendInput) -> None:
        self._refuse_if_finished()
        start = self._pipeline.start_stage
        if self._state.cycle > 1 or self._state.stage != start or self._state.entry_count.get(start, 0) > 1:
            raise ValueError(
                f"onboarding has begun (stage {self._state.stage!r}): the delivery start can only "
                f"be changed while the run is still in {start!r}"
            )
        moment = start_of_day(amend.delivery_start, self._pipeline.timezone)
        self._refuse_past_steps(
            self._stage().schedule, "delivery_start", moment, f"delivery_start {amend.delivery_start}"
        )

    @workflow.update
    def complete_task(self, task: str) -> str:
        """Mark a task done; returns its id."""
        found = self._task(task)
        assert found is not None  # the validator refused unknown ids
        self._finish_task(found, workflow.now(), "done_by_staff")
        self._publish()
        return found.id

    @complete_task.validator
    def _validate_complete_task(self, task: str) -> None:
        # Allowed in a goal stage too: a run waits there for tasks that block completion.
        if self._state.status != "running":
            raise ValueError("onboarding is completed: nothing more happens")
        found = self._task(task)
        if found is None:
            raise LookupError(f"task {task} does not belong to this onboarding")
        if found.status != "open":
            raise ValueError(f"task {task} is already done")
        outcome = self._pipeline.kickoff_outcome
        if outcome is not None and found.kind == outcome.task.kind and found.blocks_completion:
            raise ValueError(
                f"task {task} is done by recording the kick-off outcome "
                f"(POST /onboardings/{self._state.id}/kickoff-outcome)"
            )

    @workflow.update
    def restart(self, restart: RestartInput) -> int:
        """Restart onboarding with a fresh pipeline snapshot; returns the new cycle number."""
        self._restart = restart
        self._queue.clear()  # the old cycle's pending work ends here (an in-flight mail is cancelled)
        self._wake = True
        return self._state.cycle + 1

    @restart.validator
    def _validate_restart(self, restart: RestartInput) -> None:
        self._refuse_if_finished()
        if restart.reason not in restart.pipeline.restart.reasons:
            raise ValueError(f"reason must be one of {list(restart.pipeline.restart.reasons)}")

    @workflow.update
    async def record_kickoff_outcome(self, outcome: OutcomeInput) -> int:
        """Record how the kick-off went; returns the cycle the onboarding is in afterwards
        (the next one after a no-show or a rescheduled meeting, which restart onboarding)."""
        # Booked a moment ago: the run may still be sending its closing mail. Let it
        # finish, so the restart a no-show causes does not cancel that mail.
        await workflow.wait_condition(lambda: self._state.awaiting_outcome)
        if self._state.kickoff_outcome is not None:  # two outcomes raced; the first one won
            raise ApplicationError("the kick-off outcome was recorded already", non_retryable=True)
        spec = self._pipeline.kickoff_outcome
        assert spec is not None  # the validator refused pipelines without outcomes
        now = workflow.now()
        self._state.kickoff_outcome = KickoffOutcome(
            outcome=outcome.outcome,
            segment=outcome.segment,
            owner=outcome.owner,
            recorded_at=now,
            recorded_by=outcome.by,
        )
        self._state.awaiting_outcome = False
        segment = f"segment {spec.segments[outcome.segment]}" if outcome.segment else ""
        self._timeline(now, "kickoff_outcome", "; ".join(filter(None, [outcome.outcome, segment])))
        workflow.upsert_search_attributes(
            [sa.OUTCOME.value_set(outcome.outcome)]
            + ([sa.SEGMENT.value_set(outcome.segment)] if outcome.segment else [])
        )
        for task in self._state.open_tasks():
            if task.kind == spec.task.kind:
                self._finish_task(task, now, "done_by_staff")
        self._wake = True
        if outcome.restart is not None:
            self._restart = outcome.restart
            return self._state.cycle + 1
        self._publish()
        return self._state.cycle

    @record_kickoff_outcome.validator
    def _validate_outcome(self, outcome: OutcomeInput) -> None:
        spec = self._pipeline.kickoff_outcome
        if spec is None:
            raise LookupError(f"pipeline {self._pipeline.id} does not record kick-off outcomes")
        if self._state.status != "running" or self._restart is not None:
            raise ValueError("onboarding is completed or restarting: nothing more happens")
        if self._state.kickoff_outcome is not None:
            raise ValueError(
                f"the kick-off outcome is recorded already ({self._state.kickoff_outcome.outcome})"
            )
        if self._state.goal_event is not None:
            raise ValueError(
                f"onboarding is completed by {self._state.goal_event}: no kick-off outcome is awaited"
            )
        if self._state.stage != spec.awaited_in:
            awaited = self._pipeline.stage(spec.awaited_in).label
            raise ValueError(
                f"no kick-off is booked yet (stage {self._state.stage!r}): the outcome is recorded "
                f"once the onboarding is in {awaited} ({spec.awaited_in})"
            )
        if outcome.outcome == "completed":
            if outcome.segment not in spec.segments:
                raise _invalid(f"segment must be one of {sorted(spec.segments)} for a completed kick-off")
            if not (outcome.owner or "").strip():
                raise _invalid("owner: name the responsible advisor for a completed kick-off")
        elif outcome.segment or outcome.owner:
            raise _invalid(f"segment and owner belong to a completed kick-off, not to {outcome.outcome}")
        elif outcome.restart is None or outcome.outcome not in outcome.restart.pipeline.restart.reasons:
            raise ValueError(f"{outcome.outcome} restarts onboarding, and this restart is not possible")

    def _awaits_outcome(self) -> bool:
        spec = self._pipeline.kickoff_outcome
        return (
            spec is not None
            and self._state.stage == spec.awaited_in
            and self._state.kickoff_outcome is None
            and self._state.goal_event is None
        )

    def _await_outcome(self, now: datetime) -> None:
        """Open the task only the outcome closes; it keeps the run in its goal stage."""
        spec = self._pipeline.kickoff_outcome
        assert spec is not None
        task = spec.task
        due = self._task_due(task.due, now)
        self._add_task(
            task.kind, task.title, task.owner_role, due, now, owner=task.owner, blocks_completion=True
        )
        self._state.awaiting_outcome = True

    def _finished(self) -> bool:
        return self._stage().goal or self._state.goal_event is not None

    def _refuse_if_finished(self) -> None:
        if self._state.status != "running" or self._finished():
            raise ValueError(
                f"onboarding is {self._state.stage_label} ({self._state.stage}): nothing more happens"
            )
        if self._restart is not None:
            raise ValueError("onboarding is restarting")

    # ------------------------------------------------------------ the engine

    def _at(self, anchor: datetime, offset: Moment | Due) -> datetime:
        """The absolute moment ``offset`` names, counted from ``anchor`` in the pipeline's calendar."""
        return offset_moment(
            anchor, offset.days, offset.time, self._pipeline.timezone, offset.unit, self._closed_days
        )

    def _superseded(self, work: _Work) -> bool:
        return self._restart is not None or (not work.run_wide and self._visit() != work.visit)

    def _stage(self) -> Stage:
        return self._pipeline.stage(self._state.stage)

    def _visit(self) -> tuple[str, int]:
        return self._state.stage, self._state.entry_count[self._state.stage]

    def _enter(self, stage_id: str, at: datetime, event: dict[str, object] | None = None) -> None:
        stage = self._pipeline.stage(stage_id)
        count = self._state.entry_count.get(stage_id, 0) + 1
        kind: EntryKind = "reentry" if count > 1 else "restart" if self._state.cycle > 1 else "first_entry"
        self._state.entry_count[stage_id] = count
        if self._state.visits:
            self._state.visits[-1].left_at = at
        self._state.visits.append(StageVisit(stage=stage_id, entered_at=at))
        self._transitions.add(1, {"pipeline": self._pipeline.id, "stage": stage_id})
        self._state.stage = stage_id
        self._state.stage_label = stage.label
        self._state.stage_entered_at = at
        self._state.fired_steps = []
        self._state.anchors[f"entered:{stage_id}"] = at
        self._timeline(at, "stage_entered", stage.label)
        visit = self._visit()
        # Work of earlier visits is dropped: the run has moved on.
        self._queue = [work for work in self._queue if work.visit == visit or work.run_wide]
        self._queue.extend(
            _Work(action, visit, f"enter-{index}", at, event)
            for index, action in enumerate(stage.on_enter)
            if action.applies_to(kind)
        )
        workflow.upsert_search_attributes(
            [
                sa.STAGE.value_set(stage_id),
                sa.PIPELINE_VERSION.value_set(self._state.pipeline_version),
            ]
        )

    def _pending_steps(self) -> list[Step]:
        """The current stage's steps not yet performed, and the pipeline deadlines watching it."""
        state = self._state
        steps: list[Step] = [
            step
            for step in self._stage().schedule
            if (step.repeat or step.key not in state.fired_steps) and self._for_modules(step.modules)
        ]
        steps.extend(
            deadline
            for deadline in self._pipeline.deadlines
            if state.stage in deadline.in_stages
            and deadline.key not in state.fired_deadlines
            and self._for_modules(deadline.modules)
        )
        return steps

    def _anchor_of(self, step: Step) -> datetime | None:
        """The latest of the step's anchors that is set (None: nothing is scheduled)."""
        values = [
            self._state.stage_entered_at if name == "entered" else self._state.anchors.get(name)
            for name in step.at.anchor_names()
        ]
        if step.repeat and step.key in self._state.repeat_base:
            values.append(self._state.repeat_base[step.key])
        present = [value for value in values if value is not None]
        return max(present) if present else None

    def _next_step(self) -> tuple[Step | None, datetime | None]:
        best: tuple[Step | None, datetime | None] = (None, None)
        for step in self._pending_steps():
            anchor = self._anchor_of(step)
            if anchor is None:
                continue  # e.g. parked without an until-date: nothing is scheduled
            moment = self._at(anchor, step.at)
            if best[1] is None or moment < best[1]:
                best = (step, moment)
        return best

    def _fire(self, step: Step, due: datetime) -> None:
        # A step planned for before the stage was entered (a delivery start
        # long past) happens "at once"; otherwise it happens at its planned
        # moment even if the worker processes it late.
        at = max(due, self._state.stage_entered_at)
        now = workflow.now()
        done_already = bool(step.unless_ticked) and not self._state.unticked(step.unless_ticked)
        if isinstance(step, Deadline):
            self._state.fired_deadlines.append(step.key)
            key = f"deadline+{step.key}"
        elif step.repeat:
            # The next occurrence counts from this one. After an outage, missed
            # occurrences collapse into this one instead of firing in a burst.
            occurrence = due
            while (following := self._at(occurrence, step.at)) <= now and following > occurrence:
                occurrence = following
            self._state.repeat_base[step.key] = occurrence
            key = f"{step.key}+{occurrence.date().isoformat()}"
            self._roll_over = True
        else:
            self._state.fired_steps.append(step.key)
            key = step.key
        if done_already:
            self._timeline(at, "step_skipped", f"{step.summary}: checklist complete")
            return
        visit = self._visit()
        self._queue.extend(_Work(action, visit, f"{key}-{index}", at) for index, action in enumerate(step.do))

    async def _perform_queued(self) -> None:
        while self._queue and self._restart is None:
            self._state.pending_actions = len(self._queue)
            work = self._queue.pop(0)
            if work.visit == self._visit() or work.run_wide:
                await self._perform(work)
            self._publish()
        self._state.pending_actions = 0

    def _for_modules(self, modules: tuple[str, ...] | None) -> bool:
        """Whether something limited to ``modules`` applies to this contract."""
        return modules is None or any(module in self._state.modules for module in modules)

    async def _perform(self, work: _Work) -> None:
        action = work.action
        if not self._for_modules(action.modules):
            return
        if action.move is not None:
            self._enter(action.move, work.at)
        elif action.task is not None:
            spec = action.task
            due = self._task_due(spec.due, work.at)
            self._add_task(spec.kind, spec.title, spec.owner_role, due, work.at, owner=spec.owner)
        elif action.note is not None:
            role = self._pipeline.roles.get(action.note.for_role or "", "")
            self._timeline(work.at, "note", f"{action.note.text}" + (f" ({role})" if role else ""))
        elif action.mail is not None or action.notify is not None:
            await self._send_mail(work)

    async def _send_mail(self, work: _Work) -> None:
        contract = self._state.contract
        if work.action.mail is not None:
            spec = work.action.mail
            name = spec.template
            language, template = self._pipeline.template_for(
                spec.template, spec.language or contract.language
            )
            subject, body = template.subject, template.body
            recipient = spec.to
        else:
            assert work.action.notify is not None
            name, language, recipient = "notify", self._pipeline.default_language, "team"
            subject, body = work.action.notify.subject, work.action.notify.text
        to = contract.main_user.email if recipient == "main_user" else self._pipeline.team.email
        stage, entry = work.visit
        domain = self._pipeline.team.email.rsplit("@", 1)[1]
        # Stable per (onboarding, cycle, stage visit, step): every retry of this
        # action carries the same Message-ID, which the activity deduplicates on.
        message_id = f"<{self._state.id}.{self._state.cycle}.{stage}.{entry}.{work.key}@{domain}>"
        activity = workflow.start_activity(
            "send_mail",
            SendMailInput(
                onboarding_id=self._state.id,
                message_id=message_id,
                to=to,
                subject_template=subject,
                body_template=body,
                context=self._mail_context(work, language),
            ),
            result_type=SendMailResult,
            start_to_close_timeout=MAIL_ATTEMPT_TIMEOUT,
            heartbeat_timeout=MAIL_HEARTBEAT_TIMEOUT,
            schedule_to_close_timeout=MAIL_GIVE_UP_AFTER,
            retry_policy=MAIL_RETRY,
            cancellation_type=(
                ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
                # Runs that began before this change resolved a cancelled mail at once:
                # they must replay the same way (version marker, see Temporal "patching").
                if workflow.patched(WAIT_FOR_CANCELLED_MAIL)
                else ActivityCancellationType.TRY_CANCEL
            ),
            summary=work.action.describe(),
        )
        # A mail may wait for retries (SMTP down) for up to a day: if the run
        # leaves the stage visit meanwhile (a booking, a park, a restart), the
        # mail no longer applies and must not go out late.
        await self._wait_for_mail(activity, work, name)
        if not activity.done():
            activity.cancel()
            try:
                # WAIT_CANCELLATION_COMPLETED: an attempt that had already handed the
                # mail to SMTP finishes and reports it, so the run records what was sent.
                result = await activity
            except (ActivityError, asyncio.CancelledError):
                self._timeline(workflow.now(), "mail_cancelled", f"{name}: the run moved on")
                return
            self._record_mail(work, name, to, language, result)
            return
        try:
            result = await activity
        except ActivityError as err:
            reason = err.cause.type if isinstance(err.cause, ApplicationError) else "timeout"
            now = workflow.now()
            self._timeline(now, "mail_failed", f"{name}: {reason}")
            # Staff must see this one even if the run has closed meanwhile.
            self._add_task(
                "todo",
                f"Mail '{name}' may not have reached {recipient}: check and contact them",
                None,
                now,
                now,
                blocks_completion=True,
            )
            return
        self._record_mail(work, name, to, language, result)

    async def _wait_for_mail(self, activity: asyncio.Task[SendMailResult], work: _Work, name: str) -> None:
        """Until the mail is done or no longer applies; a slow one is flagged for ops meanwhile."""

        def settled() -> bool:
            return activity.done() or self._superseded(work)

        # Runs that began before the flag waited without a timer: they replay that way.
        if not workflow.patched(FLAG_SLOW_MAIL):
            await workflow.wait_condition(settled)
            return
        try:
            await workflow.wait_condition(
                settled,
                timeout=MAIL_SLOW_AFTER,
                timeout_summary=f"{name} mail: flag as retrying if not sent in 15 min",
            )
            return
        except TimeoutError:
            pass
        self._state.retrying_actions += 1
        self._publish()
        try:
            await workflow.wait_condition(settled)
        finally:
            self._state.retrying_actions -= 1
            self._publish()

    def _record_mail(self, work: _Work, name: str, to: str, language: str, result: SendMailResult) -> None:
        self._state.emails.append(
            EmailRecord(
                template=name,
                to=to,
                sent_at=max(work.at, workflow.now()),
                message_id=result.message_id,
                language=language,
            )
        )
        self._timeline(workflow.now(), "mail_sent", name)

    def _mail_context(self, work: _Work, language: str) -> dict[str, object]:
        contract = self._state.contract
        meeting_at = self._state.anchors.get("meeting_at")
        tz = self._pipeline.timezone
        return {
            "event": work.event,
            "stage": {"id": self._state.stage, "label": self._state.stage_label},
            "modules": [self._pipeline.modules[m].label_in(language) for m in self._state.modules],
            "dates": {name: format_local(at, tz) for name, at in self._state.anchors.items()},
            "onboarding_id": self._state.id,
            "customer": {"name": contract.customer.name, "org_number": contract.customer.org_number},
            "main_user": {"name": contract.main_user.name},
            "links": dict(self._pipeline.links),
            "pipeline": {"id": self._pipeline.id, "name": self._pipeline.name},
            "team": {"name": self._pipeline.team.name or "", "email": self._pipeline.team.email},
            "meeting_at": format_local(meeting_at, self._pipeline.timezone) if meeting_at else None,
        }

    # ----------------------------------------------------------- bookkeeping

    def _add_task(
        self,
        kind: str,
        title: str,
        role: str | None,
        due: datetime,
        at: datetime,
        *,
        owner: TaskSide = "vendor",
        blocks_completion: bool = False,
    ) -> None:
        self._state.task_counter += 1
        self._state.tasks.append(
            Task(
                id=task_id(self._state.id, self._state.cycle, self._state.task_counter),
                kind=kind,
                title=title,
                owner=owner,
                owner_role=role,
                due_at=due,
                stage=self._state.stage,
                created_at=at,
                blocks_completion=blocks_completion,
            )
        )
        self._timeline(at, "task_created", title)

    def _task_due(self, due: Due, created: datetime) -> datetime:
        """When a task created at ``created`` is due: counted from its anchor when that is set,
        else from its creation; never before its creation."""
        base = self._state.anchors.get(due.anchor, created) if due.anchor else created
        return max(created, self._at(base, due))

    def _task(self, task: str) -> Task | None:
        return next((t for t in self._state.tasks if t.id == task), None)

    def _finish_task(self, task: Task, at: datetime, how: TaskResolution) -> None:
        task.status = "done"
        task.done_at = at
        task.resolution = how
        self._timeline(at, "task_done", task.title)

    def _set_anchor(self, name: str, value: str | None) -> None:
        if not value:
            self._state.anchors.pop(name, None)
        else:
            self._state.anchors[name] = self._parse_anchor(value)

    def _parse_anchor(self, value: str) -> datetime:
        """An ISO date (local midnight in the pipeline's zone) or an aware ISO datetime."""
        if len(value) == len("2026-01-31"):
            return start_of_day(date.fromisoformat(value), self._pipeline.timezone)
        return datetime.fromisoformat(value)

    async def _close(self, input: OnboardingInput) -> None:
        now = workflow.now()
        for task in self._state.open_tasks():
            if not task.blocks_completion:
                self._finish_task(task, now, "closed_with_onboarding")
        if self._awaits_outcome():
            self._await_outcome(now)
        self._publish()
        # A task only staff can resolve (a mail that may not have arrived, the kick-off
        # outcome) keeps the run open in its goal stage, and in the task inbox, until
        # it is done. A no-show recorded as the outcome restarts onboarding instead.
        await workflow.wait_condition(lambda: not self._state.open_tasks() or self._restart is not None)
        if self._restart is not None:
            await self._continue_as_restart(input, self._restart)
        self._state.status = "completed"
        self._timeline(workflow.now(), "completed", self._state.stage_label)
        self._publish()

    def _timeline(self, at: datetime, event: str, detail: str = "") -> None:
        # Kept in time order: a mail's "sent" can be recorded after later-dated work.
        bisect.insort(
            self._state.timeline, TimelineEntry(at=at, event=event, detail=detail), key=lambda e: e.at
        )

    def _publish(self) -> None:
        """Keep the Temporal UI's current details and the task-count attribute true."""
        step, due = (None, None) if self._state.status != "running" else self._next_step()
        self._state.next_step = step.summary if step else None
        self._state.next_step_at = due
        tz = self._pipeline.timezone
        next_line = f"**Next:** {step.summary} at {format_local(due, tz)}" if step and due else None
        if self._state.awaiting_outcome:
            self._state.next_step = "record the kick-off outcome"
            meeting = self._state.anchors.get("meeting_at")
            held = f" (meeting {format_local(meeting, tz)})" if meeting else ""
            next_line = f"**Next:** staff record the kick-off outcome{held}"
        lines = [
            f"**Stage:** {self._state.stage_label} (`{self._state.stage}`) since "
            f"{format_local(self._state.stage_entered_at, tz)}",
            next_line or "**Next:** waiting for staff",
            f"**Open tasks:** {len(self._state.open_tasks())}",
            *(
                [f"**Retrying:** {self._state.retrying_actions} mail(s) not delivered yet"]
                if self._state.retrying_actions
                else []
            ),
            f"**Pipeline:** {self._pipeline.id} version {self._state.pipeline_version}, "
            f"cycle {self._state.cycle}",
        ]
        workflow.set_current_details("\n\n".join(lines))
        open_tasks = len(self._state.open_tasks())
        if open_tasks != self._published_open_tasks:
            # Each upsert is a history event: only write when the count changes.
            workflow.upsert_search_attributes([sa.OPEN_TASKS.value_set(open_tasks)])
            self._published_open_tasks = open_tasks
        retrying = self._state.retrying_actions
        if retrying != self._published_retrying and (retrying or self._published_retrying is not None):
            workflow.upsert_search_attributes([sa.RETRYING_ACTIONS.value_set(retrying)])
            self._published_retrying = retrying
