"""wisenetwork-fi end to end: HTTP API, worker and a time-skipping Temporal server.

The process (seed 004): a kick-off meeting, opening the system, trainings, and
going live at the customer's real web address, normally within 20 business
days of the kick-off. The test server's clock starts at the real "now", so each
test picks its dates from it (the next Independence Day on a weekday, the next
Easter, the next October clock change; see tests/e2e/calendars.py). Every
expected moment is a Helsinki wall-clock time counted by that module's
independent oracle from the Finnish calendar, never computed with the engine's
own schedule code, and its UTC instant is also worked out from the offset alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from tests.e2e.calendars import (
    FINLAND,
    FRIDAY,
    MONDAY,
    THURSDAY,
    dst_switch,
    first_from,
    in_utc,
    plain_monday,
    soonest,
)
from tests.e2e.conftest import Journey
from tests.support import contract_payload, eventually, refusal

PIPELINE = "wisenetwork-fi"
HEL = FINLAND.zone
EET, EEST = timedelta(hours=2), timedelta(hours=3)
TEAM = "kayttoonotto@wisenetwork.example"
CUSTOMER = "Mäkelän Hyvinvointi Oy"
MAIN_USER = {"name": "Päivi Mäkelä", "email": "paivi@makelan-hyvinvointi.example"}
WEB_ADDRESS = "https://www.makelan-hyvinvointi.fi"

OVERDUE_TITLE = "Käyttöönotto myöhässä: ei tuotannossa 20 työpäivän kuluessa palaverista"
OVERDUE_STEP = "not live by business day 20 – overdue task"
CHASE_TITLE = "Soita asiakkaalle: käyttöönottopalaveri on vielä pitämättä"

ALL_MODULES = ["cms", "crm", "sales", "marketing", "booking", "finance", "customer_service", "accounting"]
DEFAULT_MODULES = ["cms", "crm", "sales", "marketing", "booking", "finance", "customer_service"]
NO_FINANCE = ["cms", "crm", "sales", "marketing", "booking", "customer_service"]
TRAININGS = [
    "training_crm_cms",
    "training_sales",
    "training_marketing",
    "training_booking",
    "training_finance",
    "training_customer_service",
    "training_accountant",
]
LAUNCH_READY = ["domain_dns", "content_moved", "settings_done"]


def hel(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """A Helsinki wall-clock moment as aware UTC."""
    return FINLAND.at(day, hour, minute).astimezone(UTC)


async def first_day(journey: Journey) -> date:
    """The first day a scenario may start on: a week after the server clock's Helsinki date."""
    return soonest(await journey.now(), HEL)


async def plain_week(journey: Journey) -> date:
    """The Monday of the next three weeks without a Finnish holiday, for tests about no calendar."""
    return plain_monday(FINLAND, await first_day(journey), weeks=3)


def at(text: str) -> datetime:
    """A datetime from the API's JSON."""
    return datetime.fromisoformat(text)


def utc_offset_hours(moment: datetime) -> float:
    offset = moment.astimezone(HEL).utcoffset()
    assert offset is not None
    return offset.total_seconds() / 3600


def wn_contract(signed: datetime, **overrides: Any) -> dict[str, Any]:
    local = signed.astimezone(HEL)
    fields: dict[str, Any] = {
        "pipeline": PIPELINE,
        "language": "fi",
        "signed_at": local.isoformat(),
        "delivery_start": local.date().isoformat(),
        "customer": {"name": CUSTOMER, "org_number": "1234567-8"},
        "main_user": MAIN_USER,
        "licenses": 5,
    }
    fields.update(overrides)
    return contract_payload(**fields)


async def sign(journey: Journey, signed: datetime, **overrides: Any) -> str:
    """Move the clock to ``signed`` and post a contract signed at that moment."""
    await journey.skip_to(signed)
    return await journey.start(wn_contract(signed, **overrides))


async def hold_kickoff(journey: Journey, oid: str, moment: datetime) -> None:
    """At ``moment``, report the kick-off as held (no payload: the anchor is "now")."""
    await journey.skip_to(moment)
    response = await journey.event(oid, "kickoff_held")
    assert response.status_code == 202, response.text
    assert response.json()["stage"] == "system_opening"


async def send(journey: Journey, oid: str, name: str, payload: dict[str, Any] | None = None) -> None:
    response = await journey.event(oid, name, payload)
    assert response.status_code == 202, response.text


async def tick_all(journey: Journey, oid: str, items: list[str]) -> None:
    for item in items:
        response = await journey.tick(oid, item)
        assert response.status_code == 200, response.text
        assert response.json()["ticked"] is True


def tasks_titled(body: dict[str, Any], title: str) -> list[dict[str, Any]]:
    return [task for task in body["tasks"] if task["title"] == title]


def checklist_ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["checklist"]]


def with_subject(journey: Journey, oid: str, subject: str) -> list[EmailMessage]:
    return [m for m in journey.mails(oid) if m["Subject"] == subject]


def text_of(message: EmailMessage) -> str:
    plain = message.get_body(("plain",))  # the mail is multipart/alternative: its text part
    assert plain is not None
    content = plain.get_content()
    assert isinstance(content, str)
    return content


# --------------------------------------------------------------------------
# 1. The overdue deadline at business day 20


async def launch_and_complete(journey: Journey, oid: str, launch: dict[str, Any]) -> dict[str, Any]:
    """Send `launched` (the gate is open): 202 into `live`, then the completed onboarding."""
    accepted = await journey.event(oid, "launched", launch)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["stage"] == "live"

    async def read() -> dict[str, Any]:
        return await journey.onboarding(oid)

    body = await eventually(read, lambda b: b["status"] == "completed")
    assert body["stage"] == "live"
    return body


CHRISTMAS = ("Christmas Eve", "Christmas Day", "Second Day of Christmas")


def monday_before_independence_day(start: date) -> date:
    """The last Monday before the next Independence Day (6 December) that falls on a weekday."""

    def candidate(year: int) -> date | None:
        independence_day = FINLAND.named("Independence Day", year)
        if independence_day.weekday() > FRIDAY:
            return None
        return independence_day - timedelta(days=independence_day.weekday() or 7)

    return first_from(start, candidate)


async def test_overdue_at_business_day_20_skips_independence_day_and_christmas(journey: Journey) -> None:
    """Kick-off on the Monday before the next Independence Day on a weekday. Business days 1-20
    skip the weekends and the weekday holidays on the way (Independence Day, those of Christmas
    Eve, Christmas Day and Boxing Day on weekdays, and New Year's Day or Epiphany when they are),
    so day 20 falls early in January: the overdue task is created at exactly 08:00 Helsinki
    (+02:00) that day, not a minute before, owned by the account manager, and one team mail names
    the stage the run is stuck in. The deadline fires once."""
    kickoff_day = monday_before_independence_day(await first_day(journey))
    day_20 = FINLAND.business_day(kickoff_day, 20)
    # The calendar facts: Independence Day and at least one Christmas holiday are weekdays
    # between the kick-off and day 20, which falls in winter time.
    independence_day = FINLAND.named("Independence Day", kickoff_day.year)
    closed = FINLAND.weekday_holidays(kickoff_day, day_20)
    assert independence_day in closed
    assert {FINLAND.named(name, kickoff_day.year) for name in CHRISTMAS} & set(closed)
    assert FINLAND.offset(day_20) == EET

    signed = hel(kickoff_day - timedelta(days=4), 10)  # Thursday
    oid = await sign(journey, signed)
    await hold_kickoff(journey, oid, hel(kickoff_day, 10))
    await journey.skip_to(hel(kickoff_day + timedelta(weeks=1), 11))
    await send(journey, oid, "system_opened")

    due = hel(day_20, 8)
    assert due == in_utc(day_20, 8, EET)
    body = await journey.onboarding(oid)
    assert body["stage"] == "training"
    assert (body["next_step"], at(body["next_step_at"])) == (OVERDUE_STEP, due)

    await journey.skip_to(due - timedelta(minutes=1))
    body = await journey.onboarding(oid)
    assert tasks_titled(body, OVERDUE_TITLE) == []
    assert with_subject(journey, oid, f"Myöhässä: {oid}") == []

    await journey.skip_to(due + timedelta(minutes=1))
    state = await journey.settled(oid)
    [mail] = with_subject(journey, oid, f"Myöhässä: {oid}")
    assert mail["To"] == TEAM
    assert f"{CUSTOMER} ei ole tuotannossa 20 työpäivän kuluttua" in text_of(mail)
    assert "(vaihe: Koulutukset)" in text_of(mail)
    assert [(e.at, e.event) for e in state.timeline if e.detail == OVERDUE_TITLE] == [(due, "task_created")]
    [task] = [t for t in state.tasks if t.title == OVERDUE_TITLE]
    assert task.created_at.astimezone(HEL).strftime("%H:%M %z") == "08:00 +0200"
    assert task.created_at.astimezone(HEL).date() == day_20

    # Once per run: a week later there is still one overdue task and one mail.
    await journey.skip_to(hel(day_20 + timedelta(weeks=1), 12))
    body = await journey.onboarding(oid)
    assert body["next_step"] is None
    assert len(tasks_titled(body, OVERDUE_TITLE)) == 1
    assert len(with_subject(journey, oid, f"Myöhässä: {oid}")) == 1

    # The task's fields last, so that a wrong one does not hide the checks above.
    assert {
        "kind": task.kind,
        "owner": task.owner,
        "owner_role": task.owner_role,
        "stage": task.stage,
        "status": task.status,
        "created_at": task.created_at,
        "due_at": task.due_at,
    } == {
        "kind": "overdue",
        "owner": "vendor",
        "owner_role": "account_manager",
        "stage": "training",
        "status": "open",
        "created_at": due,
        "due_at": hel(day_20, 16),
    }


async def test_overdue_across_the_october_dst_switch_stays_at_eight_local(journey: Journey) -> None:
    """Kick-off on the Monday 20 days before the next October switch (EEST, +03:00). Business
    days 5 and 10 (the next two Mondays) are still +03:00; business day 20 is four weeks after the
    kick-off and the overdue task comes at 08:00 +02:00 (06:00 UTC, not 05:00 UTC as a fixed
    24-hour day count from a +03:00 anchor would give), naming the stage the run is still in."""
    kickoff_day = first_from(
        await first_day(journey), lambda year: dst_switch(FINLAND, year, 10) - timedelta(days=20)
    )
    day_5, day_10, day_20 = (FINLAND.business_day(kickoff_day, n) for n in (5, 10, 20))
    # The calendar facts: no weekday holiday, so days 5, 10 and 20 are the next Mondays; the
    # switch lies between day 10 and day 20.
    assert (day_5, day_10, day_20) == tuple(kickoff_day + timedelta(weeks=n) for n in (1, 2, 4))
    assert day_10 < dst_switch(FINLAND, kickoff_day.year, 10) < day_20
    assert (FINLAND.offset(kickoff_day), FINLAND.offset(day_20)) == (EEST, EET)

    signed = hel(kickoff_day - timedelta(days=3), 10)  # Friday
    oid = await sign(journey, signed)
    await hold_kickoff(journey, oid, hel(kickoff_day, 10))

    body = await journey.onboarding(oid)
    designer = [t for t in body["tasks"] if t["owner_role"] == "designer"]
    assert [at(t["due_at"]) for t in designer] == [hel(day_5, 16)]
    assert at(designer[0]["due_at"]) == in_utc(day_5, 16, EEST)
    settings_task = next(t for t in body["tasks"] if t["title"].startswith("CMS: tee kotisivujen asetukset"))
    assert at(settings_task["due_at"]) == in_utc(day_10, 16, EEST)
    assert utc_offset_hours(at(settings_task["due_at"])) == 3

    due = in_utc(day_20, 8, EET)
    assert due == hel(day_20, 8)
    assert at(body["next_step_at"]) == due

    await journey.skip_to(due - timedelta(minutes=1))
    assert tasks_titled(await journey.onboarding(oid), OVERDUE_TITLE) == []

    await journey.skip_to(due + timedelta(minutes=1))
    state = await journey.settled(oid)
    [mail] = with_subject(journey, oid, f"Myöhässä: {oid}")
    assert "(vaihe: Järjestelmän aukaisu)" in text_of(mail)
    [task] = [t for t in state.tasks if t.title == OVERDUE_TITLE]
    assert (task.created_at, task.due_at) == (due, hel(day_20, 16))
    assert task.created_at.astimezone(HEL).strftime("%H:%M") == "08:00"
    assert utc_offset_hours(task.created_at) == 2
    assert task.owner_role == "account_manager"
    assert task.stage == "system_opening"
    assert [e.at for e in state.timeline if e.detail == OVERDUE_TITLE] == [due]


async def test_launch_before_business_day_20_means_no_overdue_task(journey: Journey) -> None:
    """Kick-off on the Monday eleven days before the next Good Friday; Good Friday and Easter
    Monday (and May Day or Ascension Day when they fall before it) push business day 20 later,
    08:00 (+03:00), where the deadline is armed. Going live on day 19 disarms it: past day 20
    there is no overdue task and no overdue mail."""
    kickoff_day = first_from(
        await first_day(journey) + timedelta(days=4),
        lambda year: FINLAND.named("Good Friday", year) - timedelta(days=11),
    )
    day_19, day_20 = FINLAND.business_day(kickoff_day, 19), FINLAND.business_day(kickoff_day, 20)
    # The calendar facts: Good Friday and Easter Monday are among the weekdays skipped.
    closed = FINLAND.weekday_holidays(kickoff_day, day_20)
    assert {
        FINLAND.named("Good Friday", kickoff_day.year),
        FINLAND.named("Easter Monday", kickoff_day.year),
    } <= set(closed)
    assert FINLAND.offset(day_20) == EEST

    oid = await sign(journey, hel(kickoff_day - timedelta(days=4), 10))
    await hold_kickoff(journey, oid, hel(kickoff_day, 10))
    deadline = hel(day_20, 8)
    assert deadline == in_utc(day_20, 8, EEST)
    body = await journey.onboarding(oid)
    assert (body["next_step"], at(body["next_step_at"])) == (OVERDUE_STEP, deadline)

    await tick_all(journey, oid, [*TRAININGS[:-1], *LAUNCH_READY])
    await journey.skip_to(hel(day_19, 15))
    await send(journey, oid, "launched", {"web_address": WEB_ADDRESS})

    await journey.skip_to(deadline + timedelta(days=2))
    body = await journey.onboarding(oid)
    assert (body["stage"], body["status"]) == ("live", "completed")
    assert tasks_titled(body, OVERDUE_TITLE) == []
    assert not [e for e in body["timeline"] if e["detail"] == OVERDUE_TITLE]
    assert with_subject(journey, oid, f"Myöhässä: {oid}") == []
    assert with_subject(journey, oid, f"Tuotannossa: {CUSTOMER} ({oid})") != []


# --------------------------------------------------------------------------
# 3. Modules


async def test_modules_decide_tasks_checklist_items_and_welcome_text(journey: Journey) -> None:
    """A contract without finance gets no "Taloushallinto" task, no training_finance item (ticking
    it is a 404 saying why) and no finance in its welcome mail; a contract without a module list
    gets the default modules, finance included, but not the default-off accounting
    (training_accountant is a 404 there); a contract listing accounting gets training_accountant.
    GET shows each contract's modules as listed."""
    monday = await plain_week(journey)
    signed = hel(monday, 10)
    await journey.skip_to(signed)
    no_finance = await journey.start(wn_contract(signed, modules=NO_FINANCE))
    default = await journey.start(wn_contract(signed))
    accounting = await journey.start(wn_contract(signed, modules=["crm", "accounting"]))
    kickoff_day = monday + timedelta(days=1)
    await journey.skip_to(hel(kickoff_day, 10))
    for oid in (no_finance, default, accounting):
        await send(journey, oid, "kickoff_held")

    body = await journey.onboarding(no_finance)
    assert body["modules"] == NO_FINANCE
    assert [t["title"] for t in body["tasks"] if "Taloushallinto" in t["title"]] == []
    assert len(body["tasks"]) == 1 + 10  # the kick-off task and the system opening's tasks
    assert checklist_ids(body) == [
        "training_crm_cms",
        "training_sales",
        "training_marketing",
        "training_booking",
        "training_customer_service",
        *LAUNCH_READY,
    ]
    refused = await journey.tick(no_finance, "training_finance")
    assert refused.status_code == 404, refused.text
    assert "training_finance is not part of this onboarding's modules" in refusal(refused)
    [welcome] = with_subject(journey, no_finance, f"Tervetuloa WiseNetworkin asiakkaaksi, {CUSTOMER}!")
    assert (
        "Sopimukseenne kuuluvat: CMS (kotisivut), CRM, Myynti, Markkinointi, Ajanvaraus, Asiakaspalvelu."
        in text_of(welcome)
    )
    assert "Taloushallinto" not in text_of(welcome)

    body = await journey.onboarding(default)
    assert body["modules"] == DEFAULT_MODULES
    finance_tasks = [t for t in body["tasks"] if t["title"].startswith("Taloushallinto:")]
    assert sorted((t["owner"], t["owner_role"], at(t["due_at"])) for t in finance_tasks) == [
        ("customer", None, hel(FINLAND.business_day(kickoff_day, 5), 16)),  # business day 5
        ("vendor", "account_manager", hel(FINLAND.business_day(kickoff_day, 10), 16)),  # day 10
    ]
    assert len(body["tasks"]) == 1 + 12
    assert checklist_ids(body) == [*TRAININGS[:-1], *LAUNCH_READY]
    assert "training_accountant" not in checklist_ids(body)
    refused = await journey.tick(default, "training_accountant")
    assert refused.status_code == 404, refused.text
    assert "not part of this onboarding's modules" in refusal(refused)
    ticked = await journey.tick(default, "training_finance")
    assert ticked.status_code == 200, ticked.text
    assert ticked.json()["unticked"] == [item for item in TRAININGS[:-1] if item != "training_finance"]

    body = await journey.onboarding(accounting)
    assert body["modules"] == ["crm", "accounting"]
    assert checklist_ids(body) == ["training_crm_cms", "training_accountant", "settings_done"]
    assert sorted(t["title"].split(":")[0] for t in body["tasks"] if t["title"][:4] in ("CMS:", "CRM:")) == [
        "CRM",
        "CRM",
    ]
    [welcome] = with_subject(journey, accounting, f"Tervetuloa WiseNetworkin asiakkaaksi, {CUSTOMER}!")
    assert "Sopimukseenne kuuluvat: CRM, Kirjanpitäjän koulutus." in text_of(welcome)
    ticked = await journey.tick(accounting, "training_accountant")
    assert ticked.status_code == 200, ticked.text


# --------------------------------------------------------------------------
# 4. The launch gate


async def test_launch_gate_names_unticked_items_then_goes_live_in_finnish(journey: Journey) -> None:
    """With modules cms, crm and marketing, `launched` is refused (409) while any training or
    launch_ready item of those modules is unticked, naming exactly the unticked ones (never items
    of modules the contract lacks). Once all are ticked it is accepted (202): the run is live and
    completed, its open tasks are closed, the customer gets the Finnish launched mail and the
    team a mail with the web address."""
    monday = await plain_week(journey)
    oid = await sign(journey, hel(monday, 10), modules=["cms", "crm", "marketing"])
    await hold_kickoff(journey, oid, hel(monday + timedelta(days=1), 10))
    await journey.skip_to(hel(monday + timedelta(weeks=1), 10))
    await send(journey, oid, "system_opened")
    launch = {"web_address": WEB_ADDRESS}

    refused = await journey.event(oid, "launched", launch)
    assert refused.status_code == 409, refused.text
    detail = refusal(refused)
    assert "Tuotannossa (live)" in detail
    for item in ["training_crm_cms", "training_marketing", "domain_dns", "content_moved", "settings_done"]:
        assert item in detail
    for item in ["training_sales", "training_booking", "training_finance", "training_customer_service"]:
        assert item not in detail
    assert "training_accountant" not in detail

    answer = await journey.tick(oid, "training_crm_cms")
    assert answer.json()["unticked"] == ["training_marketing"]
    await tick_all(journey, oid, ["training_marketing", "domain_dns"])
    refused = await journey.event(oid, "launched", launch)
    assert refused.status_code == 409, refused.text
    detail = refusal(refused)
    assert "content_moved" in detail
    assert "settings_done" in detail
    for item in ["training_crm_cms", "training_marketing", "domain_dns"]:
        assert item not in detail
    body = await journey.onboarding(oid)
    assert (body["stage"], body["status"]) == ("training", "running")
    assert not [e for e in body["timeline"] if e["event"] == "launched"]

    await tick_all(journey, oid, ["content_moved", "settings_done"])
    body = await launch_and_complete(journey, oid, launch)
    assert [t for t in body["tasks"] if t["status"] != "done"] == []
    assert [(e["template"], e["language"]) for e in body["emails"] if e["template"] == "launched"] == [
        ("launched", "fi")
    ]
    [launched] = with_subject(journey, oid, "Järjestelmänne on tuotannossa")
    assert launched["To"] == MAIN_USER["email"]
    assert f"{CUSTOMER}:n järjestelmä on nyt viety tuotantoon" in text_of(launched)
    assert "tuki@wisenetwork.example" in text_of(launched)
    [team] = with_subject(journey, oid, f"Tuotannossa: {CUSTOMER} ({oid})")
    assert team["To"] == TEAM
    assert f"Järjestelmä on viety tuotantoon osoitteeseen {WEB_ADDRESS}." in text_of(team)

    after = await journey.event(oid, "launched", launch)
    assert after.status_code == 409, after.text


async def test_launch_gate_of_a_booking_only_contract_and_english_mail(journey: Journey) -> None:
    """A booking-only contract in English: the gate names only training_booking and settings_done
    (the cms items and other trainings are not its items); launched straight from system opening
    after ticking those two goes live with the English launched mail; the team mail (Finnish)
    still carries the web address."""
    monday = await plain_week(journey)
    oid = await sign(journey, hel(monday, 10), modules=["booking"], language="en")
    await hold_kickoff(journey, oid, hel(monday + timedelta(days=2), 14))
    await journey.settled(oid)
    [welcome] = with_subject(journey, oid, f"Welcome to WiseNetwork, {CUSTOMER}!")
    assert "Your contract covers: Booking." in text_of(welcome)  # the module label in English
    address = "https://ajanvaraus.example.fi/mhoy"

    refused = await journey.event(oid, "launched", {"web_address": address})
    assert refused.status_code == 409, refused.text
    detail = refusal(refused)
    assert "training_booking" in detail
    assert "settings_done" in detail
    for item in [*TRAININGS, *LAUNCH_READY]:
        if item not in ("training_booking", "settings_done"):
            assert item not in detail

    await tick_all(journey, oid, ["training_booking", "settings_done"])
    body = await launch_and_complete(journey, oid, {"web_address": address})
    assert [(e["template"], e["language"]) for e in body["emails"] if e["template"] == "launched"] == [
        ("launched", "en")
    ]
    [launched] = with_subject(journey, oid, "Your system is live")
    assert launched["To"] == MAIN_USER["email"]
    assert f"The system of {CUSTOMER} is now live" in text_of(launched)
    assert with_subject(journey, oid, "Järjestelmänne on tuotannossa") == []
    [team] = with_subject(journey, oid, f"Tuotannossa: {CUSTOMER} ({oid})")
    assert team["To"] == TEAM
    assert address in text_of(team)


# --------------------------------------------------------------------------
# 5. The kick-off chase


async def test_kickoff_chase_call_at_business_day_3_and_closed_by_a_logged_call(journey: Journey) -> None:
    """Signed at 10:00 (+03:00) on the Thursday before the next October switch, with no kick-off
    held: business day 3 is the Tuesday after (past the weekend and the DST switch), and the call
    task appears at exactly 09:00 +02:00, due 16:00 the same day. A contract signed on the
    Saturday counts from the Monday as day 0, so its call comes on the Thursday 09:00. A contract
    whose kick-off was held on day 1 gets no call. Logging an answered call closes the call task."""
    switch = first_from(
        await first_day(journey) + timedelta(days=3), lambda year: dst_switch(FINLAND, year, 10)
    )
    thursday, saturday_day = switch - timedelta(days=3), switch - timedelta(days=1)
    chase_day, sat_chase_day = FINLAND.business_day(thursday, 3), FINLAND.business_day(saturday_day, 3)
    # The calendar facts: no weekday holiday around the switch, so day 3 is the Tuesday after it,
    # and the Saturday contract's day 0 is the Monday, its day 3 the Thursday.
    assert (thursday.weekday(), FINLAND.business_day(saturday_day, 0).weekday()) == (THURSDAY, MONDAY)
    assert (chase_day, sat_chase_day) == (switch + timedelta(days=2), switch + timedelta(days=4))

    signed = hel(thursday, 10)
    assert utc_offset_hours(signed) == 3
    silent = await sign(journey, signed)
    held = await journey.start(wn_contract(signed))
    await hold_kickoff(journey, held, hel(thursday + timedelta(days=1), 11))
    saturday = await sign(journey, hel(saturday_day, 10))

    chase = hel(chase_day, 9)
    assert chase == in_utc(chase_day, 9, EET)
    body = await journey.onboarding(silent)
    assert (body["next_step"], at(body["next_step_at"])) == (
        "no kick-off after 3 business days – call",
        chase,
    )
    await journey.skip_to(chase - timedelta(minutes=1))
    assert [t for t in (await journey.onboarding(silent))["tasks"] if t["kind"] == "call"] == []

    await journey.skip_to(chase + timedelta(minutes=1))
    state = await journey.settled(silent)
    [call] = [t for t in state.tasks if t.kind == "call"]
    assert (call.title, call.owner_role, call.status) == (CHASE_TITLE, "account_manager", "open")
    assert (call.created_at, call.due_at) == (chase, hel(chase_day, 16))
    assert utc_offset_hours(call.created_at) == 2
    assert [e.at for e in state.timeline if e.detail == CHASE_TITLE] == [chase]

    sat_chase = hel(sat_chase_day, 9)
    body = await journey.onboarding(saturday)
    assert [t for t in body["tasks"] if t["kind"] == "call"] == []
    assert at(body["next_step_at"]) == sat_chase
    await journey.skip_to(sat_chase + timedelta(minutes=1))
    sat_state = await journey.settled(saturday)
    assert [(t.created_at, t.due_at) for t in sat_state.tasks if t.kind == "call"] == [
        (sat_chase, hel(sat_chase_day, 16))
    ]
    held_body = await journey.onboarding(held)
    assert held_body["stage"] == "system_opening"
    assert [t for t in held_body["tasks"] if t["kind"] == "call" or t["title"] == CHASE_TITLE] == []

    await send(journey, silent, "call_logged", {"outcome": "answered", "note": "Palaveri sovittu"})
    body = await journey.onboarding(silent)
    [call_public] = [t for t in body["tasks"] if t["kind"] == "call"]
    assert call_public["status"] == "done"
    assert call_public["done_at"] is not None
    assert body["stage"] == "kickoff"
    assert [e["detail"] for e in body["timeline"] if e["event"] == "call_logged"] == [
        "Puhelu käyty; note: Palaveri sovittu"
    ]


# --------------------------------------------------------------------------
# 6. Bad input


async def test_bad_input_is_refused_with_the_reason(journey: Journey) -> None:
    """An unknown module fails POST /contracts with 422 naming it (and no run starts);
    system_opened (and launched) in kickoff is a 409 naming the stage; launched without
    web_address, with an undeclared field or with an over-long address is a 422 naming the field.
    None of the refusals leaves a trace on the run."""
    monday = await plain_week(journey)
    signed = hel(monday, 10)
    await journey.skip_to(signed)
    bad = wn_contract(signed, modules=["cms", "payroll"])
    response = await journey.post_contract(bad)
    assert response.status_code == 422, response.text
    assert "unknown module 'payroll'" in refusal(response)
    missing = await journey.http.get(f"/onboardings/WN-{bad['contract_id']}", headers=journey.auth)
    assert missing.status_code == 404, missing.text

    oid = await journey.start(wn_contract(signed))
    refused = await journey.event(oid, "system_opened")
    assert refused.status_code == 409, refused.text
    assert "system_opened is not accepted in stage 'kickoff'" in refusal(refused)
    refused = await journey.event(oid, "launched", {"web_address": WEB_ADDRESS})
    assert refused.status_code == 409, refused.text
    assert "launched is not accepted in stage 'kickoff'" in refusal(refused)

    await hold_kickoff(journey, oid, hel(monday + timedelta(days=1), 10))
    for payload, problem in [
        ({}, "web_address: required"),
        ({"web_address": ""}, "web_address: required"),
        ({"web_address": WEB_ADDRESS, "url": WEB_ADDRESS}, "url: unknown field"),
        ({"web_address": "https://x.fi/" + "a" * 300}, "web_address: at most 300 characters"),
    ]:
        response = await journey.event(oid, "launched", payload)
        assert response.status_code == 422, (payload, response.text)
        assert problem in refusal(response), payload
    unknown = await journey.event(oid, "go_live", {"web_address": WEB_ADDRESS})
    assert unknown.status_code == 404, unknown.text
    assert "no event 'go_live'" in refusal(unknown)

    body = await journey.onboarding(oid)
    assert body["stage"] == "system_opening"
    assert not [e for e in body["timeline"] if e["event"] in ("launched", "system_opened")]
    assert with_subject(journey, oid, f"Tuotannossa: {CUSTOMER} ({oid})") == []


async def test_blank_web_address_counts_as_missing(journey: Journey) -> None:
    """A web address of only spaces is no address: with every checklist item ticked, `launched`
    with "   " answers 422 naming web_address, as for an empty one, and the run does not go live
    (no team mail announcing an empty address)."""
    monday = await plain_week(journey)
    oid = await sign(journey, hel(monday, 10))
    await hold_kickoff(journey, oid, hel(monday + timedelta(days=1), 10))
    await tick_all(journey, oid, [*TRAININGS[:-1], *LAUNCH_READY])
    response = await journey.event(oid, "launched", {"web_address": "   "})
    assert response.status_code == 422, response.text
    assert "web_address: required" in refusal(response)
    body = await journey.onboarding(oid)
    assert (body["stage"], body["status"]) == ("system_opening", "running")
