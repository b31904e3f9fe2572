"""PakkePilot (``pakkepilot-no``) end-to-end helpers: the pipeline's labels and titles, and how
the tests sign contracts, hold kick-offs and read a run's plan through the API.

Every test drives the real API over HTTP against its own time-skipping Temporal server, whose
clock starts at the real "now": each test picks the next dates with the calendar facts it needs
(tests/e2e/calendars.py), asserts those facts, and compares the moments the API reports for exact
equality with the ones counted by that independent oracle (Norwegian business days, Europe/Oslo
wall-clock time), so an off-by-one-day or off-by-one-hour plan fails loudly.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from tests.e2e.calendars import NORWAY, SATURDAY, soonest
from tests.e2e.conftest import Journey
from tests.support import contract_payload

OSLO = NORWAY.zone
TEAM_EMAIL = "cs@pakkepilot.example"
CUSTOMER = "Fjordkaffe AS"
MAIN_USER = "Åse Nordmann"
MAIN_USER_EMAIL = "ase@fjordkaffe.example"

# Stage labels exactly as pipelines.yaml declares them.
KICKOFF = "Oppstartsmøte"
ACCESS = "Konto og tilganger (dag 1–2)"
INTEGRATION = "Integrasjon og datamapping (dag 2–4)"
TESTING = "Testfase (dag 4–6)"
TRAINING = "Opplæring og go-live-plan (dag 6–7)"
HYPERCARE = "Live – hypercare (uke 1)"
DONE = "Fullført"

CHECKLIST = ["portal_access", "integration_tested", "shipping_agreed", "returns_agreed", "escalation_known"]

# Task titles (their start) that only a contract with the fulfilment module gets.
FULFILMENT_ONLY = [
    "Produktdata (SKU, vekt, dimensjoner",
    "Send vareliste",
    "Bekreft mottak av varer og lagerstatus",
    "Test plukk/pakk",
]
SHIPPING_ONLY = ["Fraktmetoder dere tilbyr i kassen", "Test etikett og fraktflyt"]
OVERDUE_TITLE = "Forsinket: ikke live innen arbeidsdag 10"
HOLD_KICKOFF_TITLE = "Hold oppstartsmøte (30 min)"
INVITE_TITLE = "Send invitasjon til kundeportalen"
CET, CEST = timedelta(hours=1), timedelta(hours=2)


# --------------------------------------------------------------------------
# Helpers


def at_oslo(day: date, hour: int, minute: int = 0) -> datetime:
    """An Oslo wall-clock moment (aware; compares equal to the same instant in UTC)."""
    return NORWAY.at(day, hour, minute)


def moment(value: str) -> datetime:
    """An ISO datetime from the API (always aware)."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def stage_entries(body: dict[str, Any]) -> list[tuple[datetime, str]]:
    """``(moment, stage label)`` of every ``stage_entered`` timeline entry, in order."""
    return [(moment(e["at"]), e["detail"]) for e in body["timeline"] if e["event"] == "stage_entered"]


def entered(body: dict[str, Any], label: str) -> datetime:
    """When the run (last) entered the stage labelled ``label``."""
    found = [at for at, detail in stage_entries(body) if detail == label]
    assert found, f"never entered {label!r}: {stage_entries(body)}"
    return found[-1]


def tasks_titled(body: dict[str, Any], start: str) -> list[dict[str, Any]]:
    return [task for task in body["tasks"] if task["title"].startswith(start)]


def the_task(body: dict[str, Any], start: str) -> dict[str, Any]:
    found = tasks_titled(body, start)
    assert len(found) == 1, f"expected one task titled {start!r}, got {found}"
    return found[0]


def created(body: dict[str, Any], start: str) -> list[datetime]:
    """When tasks titled ``start`` were created (the ``task_created`` timeline entries)."""
    return [
        moment(e["at"])
        for e in body["timeline"]
        if e["event"] == "task_created" and e["detail"].startswith(start)
    ]


def titles(body: dict[str, Any]) -> list[str]:
    return [task["title"] for task in body["tasks"]]


def mails_with_subject(journey: Journey, oid: str, start: str) -> list[Any]:
    return [m for m in journey.mails(oid) if str(m["Subject"]).startswith(start)]


def unticked_named(detail: str) -> set[str]:
    """The checklist item ids a go-live refusal names (``... unticked checklist items: id (label), ...``)."""
    marker = "unticked checklist items: "
    assert marker in detail, detail
    return set(re.findall(r"([a-z_]+) \(", detail.split(marker, 1)[1]))


async def skip_to(journey: Journey, target: datetime) -> None:
    """Move the test server's clock to ``target``, which must still lie ahead (a scenario date)."""
    now = await journey.now()
    assert now < target, f"the scenario's date {target} is not ahead of the server clock {now}"
    await journey.skip_to(target)


async def first_day(journey: Journey) -> date:
    """The first day a scenario may start on: a week after the server clock's Oslo date."""
    return soonest(await journey.now(), OSLO)


async def sign(journey: Journey, at: datetime | None = None, **overrides: Any) -> str:
    """Skip to ``at`` (if given) and post a pakkepilot-no contract signed at that moment."""
    if at is not None:
        await skip_to(journey, at)
    now = await journey.now()
    payload = contract_payload(
        contract_id=f"C-{uuid.uuid4().hex[:10]}",
        pipeline="pakkepilot-no",
        signed_at=now.isoformat(),
        delivery_start=now.astimezone(OSLO).date().isoformat(),
        customer={"name": CUSTOMER, "org_number": "987654321"},
        main_user={"name": MAIN_USER, "email": MAIN_USER_EMAIL},
        **{"language": "nb", **overrides},
    )
    oid = await journey.start(payload)
    assert oid.startswith("PP-")
    return oid


async def hold_kickoff(journey: Journey, oid: str) -> None:
    """Report the kick-off meeting held now (the event stamps the server's clock)."""
    response = await journey.event(oid, "kickoff_held")
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "access"}


async def tick_all(journey: Journey, oid: str) -> None:
    for item in CHECKLIST:
        response = await journey.tick(oid, item)
        assert response.status_code == 200, response.text


async def follow_plan(journey: Journey, kickoff_day: date) -> tuple[str, dict[str, Any]]:
    """Sign at 09:00 and hold the kick-off at 10:00 on ``kickoff_day``; returns the run and its state."""
    oid = await sign(journey, at_oslo(kickoff_day, 9))
    await skip_to(journey, at_oslo(kickoff_day, 10))
    await hold_kickoff(journey, oid)
    return oid, await journey.onboarding(oid)


def plan_of(kickoff_day: date) -> dict[str, date]:
    """The plan's days counted by the oracle: invitation due day 1, integration day 2, testing
    day 4, training day 6, the overdue deadline day 10."""
    days = {"invite": 1, "integration": 2, "testing": 4, "training": 6, "overdue": 10}
    return {key: NORWAY.business_day(kickoff_day, n) for key, n in days.items()}


def assert_business_days(days: list[date]) -> None:
    """Sanity: the plan's days are Norwegian business days."""
    for day in days:
        assert day.weekday() < SATURDAY, f"{day} is a weekend day"
        assert NORWAY.holiday(day) is None, f"{day} is {NORWAY.holiday(day)}"


def between(first: date, last: date) -> list[date]:
    """The days after ``first`` up to and including ``last``."""
    return [first + timedelta(days=n) for n in range(1, (last - first).days + 1)]
