"""The customer's side on the board: the onboarding page's "Customer page" panel (the link's
status, the kick-off booking), revoking and resending the link, and the Bookings page where
staff see the booked kick-offs and block times.

Staff never see a link's token or URL: only whether one is live, and when it was made and last
used. Times are shown, and typed, in the pipeline's timezone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Path, Request, Response, status
from sqlalchemy.exc import SQLAlchemyError

from kickoff.board.auth import Session, SignedIn, Staff
from kickoff.board.pages import SERVICE_ERRORS, error_page, page, redirect_with_flash
from kickoff.board.views import local
from kickoff.context import Context, Service
from kickoff.customer import new_link_mail
from kickoff.customer.access import links_of
from kickoff.customer.links import CustomerLink
from kickoff.db import Database
from kickoff.db.bookings import BlockRow, BookingRow, BookingStore
from kickoff.domain import CUSTOMER, OnboardingState
from kickoff.identity.audit import AuditEntry, AuditLog, audit
from kickoff.pipelines import Pipeline, PipelineCatalog
from kickoff.schedule import local_moment, zone
from kickoff.service import NotFoundError, OnboardingService, UnprocessableError, read_views

router = APIRouter(include_in_schema=False)
log = structlog.get_logger(__name__)

OnboardingId = Annotated[str, Path(alias="onboarding_id")]
OptionalForm = Annotated[str | None, Form()]
BOOKINGS_AHEAD = timedelta(days=60)
"""How far ahead the Bookings page lists bookings and blocks."""
BLOCKS_AHEAD = timedelta(days=400)
"""How far ahead a time can be blocked (a typo'd year is refused, not stored)."""
AUDIT_READ = 1000
"""The onboarding's newest audit entries read for its page (the customer's actions among them)."""
NAMES_READ = 200
"""At most this many customers' names are looked up for the Bookings page (the rest show ids)."""
BOOKED_BY = {CUSTOMER: "the customer"}


def _now() -> datetime:
    return datetime.now(UTC)


def _onboarding_url(oid: str) -> str:
    return f"/board/onboardings/{oid}"


# ---------------------------------------------------------------- the onboarding page's panel


@dataclass(frozen=True)
class LinkStatus:
    created: str
    last_used: str
    """"" while the customer has not opened it."""


@dataclass(frozen=True)
class BookingLine:
    starts: str
    ends: str
    status: str
    booked_by: str
    moves: int
    """How often it was moved (its invitation's sequence; a cancellation counts one more)."""


@dataclass(frozen=True)
class CustomerPanel:
    link: LinkStatus | None
    bookings: list[BookingLine]
    """The live booking first, then cancelled ones, newest first."""
    problem: str | None = None
    """Why the link and bookings could not be read (the rest of the page is shown)."""


@dataclass(frozen=True)
class CustomerSide:
    panel: CustomerPanel | None
    """None: the pipeline has no customer page."""
    actions: list[AuditEntry] = field(default_factory=list)
    """The onboarding's audit entries (the customer's actions join the timeline)."""


def booking_line(row: BookingRow, timezone: str) -> BookingLine:
    moves = row.sequence - 1 if row.status == "cancelled" else row.sequence
    return BookingLine(
        starts=local(row.starts_at, timezone),
        ends=row.ends_at.astimezone(zone(timezone)).strftime("%H:%M"),
        status=row.status,
        booked_by=BOOKED_BY.get(row.booked_by, row.booked_by),
        moves=max(moves, 0),
    )


def customer_panel(
    pipeline: Pipeline, link: CustomerLink | None, bookings: Sequence[BookingRow]
) -> CustomerPanel:
    tz = pipeline.timezone
    status_ = None
    if link is not None:
        status_ = LinkStatus(created=local(link.created_at, tz), last_used=local(link.last_used_at, tz))
    ordered = sorted(bookings, key=lambda b: (not b.live, -b.starts_at.timestamp()))
    return CustomerPanel(link=status_, bookings=[booking_line(b, tz) for b in ordered])


def booking_ids(actions: Sequence[AuditEntry]) -> list[str]:
    """The bookings the customer's actions name (cancelled ones are only found this way)."""
    found = (str(a.detail["booking"]) for a in actions if a.actor == CUSTOMER and a.detail.get("booking"))
    return list(dict.fromkeys(found))


async def customer_side(
    database: Database, service: OnboardingService, state: OnboardingState, pipeline: Pipeline
) -> CustomerSide:
    """What the onboarding page shows of the customer's side; a database that does not answer
    leaves the panel saying so, never the page failing."""
    if pipeline.customer_page is None:
        return CustomerSide(None)  # no page, so nothing the customer did there
    try:
        actions = await AuditLog(database).entries(onboarding_id=state.id, limit=AUDIT_READ)
        link = await links_of(service, database).live(state.id)
        store = BookingStore(database)
        rows: dict[str, BookingRow] = {}
        live = await store.live_for(state.id)
        if live is not None:
            rows[live.id] = live
        for booking_id in booking_ids(actions):
            if booking_id not in rows and (row := await store.get(booking_id)) is not None:
                rows[booking_id] = row
    except (SQLAlchemyError, OSError) as err:
        log.warning("board.customer_side_unavailable", error=type(err).__name__)
        problem = "Kickoff's database did not answer: the customer's link and booking cannot be shown now."
        return CustomerSide(CustomerPanel(None, [], problem))
    return CustomerSide(customer_panel(pipeline, link, list(rows.values())), actions)


@router.post("/board/onboardings/{onboarding_id}/customer-link/revoke")
async def revoke_link(
    request: Request, context: Context, service: Service, session: Staff, oid: OnboardingId
) -> Response:
    """Revoke the customer's link: their page answers 410, saying how to get a new one."""
    try:
        revoked = await new_link_mail.revoke(service, context.database, oid, session.by)
    except SERVICE_ERRORS as err:
        return error_page(request, session, err, "The link was not revoked")
    if not revoked:
        return redirect_with_flash(request, _onboarding_url(oid), "ok", "The customer had no live link.")
    await audit(context.database, session.principal, "customer_link_revoked", oid)
    text = "Link revoked: the customer's page no longer opens with it. Send a new link when they need one."
    return redirect_with_flash(request, _onboarding_url(oid), "ok", text)


@router.post("/board/onboardings/{onboarding_id}/customer-link/send")
async def send_link(
    request: Request, context: Context, service: Service, session: Staff, oid: OnboardingId
) -> Response:
    """Revoke any live link, make a new one and mail it to the contract's main user."""
    try:
        sent = await new_link_mail.send_new_link(
            service, context.database, oid, session.by, context.settings.customer_link_weeks, _now()
        )
    except SERVICE_ERRORS as err:
        return error_page(request, session, err, "No new link was sent")
    await audit(context.database, session.principal, "customer_link_sent", oid, revoked=sent.revoked)
    text = f"A new link is on its way to {sent.to}."
    if sent.revoked:
        text += " The previous link no longer works."
    return redirect_with_flash(request, _onboarding_url(oid), "ok", text)


# ---------------------------------------------------------------- the Bookings page


@dataclass(frozen=True)
class BookingListRow:
    starts: str
    ends: str
    onboarding_id: str
    customer: str
    """The customer's name from the read model; "" when it has none (the id is shown)."""
    status: str
    booked_by: str
    moves: int


@dataclass(frozen=True)
class BlockListRow:
    id: int
    starts: str
    ends: str
    reason: str
    created_by: str


@dataclass(frozen=True)
class PipelineBookings:
    pipeline: Pipeline
    bookings: list[BookingListRow]
    blocks: list[BlockListRow]


def booking_pipelines(catalog: PipelineCatalog, chosen: str | None) -> list[Pipeline]:
    """The pipelines that offer booking (``chosen`` only, when given); 404 for one that does not."""
    offering = [p for p in catalog.pipelines.values() if p.booking is not None]
    if chosen is None:
        return offering
    found = next((p for p in offering if p.id == chosen), None)
    if found is None:
        known = ", ".join(p.id for p in offering) or "none"
        raise NotFoundError(f"no pipeline {chosen!r} with booking (pipelines with booking: {known})")
    return [found]


def block_row(block: BlockRow, timezone: str) -> BlockListRow:
    return BlockListRow(
        id=block.id,
        starts=local(block.starts_at, timezone),
        ends=local(block.ends_at, timezone),
        reason=block.reason,
        created_by=block.created_by,
    )


async def _customer_names(service: OnboardingService, ids: Sequence[str]) -> dict[str, str]:
    """Customers' names from the read model, for the first ``NAMES_READ`` onboardings."""
    store = read_views.store_of(service)
    names = {}
    for oid in list(dict.fromkeys(ids))[:NAMES_READ]:
        entry = await store.entry(oid)
        if entry is not None and entry.customer:
            names[oid] = entry.customer
    return names


async def pipeline_bookings(
    database: Database, service: OnboardingService, pipeline: Pipeline, now: datetime
) -> PipelineBookings:
    store = BookingStore(database)
    end = now + BOOKINGS_AHEAD
    rows = await store.upcoming(pipeline.id, now, end, include_cancelled=True)
    blocks = await store.blocks(pipeline.id, now, end)
    names = await _customer_names(service, [row.onboarding_id for row in rows])
    tz = pipeline.timezone
    listed = []
    for row in rows:
        line = booking_line(row, tz)
        listed.append(
            BookingListRow(
                starts=line.starts,
                ends=line.ends,
                onboarding_id=row.onboarding_id,
                customer=names.get(row.onboarding_id, ""),
                status=row.status,
                booked_by=line.booked_by,
                moves=line.moves,
            )
        )
    return PipelineBookings(pipeline, listed, [block_row(b, tz) for b in blocks])


async def _bookings_page(
    request: Request,
    context: Context,
    service: OnboardingService,
    session: Session,
    chosen: str | None,
    refused: Exception | None = None,
    refill: tuple[str, Mapping[str, str]] | None = None,
) -> Response:
    try:
        pipelines = booking_pipelines(context.catalog, chosen)
        now = _now()
        async with read_views.database_answers():
            sections = [await pipeline_bookings(context.database, service, p, now) for p in pipelines]
    except SERVICE_ERRORS as err:
        return error_page(request, session, err, "Bookings")
    code = status.HTTP_422_UNPROCESSABLE_CONTENT if refused else status.HTTP_200_OK
    offering = booking_pipelines(context.catalog, None)
    return page(
        request,
        "bookings.html",
        session,
        {
            "sections": sections,
            "pipelines": offering,
            "chosen": chosen,
            "refill": dict(refill[1]) if refill else {},
            "refill_pipeline": refill[0] if refill else "",
            "ahead_days": BOOKINGS_AHEAD.days,
        },
        code,
        error=f"Not blocked: {refused}" if refused else None,
    )


@router.get("/board/bookings")
async def bookings(
    request: Request, context: Context, service: Service, session: SignedIn, pipeline: str | None = None
) -> Response:
    """The kick-offs customers booked in the coming weeks, and the times blocked for booking."""
    return await _bookings_page(request, context, service, session, pipeline or None)


def parse_block(
    pipeline: Pipeline, day: str | None, start: str | None, end: str | None, reason: str | None, now: datetime
) -> tuple[datetime, datetime, str]:
    """A block typed as a local date, a time range and a reason; ``UnprocessableError`` naming
    what is wrong (a bad date or time, an end before the start, a time that has passed)."""
    try:
        local_day = date.fromisoformat(day or "")
    except ValueError:
        raise UnprocessableError("date: give a date like 2027-01-15") from None
    times = []
    for name, value in (("from", start), ("to", end)):
        try:
            times.append(time.fromisoformat(value or ""))
        except ValueError:
            raise UnprocessableError(f"{name}: give a time like 09:30") from None
    starts = local_moment(local_day, times[0], pipeline.timezone)
    ends = local_moment(local_day, times[1], pipeline.timezone)
    if ends <= starts:
        raise UnprocessableError("the blocked time must end after it starts")
    if ends <= now:
        raise UnprocessableError("that time has passed: block a time ahead")
    if starts > now + BLOCKS_AHEAD:
        raise UnprocessableError(f"a time can be blocked at most {BLOCKS_AHEAD.days} days ahead")
    text = (reason or "").strip()
    if not text:
        raise UnprocessableError("reason: say why the time is blocked")
    if len(text) > 200:
        raise UnprocessableError("reason: at most 200 characters")
    return starts, ends, text


@router.post("/board/bookings/blocks")
async def add_block(
    request: Request,
    context: Context,
    service: Service,
    session: Staff,
    pipeline: OptionalForm = None,
    day: OptionalForm = None,
    start: OptionalForm = None,
    end: OptionalForm = None,
    reason: OptionalForm = None,
) -> Response:
    """Block a time (one local day, from–to) so customers cannot book it."""
    form = {"day": day or "", "start": start or "", "end": end or "", "reason": reason or ""}
    try:
        [chosen] = booking_pipelines(context.catalog, pipeline or "")
        starts, ends, text = parse_block(chosen, day, start, end, reason, _now())
        async with read_views.database_answers():
            block_id = await BookingStore(context.database).add_block(
                chosen.id, starts, ends, text, session.by, _now()
            )
    except UnprocessableError as err:
        return await _bookings_page(request, context, service, session, pipeline, err, (pipeline or "", form))
    except SERVICE_ERRORS as err:
        return error_page(request, session, err, "Nothing was blocked")
    await audit(
        context.database,
        session.principal,
        "booking_block_added",
        pipeline=chosen.id,
        block=block_id,
        start=starts.isoformat(),
        end=ends.isoformat(),
    )
    text = f"Blocked {local(starts, chosen.timezone)}–{ends.astimezone(zone(chosen.timezone)):%H:%M}."
    return redirect_with_flash(request, f"/board/bookings?pipeline={chosen.id}", "ok", text)


@router.post("/board/bookings/blocks/{block_id}/remove")
async def remove_block(
    request: Request,
    context: Context,
    session: Staff,
    block_id: Annotated[str, Path()],
    pipeline: OptionalForm = None,
) -> Response:
    """Lift a block: its times are offered to customers again."""
    back = "/board/bookings"
    if pipeline and any(p.id == pipeline for p in booking_pipelines(context.catalog, None)):
        back += f"?pipeline={pipeline}"
    try:
        if not block_id.isdigit():
            raise NotFoundError(f"no block {block_id!r}")
        async with read_views.database_answers():
            removed = await BookingStore(context.database).remove_block(int(block_id))
    except SERVICE_ERRORS as err:
        return error_page(request, session, err, "No block was removed")
    if not removed:
        return redirect_with_flash(request, back, "error", "That block was removed already.")
    await audit(context.database, session.principal, "booking_block_removed", block=int(block_id))
    return redirect_with_flash(request, back, "ok", "Block removed: its times can be booked again.")
