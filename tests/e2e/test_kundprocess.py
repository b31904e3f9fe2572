"""kundprocess-se end to end: onboarding week 1, the delivery gate, the 8-week programme,
partnership and expansion with the 90-day contact clock, churn escalation, renewal and the end.

The test server's clock starts at the real "now", so each test picks its dates from it
(the next Midsummer, the next October clock change, ...; see tests/e2e/calendars.py).
Every expected moment is worked out as Stockholm wall-clock time from those dates (business
days by the independent oracle, with the de_facto days Swedish offices close) and compared
for exact equality with what the API (or the run's state) reports.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from temporalio.client import WorkflowExecutionStatus

from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.e2e.calendars import (
    FRIDAY,
    MONDAY,
    SWEDEN,
    SWEDEN_PUBLIC_ONLY,
    TUESDAY,
    dst_switch,
    first_from,
    next_weekday,
    soonest,
)
from tests.e2e.conftest import Journey
from tests.support import contract_payload, refusal

TZ = SWEDEN.zone
CET, CEST = timedelta(hours=1), timedelta(hours=2)
PIPELINE = "kundprocess-se"
CUSTOMER_CARD = (
    "enrich_data",
    "decision_makers",
    "email_details",
    "services_bought",
    "future_opportunities",
    "customer_folder",
)
OVERDUE = "Kundkortet är inte komplett efter vecka 1"
REMINDER = "90 dagar utan loggad kontakt: hälsokontroll, feedback och framtida behov"
RENEWAL = "Avtalet förnyas om 60 dagar: förbered förnyelsedialogen"
ESCALATION = "Risk för churn: eskalera omedelbart till VD"
PROGRAMME = (
    "Programvecka 1–2: behovsanalys och strategi",
    "Programvecka 3–4: praktisk workshop och implementering",
    "Programvecka 5–6: keynote och organisationsförankring",
    "Programvecka 7–8: uppföljning och framtidsplan",
)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A Stockholm wall-clock moment."""
    return SWEDEN.at(day, hour, minute)


def eight(day: date) -> datetime:
    return datetime.combine(day, time(8, 0), tzinfo=TZ)


def opportunity(expected_on: date) -> dict[str, Any]:
    """An opportunity_logged payload expecting its order on ``expected_on``."""
    return {
        "title": "Workshop för ledningsgruppen",
        "value": 85000,
        "expected_on": expected_on.isoformat(),
        "status": "pipeline",
    }


async def first_day(journey: Journey) -> date:
    """The first day a scenario may start on: a week after the server clock's Stockholm date."""
    return soonest(await journey.now(), TZ)


async def next_onboarding_day(journey: Journey, weekday: int = TUESDAY) -> date:
    """The first ``weekday`` a scenario may start on, for tests about no particular calendar."""
    return next_weekday(await first_day(journey), weekday)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def about(moment: datetime, expected: datetime) -> bool:
    """``moment`` is ``expected`` give or take the real seconds an HTTP call takes
    (the test server's clock runs on between skips); for event-driven moments only."""
    return expected <= moment < expected + timedelta(seconds=30)


def tasks_titled(body: dict[str, Any], title: str) -> list[dict[str, Any]]:
    return [task for task in body["tasks"] if task["title"] == title]


def timeline(body: dict[str, Any], event: str, detail: str | None = None) -> list[datetime]:
    """Moments of the GET body's timeline entries of ``event`` (with ``detail``, if given)."""
    return [
        parse(entry["at"])
        for entry in body["timeline"]
        if entry["event"] == event and (detail is None or entry["detail"] == detail)
    ]


def created(body: dict[str, Any], title: str) -> list[datetime]:
    """When the GET body's tasks titled ``title`` were created, in order."""
    return [parse(task["created_at"]) for task in tasks_titled(body, title)]


async def run_id(journey: Journey, oid: str) -> str:
    description = await journey.env.client.get_workflow_handle(oid).describe()
    return description.run_id


async def run_status(journey: Journey, oid: str, run: str) -> WorkflowExecutionStatus | None:
    description = await journey.env.client.get_workflow_handle(oid, run_id=run).describe()
    return description.status


async def start(journey: Journey, signed: datetime, **overrides: Any) -> str:
    """Move the clock to ``signed`` and post a kundprocess-se contract signed then."""
    await journey.skip_to(signed)
    payload = contract_payload(
        pipeline=PIPELINE,
        signed_at=signed.isoformat(),
        delivery_start=signed.date().isoformat(),
        **overrides,
    )
    return await journey.start(payload)


async def skip_then_settle(journey: Journey, oid: str, moment: datetime) -> None:
    """Move the clock to ``moment`` and let the run finish what fell due on the way, including
    a roll-over into a new run, before the test sends an event (on the time-skipping server a
    continue-as-new is not atomic: an event landing in between could meet the closing run)."""
    await journey.skip_to(moment)
    await journey.settled(oid)


async def tick_customer_card(journey: Journey, oid: str) -> None:
    for item in CUSTOMER_CARD:
        response = await journey.tick(oid, item, by="Agnes")
        assert response.status_code == 200, response.text


async def start_delivery(journey: Journey, oid: str) -> None:
    response = await journey.event(oid, "start_delivery")
    assert response.status_code == 202, response.text
    assert response.json()["stage"] == "delivery"


async def partnership(journey: Journey, onboarding_at: datetime, **overrides: Any) -> tuple[str, datetime]:
    """A customer whose delivery started on ``onboarding_at``'s day, now in partnership.

    Returns the onboarding id and the moment partnership began (08:00, 8 weeks later)."""
    oid = await start(journey, onboarding_at, **overrides)
    await tick_customer_card(journey, oid)
    await start_delivery(journey, oid)
    entered = eight(onboarding_at.date() + timedelta(weeks=8))
    await journey.skip_to(entered + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    assert body["stage"] == "partnership"
    assert timeline(body, "stage_entered", "Partnerskap") == [entered]
    return oid, entered


# ------------------------------------------------------------------ onboarding


def monday_of_midsummer_week(start: date) -> date:
    """The Monday of the next Midsummer week (Midsummer Eve is always a Friday)."""
    return first_from(start, lambda year: SWEDEN.named("Midsummer Eve", year) - timedelta(days=4))


async def test_customer_card_overdue_counts_swedish_business_days_past_midsummer(journey: Journey) -> None:
    """Onboarding entered on the Monday of the next Midsummer week: business day 5 skips Midsummer
    Eve (the Friday, closed by the de_facto calendar), Midsummer Day and the weekend, so the
    overdue task is created on the Tuesday after at 09:00 (it would be the Monday if Midsummer Eve
    were open). The on-enter task for the checklist is due the same business day at 16:00."""
    monday = monday_of_midsummer_week(await first_day(journey))
    midsummer_eve = monday + timedelta(days=4)
    overdue_day = SWEDEN.business_day(monday, 5)
    open_midsummer_day = SWEDEN_PUBLIC_ONLY.business_day(monday, 5)
    # The calendar facts: Midsummer Eve is a Friday closed only by the de_facto category, and
    # it moves business day 5 from the Monday after to the Tuesday.
    assert (SWEDEN.holiday(midsummer_eve), midsummer_eve.weekday()) == ("Midsummer Eve", FRIDAY)
    assert SWEDEN_PUBLIC_ONLY.holiday(midsummer_eve) is None
    assert (open_midsummer_day, overdue_day) == (monday + timedelta(weeks=1), monday + timedelta(days=8))

    entered = at(monday, 10)
    oid = await start(journey, entered)
    body = await journey.onboarding(oid)
    assert body["stage"] == "onboarding"
    [onboarding_entered] = timeline(body, "stage_entered", "Onboarding (vecka 1)")
    assert about(onboarding_entered, entered)
    [card_task] = tasks_titled(body, "Komplettera kundkortet enligt checklistan")
    assert parse(card_task["due_at"]) == at(overdue_day, 16)

    overdue_at = at(overdue_day, 9)
    assert parse(body["next_step_at"]) == overdue_at
    await journey.skip_to(at(open_midsummer_day, 23, 59))
    body = await journey.onboarding(oid)
    assert tasks_titled(body, OVERDUE) == [], "nothing is overdue on the Monday after Midsummer"

    await journey.skip_to(overdue_at + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    [overdue] = tasks_titled(body, OVERDUE)
    assert overdue["kind"] == "overdue"
    assert overdue["owner_role"] == "customer_success"
    assert parse(overdue["due_at"]) == at(overdue_day, 16)
    assert timeline(body, "task_created", OVERDUE) == [overdue_at]
    assert created(body, OVERDUE) == [overdue_at]


# ---------------------------------------------------------------- delivery


def delivery_before_the_october_switch(start: date) -> date:
    """The Thursday 24 days before the next October clock change: programme week 3 begins before
    the switch, week 5 after it."""
    return first_from(start, lambda year: dst_switch(SWEDEN, year, 10) - timedelta(days=24))


async def test_delivery_gate_then_programme_and_partnership_at_eight_across_dst(journey: Journey) -> None:
    """start_delivery is refused (409) while customer_card items are unticked, naming exactly
    those; once all six are ticked it is accepted, the customer gets the Swedish delivery_plan
    mail, and the overdue step of onboarding week 1 never fires. Delivery entered on the
    Thursday 24 days before the next October switch: programme tasks two weeks later (CEST),
    four and six weeks later (CET, after the switch) and partnership eight weeks later, each at
    08:00 Stockholm time."""
    delivery_day = delivery_before_the_october_switch(await first_day(journey) + timedelta(days=3))
    onboarding_day = delivery_day - timedelta(days=3)  # the Monday before
    switch = dst_switch(SWEDEN, delivery_day.year, 10)
    # The calendar facts: week 3 starts in summer time, week 5 in winter time, and the week-1
    # overdue step (business day 5 of onboarding) would come after the delivery start.
    assert delivery_day + timedelta(weeks=2) < switch < delivery_day + timedelta(weeks=4)
    assert onboarding_day.weekday() == MONDAY
    assert at(SWEDEN.business_day(onboarding_day, 5), 9) > at(delivery_day, 14)

    oid = await start(journey, at(onboarding_day, 10))
    for item in CUSTOMER_CARD[:4]:
        assert (await journey.tick(oid, item)).status_code == 200

    refused = await journey.event(oid, "start_delivery")
    assert refused.status_code == 409, refused.text
    detail = refusal(refused)
    assert "unticked checklist items" in detail
    for item in CUSTOMER_CARD[:4]:
        assert item not in detail
    assert "future_opportunities (Identifiera framtida möjligheter)" in detail
    assert "customer_folder (Skapa kundmapp med alla relevanta transcript)" in detail
    assert (await journey.onboarding(oid))["stage"] == "onboarding"

    untick = await journey.tick(oid, "enrich_data", ticked=False)
    assert untick.json()["unticked"] == ["enrich_data", "future_opportunities", "customer_folder"]
    await tick_customer_card(journey, oid)
    await journey.skip_to(at(delivery_day, 14))
    await start_delivery(journey, oid)

    body = await journey.onboarding(oid)
    assert body["stage"] == "delivery"
    [delivery_entered] = timeline(body, "stage_entered", "Leverans (vecka 2–9)")
    assert about(delivery_entered, at(delivery_day, 14))
    [plan] = [
        m for m in journey.mails(oid) if m["To"] == "orjan@are-halsa.example" and "Leveransen" in m["Subject"]
    ]
    assert plan["Subject"] == "Leveransen startar: så ser de kommande 8 veckorna ut"
    text = plan.get_body(("plain",)).get_content()
    assert "Hej Örjan Ängström," in text
    assert "Nu startar leveransen för Åre Hälsa & Söner AB:" in text
    assert "vecka 3–4: praktisk workshop och implementering" in text
    assert [e["template"] for e in body["emails"]].count("delivery_plan") == 1
    [record] = [e for e in body["emails"] if e["template"] == "delivery_plan"]
    assert record["language"] == "sv"
    [first] = tasks_titled(body, PROGRAMME[0])
    week = [delivery_day + timedelta(weeks=n) for n in range(9)]
    assert parse(first["due_at"]) == at(week[2], 16)

    programme = [
        (at(week[2], 8), PROGRAMME[1], at(week[4], 16)),
        (at(week[4], 8), PROGRAMME[2], at(week[6], 16)),
        (at(week[6], 8), PROGRAMME[3], at(week[8], 16)),
    ]
    for moment, title, due in programme:
        await journey.skip_to(moment - timedelta(minutes=1))
        assert tasks_titled(await journey.onboarding(oid), title) == []
        await journey.skip_to(moment + timedelta(minutes=1))
        body = await journey.onboarding(oid)
        [task] = tasks_titled(body, title)
        assert task["owner_role"] == "delivery"
        assert parse(task["due_at"]) == due
        assert timeline(body, "task_created", title) == [moment]
        assert created(body, title) == [moment]
    # 08:00 local on both sides of the switch back to CET.
    summer, winter = programme[0][0], programme[1][0]
    assert summer.utcoffset() == CEST
    assert winter.utcoffset() == CET
    due_hours = {parse(t["due_at"]).astimezone(TZ).hour for t in body["tasks"] if t["title"] in PROGRAMME}
    assert due_hours == {16}

    partnership_at = at(week[8], 8)
    await journey.skip_to(partnership_at - timedelta(minutes=1))
    assert (await journey.onboarding(oid))["stage"] == "delivery"
    await journey.skip_to(partnership_at + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    assert body["stage"] == "partnership"
    assert parse(body["stage_entered_at"]) == partnership_at
    assert timeline(body, "stage_entered", "Partnerskap") == [partnership_at]
    [booking] = tasks_titled(
        body, "Boka första kvartalsuppföljningen (hälsokontroll, feedback, framtida behov)"
    )
    assert parse(booking["due_at"]) == at(SWEDEN.business_day(week[8], 5), 16)  # business day 5
    assert tasks_titled(body, OVERDUE) == [], "the week-1 overdue step belonged to the onboarding visit"
    assert timeline(body, "stage_entered") == [
        timeline(body, "stage_entered", "Onboarding (vecka 1)")[0],
        delivery_entered,
        partnership_at,
    ]


# ------------------------------------------------------------- partnership


def onboarding_for_partnership_after_the_switch(start: date) -> date:
    """The onboarding day (a Tuesday) whose partnership begins 8 weeks later, on the Tuesday
    after the next October clock change: a year of reminders then ends in winter time."""
    return first_from(start, lambda year: dst_switch(SWEDEN, year, 10) + timedelta(days=2, weeks=-8))


async def test_contact_clock_reminds_90_days_after_the_last_contact_across_runs(journey: Journey) -> None:
    """Partnership begins at 08:00 on the Tuesday after the next October switch. With no contact
    logged, the call reminder comes 90 days later (a Monday, 08:00) and the run continues as new
    with its state. A contact logged ten days later restarts the clock: nothing 90 days after the
    reminder, the next reminder 90 days after the contact at 08:00; with no contact after it, the
    next one 90 days after that reminder. A contact reported with contacted_on nine days after
    that counts from that date (90 days on, 08:00 CET, after the next October switch)."""
    onboarding_day = onboarding_for_partnership_after_the_switch(await first_day(journey))
    oid, entered = await partnership(journey, at(onboarding_day, 10))
    start_day = onboarding_day + timedelta(weeks=8)
    assert entered == at(start_day, 8)
    before = await journey.onboarding(oid)

    first_on = start_day + timedelta(days=90)
    first = eight(first_on)
    contact_day = first_on + timedelta(days=10)
    second = eight(contact_day + timedelta(days=90))
    third = eight(second.date() + timedelta(days=90))
    contacted_on = third.date() + timedelta(days=9)
    fourth = eight(contacted_on + timedelta(days=90))
    # The calendar facts: the first reminder on a Monday; the reminder after the dated contact is
    # the first one past the next October switch (that contact itself was in summer time).
    assert first_on.weekday() == MONDAY
    next_switch = dst_switch(SWEDEN, start_day.year + 1, 10)
    assert contacted_on < next_switch < fourth.date()
    assert (second.utcoffset(), at(contacted_on, 12).utcoffset(), fourth.utcoffset()) == (CEST, CEST, CET)
    await journey.skip_to(first - timedelta(minutes=1))
    assert tasks_titled(await journey.onboarding(oid), REMINDER) == []
    first_run = await run_id(journey, oid)

    await journey.skip_to(first + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    [reminder] = tasks_titled(body, REMINDER)
    assert reminder["kind"] == "call"
    assert reminder["owner_role"] == "customer_success"
    assert reminder["status"] == "open"
    assert parse(reminder["due_at"]) == at(SWEDEN.business_day(first_on, 5), 16)  # business day 5
    assert created(body, REMINDER) == [first]
    # The recurring step rolled the run over: same workflow id, a new run, the state carried.
    second_run = await run_id(journey, oid)
    assert second_run != first_run
    assert await run_status(journey, oid, first_run) == WorkflowExecutionStatus.CONTINUED_AS_NEW
    assert body["id"] == oid
    assert body["stage"] == "partnership"
    assert body["checklist"] == before["checklist"]
    assert all(item["ticked_at"] is not None for item in body["checklist"])
    assert body["timeline"][: len(before["timeline"])] == before["timeline"]
    assert [t["id"] for t in body["tasks"][: len(before["tasks"])]] == [t["id"] for t in before["tasks"]]
    assert body["emails"] == before["emails"]

    await skip_then_settle(journey, oid, at(contact_day, 11))
    contact = await journey.event(
        oid, "contact_logged", {"channel": "phone", "summary": "Hälsokontroll: nöjda, vill ha workshop"}
    )
    assert contact.status_code == 202, contact.text
    assert contact.json()["stage"] == "partnership"
    body = await journey.onboarding(oid)
    [reminder] = tasks_titled(body, REMINDER)
    assert reminder["status"] == "done", "a logged contact closes the open call reminder"
    [logged] = [e for e in body["timeline"] if e["event"] == "contact_logged"]
    assert about(parse(logged["at"]), at(contact_day, 11))
    assert "summary: Hälsokontroll: nöjda, vill ha workshop" in logged["detail"]

    # Not 90 days after the previous reminder ...
    await journey.skip_to(second - timedelta(minutes=1))
    body = await journey.onboarding(oid)
    assert eight(first_on + timedelta(days=90)) < second - timedelta(minutes=1)
    assert len(tasks_titled(body, REMINDER)) == 1
    # ... but 90 days after the contact.
    await journey.skip_to(second + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    assert created(body, REMINDER) == [first, second]
    assert [t["status"] for t in tasks_titled(body, REMINDER)] == ["done", "open"]
    assert timeline(body, "task_created", REMINDER) == [first, second]
    third_run = await run_id(journey, oid)
    assert third_run not in (first_run, second_run)

    # No contact since: the next one is 90 days after that reminder.
    await journey.skip_to(third - timedelta(minutes=1))
    assert len(tasks_titled(await journey.onboarding(oid), REMINDER)) == 2
    await journey.skip_to(third + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    assert created(body, REMINDER) == [first, second, third]
    assert [t["status"] for t in tasks_titled(body, REMINDER)] == ["done", "open", "open"]

    # A contact reported later counts from the day it happened (contacted_on).
    await skip_then_settle(journey, oid, at(contacted_on + timedelta(days=4), 10))
    contact = await journey.event(
        oid,
        "contact_logged",
        {"channel": "meeting", "summary": "Kvartalsmöte på plats", "contacted_on": contacted_on.isoformat()},
    )
    assert contact.status_code == 202, contact.text
    await journey.skip_to(fourth - timedelta(minutes=1))  # contacted_on + 90 days, in CET
    assert len(tasks_titled(await journey.onboarding(oid), REMINDER)) == 3
    await journey.skip_to(fourth + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    assert created(body, REMINDER) == [first, second, third, fourth]
    # What happened before the first roll-over is still there, runs later, unless it is more
    # than a year old by now: that is summarised into counts (a partnership of years carries a
    # bounded state), oldest first.
    kept, earlier = body["timeline"], before["timeline"]
    dropped = [entry for entry in earlier if entry not in kept]
    assert dropped, "the contract came in more than a year ago: its first entries are summarised"
    assert earlier[len(dropped) :] == kept[: len(earlier) - len(dropped)]
    year_before = parse(kept[-1]["at"]) - timedelta(days=365)
    assert all(parse(entry["at"]) < year_before for entry in dropped)
    counted = body["archived"]["timeline"]
    for event in {entry["event"] for entry in dropped}:
        assert counted[event] >= sum(1 for entry in dropped if entry["event"] == event)
    assert len(timeline(body, "contact_logged")) == 2
    assert body["stage"] == "partnership"
    assert body["status"] == "running"
    # The quarterly review recurs every 13 weeks from the start of partnership, contacts or not.
    assert created(body, "Kvartalsvis strategisk uppföljning") == [
        eight(start_day + timedelta(weeks=13 * n)) for n in (1, 2, 3, 4)
    ]


async def test_opportunities_move_to_expansion_once_and_are_kept_as_records(journey: Journey) -> None:
    """opportunity_logged (title, numeric value, expected_on, status) moves partnership to
    expansion and is listed under records["opportunities"] with those values; a second one keeps
    the run in expansion without entering it again (one stage_entered, one team notice). A value
    that is not a number, or a status outside invoiced/recurring/pipeline, is refused with 422."""
    oid, entered = await partnership(journey, at(await next_onboarding_day(journey), 10))
    start_day = entered.date()
    logged_at = at(start_day + timedelta(days=8), 13)
    await journey.skip_to(logged_at)
    first = opportunity(start_day + timedelta(days=105))
    response = await journey.event(oid, "opportunity_logged", first)
    assert response.status_code == 202, response.text
    assert response.json()["stage"] == "expansion"

    body = await journey.onboarding(oid)
    assert body["stage"] == "expansion"
    [recorded] = body["records"]["opportunities"]
    assert about(parse(str(recorded.pop("at"))), logged_at)
    assert recorded == first
    [expansion_entered] = timeline(body, "stage_entered", "Expansion")
    assert about(expansion_entered, logged_at)

    logged_again_at = at(start_day + timedelta(days=22), 9)
    await journey.skip_to(logged_again_at)
    second = {
        "title": "Löpande rådgivning",
        "value": 12500.5,
        "expected_on": (start_day + timedelta(days=60)).isoformat(),
        "status": "recurring",
    }
    response = await journey.event(oid, "opportunity_logged", second)
    assert response.status_code == 202, response.text
    assert response.json()["stage"] == "expansion"
    body = await journey.onboarding(oid)
    records = body["records"]["opportunities"]
    assert [{k: v for k, v in r.items() if k != "at"} for r in records] == [first, second]
    assert about(parse(str(records[1]["at"])), logged_again_at)
    assert timeline(body, "stage_entered", "Expansion") == [expansion_entered]
    assert parse(body["stage_entered_at"]) == expansion_entered
    assert len(timeline(body, "opportunity_logged")) == 2
    # Expansion shares partnership's schedule: the contact clock still counts from its start.
    assert body["next_step"] == "90 days without a logged contact"
    assert parse(body["next_step_at"]) == eight(start_day + timedelta(days=90))
    notices = [m for m in journey.mails(oid) if str(m["Subject"]).startswith("Expansion:")]
    assert len(notices) == 1

    bad_value = await journey.event(oid, "opportunity_logged", {**first, "value": "85 000 kr"})
    assert bad_value.status_code == 422, bad_value.text
    assert "value" in refusal(bad_value)
    assert "must be a number" in refusal(bad_value)
    bad_status = await journey.event(oid, "opportunity_logged", {**first, "status": "won"})
    assert bad_status.status_code == 422, bad_status.text
    assert "status" in refusal(bad_status)
    assert "['invoiced', 'recurring', 'pipeline']" in refusal(bad_status)
    assert len((await journey.onboarding(oid))["records"]["opportunities"]) == 2


async def test_churn_risk_escalates_to_the_ceo_and_tells_the_team(journey: Journey) -> None:
    """churn_risk with a reason creates an escalation task for the ceo role, due 17:00 the
    same day, and mails the team the reason; without a reason it is refused with 422."""
    oid, entered = await partnership(journey, at(await next_onboarding_day(journey), 10))
    reported_at = at(entered.date() + timedelta(days=29), 10, 30)
    await journey.skip_to(reported_at)

    missing = await journey.event(oid, "churn_risk", {})
    assert missing.status_code == 422, missing.text
    assert "reason: required" in refusal(missing)

    reason = "Ny VD ifrågasätter avtalet; budgeten fryses inför nästa år"
    response = await journey.event(oid, "churn_risk", {"reason": reason})
    assert response.status_code == 202, response.text
    assert response.json()["stage"] == "partnership"
    body = await journey.onboarding(oid)
    [mail] = [m for m in journey.mails(oid) if str(m["Subject"]).startswith("Churnrisk:")]
    assert mail["To"] == "customer-success@kundprocess.example"
    assert mail["Subject"] == f"Churnrisk: Åre Hälsa & Söner AB ({oid})"
    assert reason in mail.get_body(("plain",)).get_content()
    [task] = tasks_titled(body, ESCALATION)
    assert task["owner_role"] == "ceo"
    assert task["status"] == "open"
    assert parse(task["due_at"]) == at(reported_at.date(), 17)
    assert task["kind"] == "escalation"
    [escalated_at] = created(body, ESCALATION)
    assert about(escalated_at, reported_at)


def renewal_of(onboarding_day: date) -> date:
    """A renewal date whose 60-days-ahead reminder falls on the 13th day of partnership (which
    begins 8 weeks after ``onboarding_day``)."""
    return onboarding_day + timedelta(weeks=8, days=13 + 60)


async def test_renewal_task_60_days_before_the_contract_renewal_date(journey: Journey) -> None:
    """A contract renewing 73 days after its partnership begins (a Tuesday) gets its renewal task
    in partnership 60 days before, a Monday at 08:00, due ten business days later at 16:00. A
    contract naming a date the pipeline does not declare is refused with 422."""
    onboarding_day = await next_onboarding_day(journey)
    renewal = renewal_of(onboarding_day).isoformat()
    unknown = await journey.post_contract(
        contract_payload(pipeline=PIPELINE, dates={"renewal": renewal, "renewel": renewal})
    )
    assert unknown.status_code == 422, unknown.text
    assert "unknown date 'renewel'" in refusal(unknown)
    assert "renewal" in refusal(unknown)

    oid, entered = await partnership(journey, at(onboarding_day, 10), dates={"renewal": renewal})
    reminder_day = renewal_of(onboarding_day) - timedelta(days=60)
    assert (reminder_day - entered.date(), reminder_day.weekday()) == (timedelta(days=13), MONDAY)
    renewal_at = eight(reminder_day)
    await journey.skip_to(renewal_at - timedelta(minutes=1))
    assert tasks_titled(await journey.onboarding(oid), RENEWAL) == []
    await journey.skip_to(renewal_at + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    [task] = tasks_titled(body, RENEWAL)
    assert task["owner_role"] == "customer_success"
    assert parse(task["due_at"]) == at(SWEDEN.business_day(reminder_day, 10), 16)
    assert created(body, RENEWAL) == [renewal_at]
    assert timeline(body, "task_created", RENEWAL) == [renewal_at]


async def test_renewal_task_is_not_repeated_when_expansion_follows(journey: Journey) -> None:
    """The renewal reminder is one reminder per renewal date: an opportunity logged after it
    fired in partnership (moving the run to expansion) does not create a second one."""
    onboarding_day = await next_onboarding_day(journey)
    renewal = renewal_of(onboarding_day)
    oid, _ = await partnership(journey, at(onboarding_day, 10), dates={"renewal": renewal.isoformat()})
    reminder_at = eight(renewal - timedelta(days=60))
    await journey.skip_to(reminder_at + timedelta(days=5, hours=2))  # after the renewal task
    assert len(tasks_titled(await journey.onboarding(oid), RENEWAL)) == 1
    response = await journey.event(oid, "opportunity_logged", opportunity(renewal))
    assert response.status_code == 202, response.text
    body = await journey.onboarding(oid)
    assert body["stage"] == "expansion"
    assert created(body, RENEWAL) == [reminder_at]


async def test_partnership_ended_completes_the_run_and_later_events_conflict(journey: Journey) -> None:
    """partnership_ended (with a reason) moves the run to ended, a goal: the team is told the
    reason, open tasks close with the onboarding, the workflow completes, and any later event
    or checklist tick answers 409 while GET still shows the final state."""
    oid, entered = await partnership(journey, at(await next_onboarding_day(journey), 10))
    first_reminder = eight(entered.date() + timedelta(days=90))
    ended_at_moment = at(entered.date() + timedelta(days=125), 15)  # after the first reminder
    await skip_then_settle(journey, oid, ended_at_moment)
    missing = await journey.event(oid, "partnership_ended", {})
    assert missing.status_code == 422, missing.text
    assert "reason" in refusal(missing)

    reason = "Organisationen slås ihop med ett annat förbund"
    response = await journey.event(oid, "partnership_ended", {"reason": reason})
    assert response.status_code == 202, response.text
    assert response.json()["stage"] == "ended"
    final = await journey.env.client.get_workflow_handle_for(OnboardingWorkflow.run, oid).result()
    assert final.stage == "ended"
    assert final.status == "completed"
    body = await journey.onboarding(oid)
    assert body["stage"] == "ended"
    assert body["status"] == "completed"
    assert body["next_step"] is None
    assert [t["status"] for t in body["tasks"]] == ["done"] * len(body["tasks"])
    assert (
        await journey.env.client.get_workflow_handle(oid).describe()
    ).status == WorkflowExecutionStatus.COMPLETED
    [notice] = [m for m in journey.mails(oid) if str(m["Subject"]).startswith("Partnerskap avslutat:")]
    assert f"Skäl: {reason}" in notice.get_body(("plain",)).get_content()
    [ended_at] = timeline(body, "stage_entered", "Avslutad")
    assert about(ended_at, ended_at_moment)
    assert timeline(body, "completed") == [final.timeline[-1].at]
    # Finished after the run had rolled over (the first reminder): open tasks closed with it.
    [reminder] = [t for t in final.tasks if t.title == REMINDER]
    assert reminder.created_at == first_reminder
    assert reminder.resolution == "closed_with_onboarding"

    for name, payload in [
        ("contact_logged", {"channel": "email", "summary": "Tack för samarbetet"}),
        ("churn_risk", {"reason": "för sent"}),
        ("partnership_ended", {"reason": "igen"}),
    ]:
        late = await journey.event(oid, name, payload)
        assert late.status_code == 409, late.text
        assert "completed" in refusal(late)
    tick = await journey.tick(oid, "enrich_data", ticked=False)
    assert tick.status_code == 409, tick.text
    assert (await journey.onboarding(oid))["timeline"] == body["timeline"]


# ------------------------------------------------------------------ review regressions


async def test_a_back_dated_contact_never_rewinds_the_clock_and_a_future_one_is_refused(
    journey: Journey,
) -> None:
    """A contact reported late for an earlier date leaves the 90-day clock counting from the most
    recent contact; a contact dated in the future is refused (422) and changes nothing."""
    oid, entered = await partnership(journey, at(await next_onboarding_day(journey, MONDAY), 9))
    recent = entered + timedelta(days=50)
    await skip_then_settle(journey, oid, recent)
    response = await journey.event(oid, "contact_logged", {"channel": "phone", "summary": "Avstämning"})
    assert response.status_code == 202, response.text

    back_dated = {
        "channel": "email",
        "summary": "Mejl",
        "contacted_on": (entered + timedelta(days=5)).date().isoformat(),
    }
    assert (await journey.event(oid, "contact_logged", back_dated)).status_code == 202
    in_a_month = (recent + timedelta(days=30)).date().isoformat()  # ahead of the server's clock
    future = {"channel": "email", "summary": "Mejl", "contacted_on": in_a_month}
    refused = await journey.event(oid, "contact_logged", future)
    assert refused.status_code == 422, refused.text
    assert "contacted_on" in refusal(refused)

    state = await journey.settled(oid)
    assert about(state.anchors["last_contact"], recent)
    # Had the back-dated contact rewound the clock, a reminder would come at entered + 95 days.
    await skip_then_settle(journey, oid, entered + timedelta(days=100))
    assert not tasks_titled(await journey.onboarding(oid), REMINDER)


async def test_a_complete_customer_card_skips_the_week_1_overdue_warning(journey: Journey) -> None:
    """The card is complete but delivery has not been started yet: no overdue task at business
    day 5, and the timeline says why the step did nothing."""
    monday = await next_onboarding_day(journey, MONDAY)
    step_day = SWEDEN.business_day(monday, 5)
    oid = await start(journey, at(monday, 9))
    await tick_customer_card(journey, oid)
    await journey.skip_to(at(step_day + timedelta(days=1), 12))
    body = await journey.onboarding(oid)
    assert body["stage"] == "onboarding"
    assert not tasks_titled(body, OVERDUE)
    assert timeline(body, "step_skipped") == [at(step_day, 9)]
