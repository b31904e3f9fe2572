"""The board's pages and form posts: the board, one onboarding, the task inbox.

Every POST is a plain HTML form carrying the session's CSRF token. On success it redirects
(303) back with a flash message; when the engine refuses an action, the page the form came
from is rendered again with the engine's reason and the matching status (409, 422, …), and an
event form keeps what was typed into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Path, Request, Response, status
from pydantic import ValidationError

from kickoff.board import customer_side, erasure, views
from kickoff.board.auth import AdminForm, Session, SignedIn, Staff
from kickoff.board.forms import read_payload
from kickoff.board.pages import SERVICE_ERRORS, error_page, page, redirect_with_flash, status_of
from kickoff.board.queries import board_runs, charts
from kickoff.context import Context, Service
from kickoff.domain import AmendInput, EventInput, OutcomeInput, TickInput
from kickoff.identity import AccountStore
from kickoff.identity.audit import audit
from kickoff.pipelines import Pipeline, PipelineCatalog
from kickoff.service import (
    ErasedOnboardingError,
    NotFoundError,
    OnboardingService,
    UnprocessableError,
    privacy,
)

router = APIRouter(include_in_schema=False)
log = structlog.get_logger(__name__)

OnboardingId = Annotated[str, Path(alias="onboarding_id")]
"""Named as in the API's paths, so request logs and metrics bind the onboarding id for the board too."""
OptionalForm = Annotated[str | None, Form()]
"""Board forms validate their fields themselves, so a gap gets an HTML answer, not JSON 422."""


def _now() -> datetime:
    return datetime.now(UTC)


def _pipeline_of(catalog: PipelineCatalog, oid: str) -> Pipeline | None:
    """The pipeline of an onboarding id, from its prefix (``SE-C-1001`` -> assist-se)."""
    prefix = oid.split("-", 1)[0]
    return next((p for p in catalog.pipelines.values() if p.id_prefix == prefix), None)


def _stage_label(catalog: PipelineCatalog, oid: str, stage: str) -> str:
    pipeline = _pipeline_of(catalog, oid)
    return pipeline.stage(stage).label if pipeline and stage in pipeline.stage_ids() else stage


def _onboarding_url(oid: str) -> str:
    return f"/board/onboardings/{oid}"


# ---------------------------------------------------------------- the board


@router.get("/board")
async def board(
    request: Request,
    context: Context,
    service: Service,
    session: SignedIn,
    pipeline: str | None = None,
    owner_role: str | None = None,
) -> Response:
    """One column per stage of a pipeline, a card per onboarding, the report charts."""
    catalog = context.catalog
    chosen = catalog.get(pipeline) if pipeline else next(iter(catalog.pipelines.values()))
    if chosen is None:
        known = ", ".join(catalog.pipelines)
        return error_page(request, session, NotFoundError(f"no pipeline {pipeline!r} (pipelines: {known})"))
    role = owner_role or None
    try:
        runs = await board_runs(service, chosen.id)
    except SERVICE_ERRORS as err:
        return error_page(request, session, err, "The board cannot be shown")
    chart = await charts(service, chosen.id)
    return page(
        request,
        "board.html",
        session,
        {
            "pipeline": chosen,
            "pipelines": list(catalog.pipelines.values()),
            "roles": views.role_choices([chosen]),
            "owner_role": role,
            "columns": views.columns(runs.rows, chosen, _now(), role),
            "runs": runs,
            "charts": chart,
        },
    )


# ---------------------------------------------------------------- one onboarding


@router.get("/board/onboardings/{onboarding_id}")
async def onboarding(
    request: Request, context: Context, service: Service, session: SignedIn, oid: OnboardingId
) -> Response:
    return await _onboarding_page(request, context, service, session, oid)


async def _onboarding_page(
    request: Request,
    context: Context,
    service: OnboardingService,
    session: Session,
    oid: str,
    refused: Exception | None = None,
    refill: tuple[str, Mapping[str, str]] | None = None,
) -> Response:
    """The onboarding page; with ``refused``, the reason an action was refused, and its status."""
    try:
        try:
            state = await service.state(oid)
        except ErasedOnboardingError as erased:
            return await erasure.erased_page(
                request, context.catalog, service, session, oid, erased.erased_at, refused
            )
    except SERVICE_ERRORS as err:
        return error_page(request, session, err, f"Onboarding {oid}")
    pipeline = context.catalog.get(state.pipeline)
    if pipeline is None:
        return error_page(
            request, session, NotFoundError(f"pipeline {state.pipeline!r} is no longer in pipelines.yaml")
        )
    side = await customer_side.customer_side(context.database, service, state, pipeline)
    view = views.onboarding_view(state, pipeline, _now(), refill, side.actions)
    code = status_of(refused, status.HTTP_200_OK) if refused else status.HTTP_200_OK
    # The kick-off's responsible advisor is one of the staff accounts (recorded by name).
    advisors = [a.label for a in await AccountStore(context.database).all() if a.takes_work]
    return page(
        request,
        "onboarding.html",
        session,
        {
            "view": view,
            "advisors": advisors,
            "refill": dict(refill[1]) if refill else {},
            "refill_form": refill[0] if refill else "",
            "erase_reasons": erasure.reason_choices(),
            "erase_confirm": erasure.CONFIRM,
            "customer": side.panel,
        },
        code,
        error=f"Not done: {refused}" if refused else None,
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


@router.post("/board/onboardings/{onboarding_id}/events/{event}")
async def send_event(
    request: Request, context: Context, service: Service, session: Staff, oid: OnboardingId, event: str
) -> Response:
    """Any event of the onboarding's pipeline, from the form its payload declaration generated."""
    pipeline = _pipeline_of(context.catalog, oid)
    spec = pipeline.events.get(event) if pipeline else None
    if pipeline is None or spec is None:
        err = NotFoundError(f"no event {event!r} for onboarding {oid}")
        return await _onboarding_page(request, context, service, session, oid, err)
    form = await _form(request)
    payload = read_payload(spec, pipeline, form)
    try:
        stage = await service.apply_event(oid, EventInput(name=event, payload=payload, by=session.by))
    except SERVICE_ERRORS as err:
        return await _onboarding_page(request, context, service, session, oid, err, (event, form))
    await audit(service.database, session.principal, "event", oid, event=event)
    label = _stage_label(context.catalog, oid, stage)
    return redirect_with_flash(request, _onboarding_url(oid), "ok", f"{spec.label}: done. Stage: {label}.")


@router.post("/board/onboardings/{onboarding_id}/checklist/{item}")
async def tick(
    request: Request,
    context: Context,
    service: Service,
    session: Staff,
    oid: OnboardingId,
    item: str,
    ticked: OptionalForm = None,
) -> Response:
    """Tick (``ticked=true``) or untick (``ticked=false``) a checklist item."""
    tick_it = ticked != "false"
    try:
        await service.tick_item(oid, TickInput(item=item, ticked=tick_it, by=session.by))
    except SERVICE_ERRORS as err:
        return await _onboarding_page(request, context, service, session, oid, err)
    await audit(service.database, session.principal, "tick" if tick_it else "untick", oid, item=item)
    text = "Item ticked." if tick_it else "Item unticked."
    return redirect_with_flash(request, _onboarding_url(oid), "ok", text)


@router.post("/board/onboardings/{onboarding_id}/restart")
async def restart(
    request: Request,
    context: Context,
    service: Service,
    session: Staff,
    oid: OnboardingId,
    reason: OptionalForm = None,
) -> Response:
    """Restart onboarding after a no-show or a rescheduled kick-off."""
    try:
        if not reason:
            raise UnprocessableError("choose why onboarding restarts")
        cycle, stage = await service.restart(oid, reason, by=session.by)
    except SERVICE_ERRORS as err:
        return await _onboarding_page(request, context, service, session, oid, err)
    await audit(service.database, session.principal, "restart", oid, reason=reason, cycle=cycle)
    label = _stage_label(context.catalog, oid, stage)
    return redirect_with_flash(
        request, _onboarding_url(oid), "ok", f"Onboarding restarted: cycle {cycle}, stage {label}."
    )


@router.post("/board/onboardings/{onboarding_id}/kickoff-outcome")
async def kickoff_outcome(
    request: Request,
    context: Context,
    service: Service,
    session: Staff,
    oid: OnboardingId,
    outcome: OptionalForm = None,
    segment: OptionalForm = None,
    owner: OptionalForm = None,
) -> Response:
    """How the kick-off went: completed (segment, advisor), or a no-show / rescheduled meeting."""
    form = {"outcome": outcome or "", "segment": segment or "", "owner": owner or ""}
    try:
        if outcome not in ("completed", "no_show", "rescheduled"):
            raise UnprocessableError("choose how the kick-off went: completed, no_show or rescheduled")
        completed = outcome == "completed"
        cycle, stage = await service.record_outcome(
            oid,
            OutcomeInput(
                outcome=outcome,
                segment=(segment or None) if completed else None,
                owner=(owner or "").strip() or None if completed else None,
                by=session.by,
            ),
        )
    except SERVICE_ERRORS as err:
        return await _onboarding_page(request, context, service, session, oid, err, ("outcome", form))
    await audit(service.database, session.principal, "kickoff_outcome", oid, outcome=outcome, cycle=cycle)
    text = views.OUTCOME_LABELS[outcome]
    if not completed:
        text += f": onboarding restarted (cycle {cycle}, stage {_stage_label(context.catalog, oid, stage)})"
    return redirect_with_flash(request, _onboarding_url(oid), "ok", f"Kick-off outcome recorded: {text}.")


@router.post("/board/onboardings/{onboarding_id}/amend")
async def amend(
    request: Request,
    context: Context,
    service: Service,
    session: Staff,
    oid: OnboardingId,
    delivery_start: OptionalForm = None,
) -> Response:
    """An amended contract: a new delivery start, while onboarding has not begun."""
    try:
        try:
            day = date.fromisoformat(delivery_start or "")
        except ValueError:
            raise UnprocessableError("delivery start: give a date like 2027-01-15") from None
        try:
            amendment = AmendInput(delivery_start=day)
        except ValidationError as exc:  # a date far from today
            raise UnprocessableError(f"delivery start: {exc.errors()[0]['msg']}") from None
        await service.amend(oid, amendment)
    except SERVICE_ERRORS as err:
        refill = ("amend", {"delivery_start": delivery_start or ""})
        return await _onboarding_page(request, context, service, session, oid, err, refill)
    await audit(service.database, session.principal, "amend", oid, fields=["delivery_start"])
    return redirect_with_flash(request, _onboarding_url(oid), "ok", f"Delivery start moved to {day}.")


@router.post("/board/onboardings/{onboarding_id}/personal-data/erase")
async def erase_personal_data(
    request: Request,
    context: Context,
    service: Service,
    session: AdminForm,
    oid: OnboardingId,
    confirm: OptionalForm = None,
    reason: OptionalForm = None,
) -> Response:
    """Erase the onboarding's personal data (GDPR art. 17), once confirmed and with a reason."""
    try:
        chosen = erasure.checked_reason(confirm, reason)
        erased = await privacy.erase(service, oid, chosen)
    except SERVICE_ERRORS as err:
        refill = ("erase", {"reason": reason or ""})
        return await _onboarding_page(request, context, service, session, oid, err, refill)
    if erased.first:
        await audit(service.database, session.principal, "erasure", oid, reason=chosen)
    text = "Personal data erased." if erased.first else "Personal data was erased already."
    return redirect_with_flash(request, _onboarding_url(oid), "ok", text)
