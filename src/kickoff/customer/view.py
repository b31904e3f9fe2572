"""What the customer page shows, built from an opened link: only the customer's side of the
onboarding (no staff names beyond declared contacts, no internal tasks, notes or timeline)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from kickoff.booking.slots import Slot
from kickoff.customer.access import Opened
from kickoff.customer.plan import PlanRow, customer_plan
from kickoff.customer.texts import local_date, local_datetime, local_time, texts_for
from kickoff.pipelines.customer import localized
from kickoff.schedule import zone

MAX_SLOT_DAYS = 10
"""Days of free times the page lists (the horizon may be longer: the page stays short)."""
OPEN_SLOT_DAYS = 3
"""Days listed open; later ones are folded (a phone shows three days, not a wall of buttons)."""


@dataclass(frozen=True)
class ItemView:
    id: str
    label: str
    done: bool
    when: str
    """When it is due (open) or was done, as the page says it."""


@dataclass(frozen=True)
class PlanView:
    label: str
    status: str
    when: str


@dataclass(frozen=True)
class SlotView:
    start: str
    """The slot's start as ISO 8601 (what the form posts)."""
    time: str


@dataclass(frozen=True)
class DayView:
    label: str
    slots: list[SlotView] = field(default_factory=list)


@dataclass(frozen=True)
class ContactView:
    need: str
    who: str
    when: str
    how: str


def _plan_view(rows: Sequence[PlanRow], tz: str, language: str, t: dict[str, str]) -> list[PlanView]:
    return [
        PlanView(
            label=row.label,
            status=row.status,
            when=local_datetime(row.at, tz, language) if row.at is not None else t["date_follows"],
        )
        for row in rows
    ]


def items(opened: Opened) -> list[ItemView]:
    """The customer's own tasks (this cycle) and checklist items, open ones first."""
    state, pipeline, language = opened.state, opened.pipeline, opened.language
    t, tz = texts_for(language), pipeline.timezone
    found: list[ItemView] = []
    for task in state.tasks:
        if task.owner != "customer" or task.resolution == "closed_with_onboarding":
            continue
        done = task.status == "done"
        moment = task.done_at if done and task.done_at else task.due_at
        when = t["done_by_you" if done else "due"].format(at=local_datetime(moment, tz, language))
        found.append(ItemView(task.id, task.title, done, when))
    for item in state.checklist:
        if item.owner != "customer":
            continue
        done = item.ticked_at is not None
        when = (
            t["done_by_you"].format(at=local_datetime(item.ticked_at, tz, language)) if item.ticked_at else ""
        )
        found.append(ItemView(item.id, item.label, done, when))
    return sorted(found, key=lambda item: item.done)


def contacts(opened: Opened) -> list[ContactView]:
    pipeline, language = opened.pipeline, opened.language
    page = pipeline.customer_page
    default = pipeline.default_language
    return [
        ContactView(
            need=localized(c.need, language, default) or "",
            who=localized(c.who, language, default) or "",
            when=localized(c.when, language, default) or "",
            how=c.how,
        )
        for c in (page.contacts if page else ())
    ]


def slot_days(opened: Opened, slots: Sequence[Slot]) -> list[DayView]:
    """Free times grouped by local day, for the first ``MAX_SLOT_DAYS`` days that have any."""
    tz, language = opened.pipeline.timezone, opened.language
    days: dict[date, DayView] = {}
    for slot in slots:
        day = slot.start.astimezone(zone(tz)).date()
        if day not in days:
            if len(days) == MAX_SLOT_DAYS:
                break
            days[day] = DayView(local_date(slot.start, tz, language))
        days[day].slots.append(SlotView(slot.start.isoformat(), local_time(slot.start, tz, language)))
    return list(days.values())


def page_context(opened: Opened, slots: Sequence[Slot], can_book: bool, now: datetime) -> dict[str, object]:
    """Everything the page's template reads."""
    state, pipeline, language = opened.state, opened.pipeline, opened.language
    t, tz = texts_for(language), pipeline.timezone
    page, booking_spec, booking = pipeline.customer_page, pipeline.booking, opened.booking
    plan = customer_plan(state, pipeline, language)
    upcoming = [row for row in plan if row.status == "ahead" and row.at is not None]
    next_text = None
    if booking is not None and booking.live and booking.starts_at > now and booking_spec is not None:
        title = localized(booking_spec.title, language, pipeline.default_language) or ""
        next_text = f"{title}: {local_datetime(booking.starts_at, tz, language)}"
    elif can_book and booking_spec is not None:
        # The next step is the customer's own: nothing moves on until they book.
        next_text = t["next_book"]
    elif upcoming:
        next_text = f"{upcoming[0].label}: {local_datetime(upcoming[0].at or now, tz, language)}"
    booking_view = None
    if booking_spec is not None:
        booking_view = {
            "title": localized(booking_spec.title, language, pipeline.default_language),
            "location": localized(booking_spec.location, language, pipeline.default_language),
            "minutes": t["minutes"].format(n=booking_spec.duration),
            "booked": local_datetime(booking.starts_at, tz, language) if booking else None,
            "changeable": booking is not None and booking.starts_at > now,
            "can_book": can_book or (booking is not None and booking.starts_at > now),
            "days": slot_days(opened, slots),
        }
    return {
        "t": t,
        "lang": language,
        "brand": pipeline.branding,
        "footer": localized(pipeline.branding.footer, language, pipeline.default_language),
        "pipeline_name": pipeline.name,
        "customer": state.contract.customer.name,
        "main_user": state.contract.main_user.name,
        "onboarding_id": state.id,
        "intro": localized(page.intro, language, pipeline.default_language) if page else None,
        "plan": _plan_view(plan, tz, language, t),
        "next": next_text,
        "items": items(opened),
        "contacts": contacts(opened),
        "booking": booking_view,
        "team_email": pipeline.team.email,
        "open_days": OPEN_SLOT_DAYS,
    }
