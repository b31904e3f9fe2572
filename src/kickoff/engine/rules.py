"""What a run accepts: the checks behind every update validator, as plain functions.

Each raises a ``Refusal`` naming why; the workflow turns it into the update's
failure, and the API into 404 (``Unknown``), 409 (``NotNow``) or 422
(``Invalid``). Nothing here changes state, so a refused request changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from kickoff.domain import (
    CUSTOMER,
    AmendInput,
    EventInput,
    FinishTaskInput,
    OnboardingState,
    OutcomeInput,
    RestartInput,
    TickInput,
)
from kickoff.engine import plan
from kickoff.engine.conditions import event_facts, holds
from kickoff.pipelines.model import Event, KickoffOutcomeSpec, Pipeline, Step
from kickoff.pipelines.payload import JsonScalar, PayloadError, check_payload
from kickoff.schedule import format_local, start_of_day


class Refusal(Exception):  # noqa: N818 - a refusal is the run's answer, not a fault
    """A request the run does not accept; ``kind`` is the failure type callers map to a status."""

    kind: ClassVar[str]


class Unknown(Refusal):
    """Names something the run does not have (an event, an item, a task): 404."""

    kind = "LookupError"


class NotNow(Refusal):
    """Not possible in the run's current stage or status: 409."""

    kind = "ValueError"


class Invalid(Refusal):
    """The request's own content is wrong (the payload, a date): 422."""

    kind = "InvalidPayload"


def payload_of(event: EventInput, spec: Event, now: datetime | None = None) -> dict[str, JsonScalar]:
    """The event's payload checked against its declaration (``PayloadError`` if it does not fit).

    A snapshot taken before events declared their payloads (a run that started
    earlier) declares none: its events take the fields the shorthand routes send.
    """
    if "payload" not in spec.model_fields_set:
        return dict(event.payload)
    return check_payload(event.name, spec, event.payload, now)


def text(value: JsonScalar) -> str | None:
    return value if isinstance(value, str) else None


def is_finished(state: OnboardingState, pipeline: Pipeline) -> bool:
    """In a goal stage, or completed by a goal event: the run only closes from here."""
    return pipeline.stage(state.stage).goal or state.goal_event is not None


def refuse_if_finished(state: OnboardingState, pipeline: Pipeline, restarting: bool) -> None:
    if state.status != "running" or is_finished(state, pipeline):
        raise NotNow(f"onboarding is {state.stage_label} ({state.stage}): nothing more happens")
    if restarting:
        raise NotNow("onboarding is restarting")


def check_event(
    state: OnboardingState, pipeline: Pipeline, event: EventInput, now: datetime, restarting: bool
) -> None:
    refuse_if_finished(state, pipeline, restarting)
    spec = pipeline.events.get(event.name)
    if spec is None:
        raise Unknown(
            f"pipeline {pipeline.id} has no event {event.name!r} (events: {', '.join(pipeline.events)})"
        )
    allowed = pipeline.event_allowed_in(spec)
    if state.stage not in allowed:
        raise NotNow(
            f"{event.name} is not accepted in stage {state.stage!r} (accepted in: {', '.join(allowed)})"
        )
    try:
        payload = payload_of(event, spec, now)
    except PayloadError as problems:
        raise Invalid(str(problems)) from None
    outcome = payload.get("outcome")
    if spec.outcome_labels and outcome not in spec.outcome_labels:
        raise Invalid(f"outcome must be one of {sorted(spec.outcome_labels)}")
    # A move with to_if happens only if it holds (over the run as the event finds it, with
    # the event's own record): only then may its stage's gate refuse the event.
    facts = event_facts(state, pipeline, event.name, payload, now, kept=False)
    moves = spec.to is not None and holds(spec.to_if, facts)
    if spec.to is not None and spec.to != state.stage and moves:
        refuse_ungated(state, pipeline, spec.to)
    # An anchor the event sets from a planned date (an until-date) must not plan a step of
    # the stage it leads to in the past: that step would fire at once. A datetime field
    # reports a fact ("kick-off held at"), which may well be in the past: its overdue steps
    # then simply happen now.
    target = pipeline.stage(spec.to).schedule if spec.to and moves else ()
    for anchor, field in spec.anchors.items():
        value = text(payload.get(field))
        declared = spec.payload.get(field)
        if not value or (declared is not None and declared.type == "datetime"):
            continue
        try:
            moment = plan.parse_anchor(pipeline, value)
        except ValueError:
            raise Invalid(f"{field}: not a date") from None
        refuse_past_steps(pipeline, target, anchor, moment, now, f"{field} {value}")


def refuse_past_steps(
    pipeline: Pipeline, steps: Sequence[Step], anchor: str, moment: datetime, now: datetime, what: str
) -> None:
    """Moving ``anchor`` to ``moment`` must not plan one of ``steps`` in the past (it would
    fire at once): 422 naming the step and when it would have been."""
    for step in steps:
        if step.repeat or anchor not in step.at.anchor_names():
            continue
        due = plan.moment(pipeline, moment, step.at)
        if due <= now:
            raise Invalid(
                f"{what} is too early: '{step.summary}' would be at "
                f"{format_local(due, pipeline.timezone)}, which has passed"
            )


def refuse_ungated(state: OnboardingState, pipeline: Pipeline, stage_id: str) -> None:
    """A move into a stage that requires checklists is refused until every item is ticked."""
    stage = pipeline.stage(stage_id)
    missing = state.unticked(stage.requires)
    if missing:
        listed = ", ".join(f"{item.id} ({item.label})" for item in missing)
        raise NotNow(f"cannot move to {stage.label} ({stage.id}): unticked checklist items: {listed}")


def check_tick(state: OnboardingState, pipeline: Pipeline, tick: TickInput, restarting: bool) -> None:
    refuse_if_finished(state, pipeline, restarting)
    if not any(i.id == tick.item for i in state.checklist):
        if tick.item in pipeline.checklist_items():
            raise Unknown(f"checklist item {tick.item} is not part of this onboarding's modules")
        raise Unknown(
            f"pipeline {pipeline.id} has no checklist item {tick.item!r} "
            f"(items: {', '.join(i.id for i in state.checklist)})"
        )


def check_amend(
    state: OnboardingState, pipeline: Pipeline, amend: AmendInput, now: datetime, restarting: bool
) -> None:
    refuse_if_finished(state, pipeline, restarting)
    start = pipeline.start_stage
    if state.cycle > 1 or state.stage != start or state.entry_count.get(start, 0) > 1:
        raise NotNow(
            f"onboarding has begun (stage {state.stage!r}): the delivery start can only "
            f"be changed while the run is still in {start!r}"
        )
    moment = start_of_day(amend.delivery_start, pipeline.timezone)
    refuse_past_steps(
        pipeline,
        pipeline.stage(state.stage).schedule,
        "delivery_start",
        moment,
        now,
        f"delivery_start {amend.delivery_start}",
    )


def check_finish_task(state: OnboardingState, pipeline: Pipeline, finish: FinishTaskInput) -> None:
    """As ``check_complete_task``; the customer may finish only the customer's own tasks."""
    check_complete_task(state, pipeline, finish.task)
    found = state.task(finish.task)
    if finish.by == CUSTOMER and found is not None and found.owner != "customer":
        raise Unknown(f"task {finish.task} is not one of the customer's")


def check_complete_task(state: OnboardingState, pipeline: Pipeline, task: str) -> None:
    # Allowed in a goal stage too: a run waits there for tasks that block completion.
    if state.status != "running":
        raise NotNow("onboarding is completed: nothing more happens")
    found = state.task(task)
    if found is None:
        raise Unknown(f"task {task} does not belong to this onboarding")
    if found.status != "open":
        raise NotNow(f"task {task} is already done")
    outcome = pipeline.kickoff_outcome
    if outcome is not None and found.kind == outcome.task.kind and found.blocks_completion:
        raise NotNow(
            f"task {task} is done by recording the kick-off outcome "
            f"(POST /onboardings/{state.id}/kickoff-outcome)"
        )


def check_restart(
    state: OnboardingState, pipeline: Pipeline, restart: RestartInput, restarting: bool
) -> None:
    refuse_if_finished(state, pipeline, restarting)
    if restart.reason not in restart.pipeline.restart.reasons:
        raise NotNow(f"reason must be one of {list(restart.pipeline.restart.reasons)}")


def check_outcome(
    state: OnboardingState, pipeline: Pipeline, outcome: OutcomeInput, restarting: bool
) -> None:
    """The ``record_kickoff_outcome`` update of a run that waits for it in its goal stage."""
    spec = _outcome_spec(pipeline)
    if state.completes_at_goal:
        raise NotNow("this run completes at its goal: its kick-off outcome is recorded by Kickoff")
    if state.status != "running" or restarting:
        raise NotNow("onboarding is completed or restarting: nothing more happens")
    if state.kickoff_outcome is not None:
        raise NotNow(f"the kick-off outcome is recorded already ({state.kickoff_outcome.outcome})")
    if state.goal_event is not None:
        raise NotNow(f"onboarding is completed by {state.goal_event}: no kick-off outcome is awaited")
    _refuse_unbooked(state, pipeline, spec)
    _check_outcome_fields(spec, outcome)
    if outcome.outcome != "completed" and (
        outcome.restart is None or outcome.outcome not in outcome.restart.pipeline.restart.reasons
    ):
        raise NotNow(f"{outcome.outcome} restarts onboarding, and this restart is not possible")


def check_booked_outcome(
    state: OnboardingState, pipeline: Pipeline, outcome: OutcomeInput, restart_reasons: Sequence[str]
) -> None:
    """An outcome recorded outside the run, for a run that reached its goal: it must have been
    booked (its goal is the stage where outcomes are awaited, no goal event ended it), and a
    no-show or a rescheduling must be a reason the pipeline restarts for (``restart_reasons``).
    Whether one is recorded already is the store's to say."""
    spec = _outcome_spec(pipeline)
    if state.goal_event is not None:
        raise NotNow(f"onboarding is completed by {state.goal_event}: no kick-off outcome is awaited")
    _refuse_unbooked(state, pipeline, spec)
    _check_outcome_fields(spec, outcome)
    if outcome.outcome != "completed" and outcome.outcome not in restart_reasons:
        raise NotNow(f"{outcome.outcome} restarts onboarding, and this restart is not possible")


def _outcome_spec(pipeline: Pipeline) -> KickoffOutcomeSpec:
    if pipeline.kickoff_outcome is None:
        raise Unknown(f"pipeline {pipeline.id} does not record kick-off outcomes")
    return pipeline.kickoff_outcome


def _refuse_unbooked(state: OnboardingState, pipeline: Pipeline, spec: KickoffOutcomeSpec) -> None:
    if state.stage != spec.awaited_in:
        awaited = pipeline.stage(spec.awaited_in).label
        raise NotNow(
            f"no kick-off is booked yet (stage {state.stage!r}): the outcome is recorded "
            f"once the onboarding is in {awaited} ({spec.awaited_in})"
        )


def _check_outcome_fields(spec: KickoffOutcomeSpec, outcome: OutcomeInput) -> None:
    if outcome.outcome == "completed":
        if outcome.segment not in spec.segments:
            raise Invalid(f"segment must be one of {sorted(spec.segments)} for a completed kick-off")
        if not (outcome.owner or "").strip():
            raise Invalid("owner: name the responsible advisor for a completed kick-off")
    elif outcome.segment or outcome.owner:
        raise Invalid(f"segment and owner belong to a completed kick-off, not to {outcome.outcome}")


def awaits_outcome(state: OnboardingState, pipeline: Pipeline) -> bool:
    """Closing in the stage where the pipeline awaits the kick-off outcome, none recorded yet."""
    spec = pipeline.kickoff_outcome
    return (
        spec is not None
        and not state.completes_at_goal
        and state.stage == spec.awaited_in
        and state.kickoff_outcome is None
        and state.goal_event is None
    )
