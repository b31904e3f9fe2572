"""Onboarding runs: read them, and the staff actions on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, status

from kickoff.api.deps import Acting, ApiKey, Service
from kickoff.api.errors import StrictRoute
from kickoff.api.responses import (
    AUTHENTICATED,
    UNAVAILABLE,
    Responses,
    conflict,
    invalid,
    not_found,
    too_large,
)
from kickoff.api.schemas import (
    Amendment,
    CallLogged,
    ChecklistAnswer,
    ChecklistTick,
    ErasedOnboardingPublic,
    EventAccepted,
    EventPayload,
    KickoffOutcomeIn,
    MeetingBooked,
    OnboardingPublic,
    OnboardingSummary,
    OutcomeAccepted,
    Park,
    RecordedOutcomePublic,
    Restart,
    RestartAccepted,
    TaskPublic,
)
from kickoff.domain import AmendInput, EventInput, KickoffOutcome, OnboardingState, OutcomeInput, TickInput
from kickoff.identity.audit import audit
from kickoff.pipelines.payload import JsonScalar
from kickoff.service import ErasedOnboardingError, privacy

router = APIRouter(
    prefix="/onboardings",
    tags=["onboardings"],
    dependencies=[ApiKey],
    responses={**AUTHENTICATED, **UNAVAILABLE},
    route_class=StrictRoute,
)

_READ: Responses = {**not_found("No such onboarding"), **invalid()}
_ERRORS: Responses = {
    **_READ,
    **conflict("The onboarding is finished, or the action does not apply in its stage"),
    **too_large(),
}
_EVENT_ERRORS: Responses = {
    **_ERRORS,
    **not_found("No such onboarding, or its pipeline has no such event"),
    **invalid("The payload does not match the event's declaration in pipelines.yaml"),
}


def _public(state: OnboardingState, outcomes: Sequence[KickoffOutcome] = ()) -> OnboardingPublic:
    contract = state.contract
    return OnboardingPublic(
        id=state.id,
        pipeline=state.pipeline,
        pipeline_version=state.pipeline_version,
        cycle=state.cycle,
        stage=state.stage,
        stage_label=state.stage_label,
        stage_entered_at=state.stage_entered_at,
        status=state.status,
        next_step=state.next_step,
        next_step_at=state.next_step_at,
        customer=contract.customer,
        main_user=contract.main_user,
        delivery_start=contract.delivery_start,
        modules=state.modules,
        tasks=[TaskPublic.model_validate(task.model_dump()) for task in state.tasks],
        checklist=state.checklist,
        emails=state.emails,
        records=state.records,
        timeline=state.timeline,
        previous_cycles=state.previous_cycles,
        visits=state.visits,
        awaiting_outcome=state.awaiting_outcome,
        kickoff_outcome=state.kickoff_outcome,
        kickoff_outcomes=[RecordedOutcomePublic.model_validate(o, from_attributes=True) for o in outcomes],
        archived=state.archived,
    )


@router.get("", response_model=list[OnboardingSummary], responses=invalid("Unknown stage or pipeline"))
async def list_onboardings(
    service: Service,
    stage: str | None = None,
    pipeline: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OnboardingSummary]:
    """Onboardings by stage and pipeline, from Temporal visibility (newest first)."""
    rows = await service.list_onboardings(pipeline=pipeline, stage=stage, limit=limit)
    return [OnboardingSummary.model_validate(row, from_attributes=True) for row in rows]


@router.get("/{onboarding_id}", response_model=OnboardingPublic | ErasedOnboardingPublic, responses=_READ)
async def get_onboarding(onboarding_id: str, service: Service) -> OnboardingPublic | ErasedOnboardingPublic:
    """One onboarding: stage, tasks, mails and timeline (running or completed), and the
    kick-off outcomes recorded for it. Once its personal data was erased, only what may be
    kept: stages and dates, outcomes without names, and ``personal_data_erased_at``."""
    try:
        state = await service.state(onboarding_id)
    except ErasedOnboardingError as erased:
        kept = await privacy.kept(service, onboarding_id, erased.erased_at)
        return ErasedOnboardingPublic.model_validate(kept, from_attributes=True)
    return _public(state, await service.kickoff_outcomes(onboarding_id))


IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=200,
        pattern=r"^[ -~]+$",  # as the Idempotency-Key middleware reads it: printable ASCII
        description="Send the same key when retrying a request: the action is applied once.",
    ),
]


@router.patch("/{onboarding_id}", responses=_ERRORS)
async def amend_contract(
    onboarding_id: str, body: Amendment, service: Service, who: Acting
) -> OnboardingPublic:
    """An amended contract: a new delivery start, accepted until onboarding has begun (409 after).
    The step waiting for the delivery start moves with it."""
    await service.amend(onboarding_id, AmendInput(delivery_start=body.delivery_start))
    await audit(service.database, who, "amend", onboarding_id, fields=["delivery_start"])
    return _public(await service.state(onboarding_id))


async def _event(
    service: Service,
    who: Acting,
    onboarding_id: str,
    name: str,
    payload: dict[str, JsonScalar],
    idempotency_key: str | None = None,
) -> EventAccepted:
    """Apply the event as ``who`` (named on the timeline), then note it in the audit log."""
    event = EventInput(name=name, payload=payload, by=who.by() if who.account else None)
    stage = await service.apply_event(onboarding_id, event, idempotency_key)
    await audit(service.database, who, "event", onboarding_id, event=name)
    return EventAccepted(id=onboarding_id, stage=stage)


@router.post("/{onboarding_id}/meeting-booked", status_code=status.HTTP_202_ACCEPTED, responses=_ERRORS)
async def meeting_booked(
    onboarding_id: str, body: MeetingBooked, service: Service, who: Acting
) -> EventAccepted:
    """A kick-off meeting is booked: the onboarding closes and automation stops."""
    payload: dict[str, JsonScalar] = {"meeting_at": body.meeting_at.isoformat(), "booked_by": body.booked_by}
    return await _event(service, who, onboarding_id, "meeting_booked", payload)


@router.post("/{onboarding_id}/calls", status_code=status.HTTP_202_ACCEPTED, responses=_ERRORS)
async def log_call(onboarding_id: str, body: CallLogged, service: Service, who: Acting) -> EventAccepted:
    """Log a call to the customer on the timeline (closes the oldest open call task)."""
    payload: dict[str, JsonScalar] = {"outcome": body.outcome, "note": body.note}
    return await _event(service, who, onboarding_id, "call_logged", payload)


@router.post("/{onboarding_id}/park", status_code=status.HTTP_202_ACCEPTED, responses=_ERRORS)
async def park(onboarding_id: str, body: Park, service: Service, who: Acting) -> EventAccepted:
    """Pause all automation (manual follow-up), optionally until a date."""
    until = body.until.isoformat() if body.until else None
    return await _event(service, who, onboarding_id, "park", {"reason": body.reason, "until": until})


@router.post("/{onboarding_id}/resume", status_code=status.HTTP_202_ACCEPTED, responses=_ERRORS)
async def resume(onboarding_id: str, service: Service, who: Acting) -> EventAccepted:
    """Resume a parked onboarding: it re-enters onboarding with its day counter restarted."""
    return await _event(service, who, onboarding_id, "resume", {})


@router.post("/{onboarding_id}/restart", status_code=status.HTTP_202_ACCEPTED, responses=_ERRORS)
async def restart(onboarding_id: str, body: Restart, service: Service, who: Acting) -> RestartAccepted:
    """Restart onboarding after a no-show or rescheduled kick-off (a new run, same id)."""
    cycle, stage = await service.restart(onboarding_id, body.reason, by=who.by())
    await audit(service.database, who, "restart", onboarding_id, reason=body.reason, cycle=cycle)
    return RestartAccepted(id=onboarding_id, cycle=cycle, stage=stage)


@router.post(
    "/{onboarding_id}/kickoff-outcome",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **_ERRORS,
        **not_found("No such onboarding, or its pipeline records no kick-off outcomes"),
        **conflict("No kick-off booked yet, or the outcome is recorded already"),
        **invalid("Segment or advisor missing for a completed kick-off, or an unknown segment"),
    },
)
async def kickoff_outcome(
    onboarding_id: str, body: KickoffOutcomeIn, service: Service, who: Acting
) -> OutcomeAccepted:
    """After the kick-off meeting (the booked run has completed): ``completed`` with segment and
    advisor is recorded in Kickoff's database; ``no_show`` or ``rescheduled`` is recorded and
    restarts onboarding (a new run of the same id, cycle + 1). Recorded by the caller's account
    (a service key: "api")."""
    cycle, stage = await service.record_outcome(
        onboarding_id,
        OutcomeInput(outcome=body.outcome, segment=body.segment, owner=body.owner, by=who.by()),
    )
    await audit(service.database, who, "kickoff_outcome", onboarding_id, outcome=body.outcome, cycle=cycle)
    return OutcomeAccepted(id=onboarding_id, outcome=body.outcome, cycle=cycle, stage=stage)


@router.post("/{onboarding_id}/events/{event}", status_code=status.HTTP_202_ACCEPTED, responses=_EVENT_ERRORS)
async def send_event(
    onboarding_id: str,
    event: str,
    service: Service,
    who: Acting,
    payload: Annotated[EventPayload, Body(examples=[{"reason": "Budget frozen"}])] = {},  # noqa: B006
    idempotency_key: IdempotencyKey = None,
) -> EventAccepted:
    """Any event the onboarding's pipeline declares, with a payload checked against its declaration
    (see ``GET /pipelines/{id}``). The named endpoints above are shorthands for some of them."""
    return await _event(service, who, onboarding_id, event, payload, idempotency_key)


@router.post("/{onboarding_id}/checklist/{item}", responses=_ERRORS)
async def tick_item(
    onboarding_id: str,
    item: str,
    service: Service,
    who: Acting,
    body: ChecklistTick | None = None,
    idempotency_key: IdempotencyKey = None,
) -> ChecklistAnswer:
    """Tick a checklist item (or untick it with ``{"ticked": false}``). A stage that requires
    the checklist can only be entered once every item is ticked."""
    ticked_it = body.ticked if body else True
    # A service key ticks for the person its caller names; an account ticks as itself.
    named = body.by if body else None
    tick = TickInput(item=item, ticked=ticked_it, by=who.by(named) if (who.account or named) else None)
    items = await service.tick_item(onboarding_id, tick, idempotency_key)
    await audit(service.database, who, "tick" if ticked_it else "untick", onboarding_id, item=item)
    ticked = next(i for i in items if i.id == item)
    return ChecklistAnswer(
        id=onboarding_id,
        item=item,
        checklist=ticked.checklist,
        ticked=ticked.ticked_at is not None,
        unticked=[i.id for i in items if i.ticked_at is None],
    )
