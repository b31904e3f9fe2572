"""The customer's side: the page's plan and contacts, self-service booking, and the mail's look."""

from __future__ import annotations

import datetime as dt
import itertools

from kickoff.pipelines.checks.context import Context, Loc, Problems, language_ref, stage_ref
from kickoff.pipelines.customer import Localized


def _minutes(at: dt.time) -> int:
    return at.hour * 60 + at.minute


def _languages(ctx: Context, loc: Loc, text: Localized | None) -> Problems:
    """A text given per language names only languages the pipeline offers."""
    if isinstance(text, dict):
        if not text:
            yield loc, "a text per language needs at least one language"
        for language in text:
            yield from language_ref(ctx, (*loc, language), language)


def check_customer_page(ctx: Context) -> Problems:
    """The plan names known stages once each; labels and contacts are in offered languages."""
    page = ctx.pipeline.customer_page
    if page is None:
        return
    loc = ctx.loc("customer_page")
    seen: set[str] = set()
    for index, sid in enumerate(page.plan):
        yield from stage_ref(ctx, (*loc, "plan", index), sid, "the plan")
        if sid in seen:
            yield (*loc, "plan", index), f"stage {sid!r} is in the plan twice"
        seen.add(sid)
    for sid, label in page.stage_labels.items():
        yield from stage_ref(ctx, (*loc, "stage_labels", sid), sid, "stage_labels")
        yield from _languages(ctx, (*loc, "stage_labels", sid), label)
    yield from _languages(ctx, (*loc, "intro"), page.intro)
    for index, contact in enumerate(page.contacts):
        for part in ("need", "who", "when"):
            yield from _languages(ctx, (*loc, "contacts", index, part), getattr(contact, part))
    yield from _languages(ctx, ctx.loc("branding", "footer"), ctx.pipeline.branding.footer)


def check_booking(ctx: Context) -> Problems:
    """The booking's event exists and carries the meeting's start; its mails are templates."""
    p, booking = ctx.pipeline, ctx.pipeline.booking
    if booking is None:
        return
    loc = ctx.loc("booking")
    event = p.events.get(booking.event)
    if event is None:
        yield (*loc, "event"), f"unknown event {booking.event!r} (events: {', '.join(p.events)})"
    else:
        declared = event.payload.get(booking.field)
        if declared is None or declared.type != "datetime":
            yield (
                (*loc, "field"),
                f"event {booking.event!r} must declare payload field {booking.field!r} as a datetime",
            )
        if booking.by_field is not None and booking.by_field not in event.payload:
            yield (
                (*loc, "by_field"),
                f"event {booking.event!r} has no payload field {booking.by_field!r} "
                "(set by_field: null if it does not say who booked)",
            )
    if p.customer_page is None:
        yield loc, "booking is offered on the customer's page: declare customer_page too"
    for day, hours in booking.hours.items():
        ordered = sorted(hours, key=lambda h: h.start)
        for earlier, later in itertools.pairwise(ordered):
            if later.start < earlier.end:
                span = f"{earlier.start:%H:%M}-{earlier.end:%H:%M}"
                yield (*loc, "hours", day), f"hours {span} overlap the next"
        for index, stretch in enumerate(hours):
            span = f"{stretch.start:%H:%M}-{stretch.end:%H:%M}"
            if _minutes(stretch.end) - _minutes(stretch.start) < booking.duration:
                yield (
                    (*loc, "hours", day, index),
                    f"{span} is shorter than a {booking.duration}-minute meeting",
                )
    if booking.cancel_outcome is not None and p.kickoff_outcome is None:
        yield (
            (*loc, "cancel_outcome"),
            "a cancellation records a kick-off outcome: the pipeline declares no kickoff_outcome",
        )
    yield from _languages(ctx, (*loc, "title"), booking.title)
    yield from _languages(ctx, (*loc, "location"), booking.location)
    for part in ("confirmed", "updated", "cancelled"):
        name = getattr(booking.templates, part)
        if name not in p.templates:
            yield (
                (*loc, "templates", part),
                f"template {name!r} is missing: a booking mails the customer and the team with it",
            )
