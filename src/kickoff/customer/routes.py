"""The customer's page: ``GET /c/{token}`` and its forms (items, booking, cancelling).

No account and no password: the unguessable link is the key. Every form carries a CSRF token
bound to the link; links that open nothing are throttled per client address; a revoked or
expired link gets a page saying how to get a new one. Nothing is cached or sent on as a
Referer (the token is in the URL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, Response, status
from fastapi.responses import RedirectResponse

from kickoff.board.pages import server_templates, status_of
from kickoff.context import Context, Service
from kickoff.customer import booking_flow
from kickoff.customer.access import (
    THROTTLE_KIND,
    CustomerAccess,
    LinkRefusedError,
    Opened,
    csrf_ok,
    csrf_token,
    links_of,
)
from kickoff.customer.links import LAST_USE_RESOLUTION
from kickoff.customer.texts import local_datetime, texts_for
from kickoff.customer.view import page_context
from kickoff.db.bookings import BookingStore
from kickoff.domain import CUSTOMER, TickInput
from kickoff.identity.throttle import client_address
from kickoff.service import ConflictError, ServiceError, UnavailableError

router = APIRouter(include_in_schema=False)
CSRF_FIELD = "csrf"
TEMPLATES = Path(__file__).parent / "templates"
templates = server_templates(TEMPLATES)
FormText = Annotated[str | None, Form()]
FLASHES = {
    "confirmed": "flash_booked",
    "booked": "flash_booked",
    "updated": "flash_moved",
    "cancelled": "flash_cancelled",
    "item": "flash_item",
}


def _now() -> datetime:
    return datetime.now(UTC)


def get_access(context: Context, service: Service) -> CustomerAccess:
    links = links_of(service, context.database)
    return CustomerAccess(
        service, context.database, links, BookingStore(context.database), context.settings.customer_link_weeks
    )


Access = Annotated[CustomerAccess, Depends(get_access)]


def _headers(response: Response, logo: str | None = None) -> Response:
    img = "'self' data:" + (f" {_origin(logo)}" if logo else "")
    response.headers.update(
        {
            "Cache-Control": "no-store",
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'unsafe-inline'; img-src {img}; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            ),
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            # The token is in the URL: never hand it to a logo's host or a contact's site.
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex, nofollow",
        }
    )
    return response


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _render(
    request: Request, name: str, values: dict[str, Any], code: int = 200, logo: str | None = None
) -> Response:
    return _headers(templates.TemplateResponse(request, name, values, status_code=code), logo)


def _refused_page(request: Request, refusal: LinkRefusedError) -> Response:
    t = texts_for(refusal.language)
    contact = refusal.pipeline.team.email if refusal.pipeline else ""
    if refusal.reason == "unknown":
        unknown: dict[str, Any] = {
            "t": t,
            "lang": t["page_lang"],
            "title": t["unknown_title"],
            "message": t["unknown"],
            "brand": None,
        }
        return _render(request, "customer_message.html", unknown, status.HTTP_404_NOT_FOUND)
    message = t["gone_revoked" if refusal.reason == "revoked" else "gone_expired"].format(contact=contact)
    brand = refusal.pipeline.branding if refusal.pipeline else None
    values: dict[str, Any] = {
        "t": t,
        "lang": t["page_lang"],
        "title": t["gone_title"],
        "message": message,
        "brand": brand,
    }
    return _render(request, "customer_message.html", values, status.HTTP_410_GONE)


async def _open(request: Request, context: Context, access: CustomerAccess, token: str) -> Opened | Response:
    """The opened link, or the page to answer with (throttled, unknown, revoked, expired)."""
    address = client_address(request)
    retry = context.throttle.retry_after(THROTTLE_KIND, address)
    if retry is not None:
        t = texts_for("en")
        values = {"t": t, "lang": "en", "title": t["slow_title"], "message": t["slow"], "brand": None}
        response = _render(request, "customer_message.html", values, status.HTTP_429_TOO_MANY_REQUESTS)
        response.headers["Retry-After"] = str(retry)
        return response
    try:
        return await access.open(token, _now())
    except LinkRefusedError as refusal:
        if refusal.reason == "unknown":
            context.throttle.failed(THROTTLE_KIND, address)
        return _refused_page(request, refusal)
    except UnavailableError:
        t = texts_for("en")
        values = {
            "t": t,
            "lang": "en",
            "title": t["refused_title"],
            "message": t["unavailable"],
            "brand": None,
        }
        return _render(request, "customer_message.html", values, status.HTTP_503_SERVICE_UNAVAILABLE)


async def _page(
    request: Request,
    context: Context,
    access: CustomerAccess,
    opened: Opened,
    token: str,
    *,
    flash: str | None = None,
    error: str | None = None,
    code: int = status.HTTP_200_OK,
) -> Response:
    now = _now()
    can_book = booking_flow.can_book(opened)
    slots = []
    if opened.pipeline.booking is not None and (can_book or opened.booking is not None):
        slots = await booking_flow.offered(access, opened.pipeline, now)
    values = page_context(opened, slots, can_book, now)
    values.update(
        {
            "token": token,
            "csrf_field": CSRF_FIELD,
            "csrf": csrf_token(context.settings.session_secret.get_secret_value(), opened.link),
            "flash": flash,
            "error": error,
        }
    )
    return _render(request, "customer.html", values, code, opened.pipeline.branding.logo)


def _back(token: str, done: str) -> Response:
    response = RedirectResponse(f"/c/{token}?done={done}", status_code=status.HTTP_303_SEE_OTHER)
    return _headers(response)


@router.get("/c/{token}")
async def customer_page(
    request: Request, context: Context, access: Access, token: str, done: str | None = None
) -> Response:
    """The customer's page: their plan, what we need from them, contacts, and booking."""
    opened = await _open(request, context, access, token)
    if isinstance(opened, Response):
        return opened
    last = opened.link.last_used_at
    if last is None or _now() - last >= LAST_USE_RESOLUTION:
        # A visit, not every reload: at most one entry per few minutes of use.
        await access.record(opened, "customer_viewed")
    t = texts_for(opened.language)
    flash = None
    if done in FLASHES:
        at = ""
        if opened.booking is not None:
            at = local_datetime(opened.booking.starts_at, opened.pipeline.timezone, opened.language)
        flash = t[FLASHES[done]].format(at=at)
    return await _page(request, context, access, opened, token, flash=flash)


async def _checked_form(
    request: Request, context: Context, access: CustomerAccess, token: str, offered: str | None
) -> Opened | Response:
    opened = await _open(request, context, access, token)
    if isinstance(opened, Response):
        return opened
    if not csrf_ok(context.settings.session_secret.get_secret_value(), opened.link, offered):
        t = texts_for(opened.language)
        return await _page(request, context, access, opened, token, error=t["refused_form"], code=403)
    return opened


def _reason(err: ServiceError, language: str) -> str:
    t = texts_for(language)
    if isinstance(err, booking_flow.BookingRefusedError | booking_flow.BookingConflictError):
        return t[f"refused_{err.reason}"]
    if isinstance(err, UnavailableError):
        return t["unavailable"]
    if isinstance(err, ConflictError):  # the run refused the event: nothing more to book here
        return t["refused_closed"]
    return str(err)


def _status_of(err: ServiceError) -> int:
    return status_of(err, status.HTTP_409_CONFLICT)


@router.post("/c/{token}/items/{item_id}")
async def item_done(
    request: Request, context: Context, access: Access, token: str, item_id: str, csrf: FormText = None
) -> Response:
    """The customer marks one of their tasks or checklist items done."""
    opened = await _checked_form(request, context, access, token, csrf)
    if isinstance(opened, Response):
        return opened
    state = opened.state
    task = state.task(item_id)
    item = next((i for i in state.checklist if i.id == item_id), None)
    try:
        if task is not None and task.owner == "customer":
            if task.status != "done":
                await access.service.complete_task(task.id, by=CUSTOMER)
        elif item is not None and item.owner == "customer":
            if item.ticked_at is None:
                await access.service.tick_item(state.id, TickInput(item=item.id, by=CUSTOMER))
        else:
            t = texts_for(opened.language)
            return await _page(request, context, access, opened, token, error=t["refused_item"], code=404)
    except ServiceError as err:
        error = _reason(err, opened.language)
        return await _page(request, context, access, opened, token, error=error, code=_status_of(err))
    await access.record(opened, "customer_item_done", item=item_id)
    return _back(token, "item")


@router.post("/c/{token}/booking")
async def book(
    request: Request,
    context: Context,
    access: Access,
    token: str,
    start: FormText = None,
    csrf: FormText = None,
) -> Response:
    """Book the kick-off at ``start`` (ISO 8601), or move the booked one there."""
    opened = await _checked_form(request, context, access, token, csrf)
    if isinstance(opened, Response):
        return opened
    t = texts_for(opened.language)
    try:
        moment = datetime.fromisoformat(start or "")
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        return await _page(request, context, access, opened, token, error=t["refused_time"], code=422)
    try:
        done = await booking_flow.book(access, opened, moment, _now())
    except ServiceError as err:
        error = _reason(err, opened.language)
        return await _page(request, context, access, opened, token, error=error, code=_status_of(err))
    return _back(token, done.kind)


@router.post("/c/{token}/booking/cancel")
async def cancel(
    request: Request, context: Context, access: Access, token: str, csrf: FormText = None
) -> Response:
    """Cancel the booked kick-off."""
    opened = await _checked_form(request, context, access, token, csrf)
    if isinstance(opened, Response):
        return opened
    try:
        await booking_flow.cancel(access, opened, _now())
    except ServiceError as err:
        error = _reason(err, opened.language)
        return await _page(request, context, access, opened, token, error=error, code=_status_of(err))
    return _back(token, "cancelled")
