"""kundprocess-se end to end: onboarding week 1, the delivery gate, the 8-week programme,
partnership and expansion with the 90-day contact clock, churn escalation, renewal and the end.

Every expected moment is written out as Stockholm wall-clock time and compared for
exact equality with what the API (or the run's state) reports.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowExecutionStatus

from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.e2e.conftest import Journey
from tests.support import contract_payload

TZ = ZoneInfo("Europe/Stockholm")
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
OPPORTUNITY: dict[str, Any] = {
    "title": "Workshop för ledningsgruppen",
    "value": 85000,
    "expected_on": "2028-02-15",
    "status": "pipeline",
}
PROGRAMME = (
    "Programvecka 1–2: behovsanalys och strategi",
    "Programvecka 3–4: praktisk workshop och implementering",
    "Programvecka 5–6: keynote och organisationsförankring",
    "Programvecka 7–8: uppföljning och framtidsplan",
)


def sthlm(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A Stockholm wall-clock moment."""
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def eight(day: date) -> datetime:
    return datetime.combine(day, time(8, 0), tzinfo=TZ)


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


async def start(journey: Journey, at: datetime, **overrides: Any) -> str:
    """Move the clock to ``at`` and post a kundprocess-se contract signed then."""
    await journey.skip_to(at)
    payload = contract_payload(
        pipeline=PIPELINE,
        signed_at=at.isoformat(),
        delivery_start=at.date().isoformat(),
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


async def test_customer_card_overdue_counts_swedish_business_days_past_midsummer(journey: Journey) -> None:
    """Onboarding entered Monday 21 June 2027: business day 5 skips Midsummer Eve (Friday 25,
    closed by the de_facto calendar), Midsummer Day and the weekend, so the overdue task is
    created Tuesday 29 June 09:00 (it would be Monday 28 June if Midsummer Eve were open).
    The on-enter task for the checklist is due the same business day at 16:00."""
    entered = sthlm(2027, 6, 21, 10)
    oid = await start(journey, entered)
    body = await journey.onboarding(oid)
    assert body["stage"] == "onboarding"
    [onboarding_entered] = timeline(body, "stage_entered", "Onboarding (vecka 1)")
    assert about(onboarding_entered, entered)
    [card_task] = tasks_titled(body, "Komplettera kundkortet enligt checklistan")
    assert parse(card_task["due_at"]) == sthlm(2027, 6, 29, 16)

    overdue_at = sthlm(2027, 6, 29, 9)
    assert parse(body["next_step_at"]) == overdue_at
    await journey.skip_to(sthlm(2027, 6, 28, 23, 59))
    body = await journey.onboarding(oid)
    assert tasks_titled(body, OVERDUE) == [], "nothing is overdue on Monday 28 June"

    await journey.skip_to(overdue_at + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    [overdue] = tasks_titled(body, OVERDUE)
    assert overdue["kind"] == "overdue"
    assert overdue["owner_role"] == "customer_success"
    assert parse(overdue["due_at"]) == sthlm(2027, 6, 29, 16)
    assert timeline(body, "task_created", OVERDUE) == [overdue_at]
    assert created(body, OVERDUE) == [overdue_at]


# ---------------------------------------------------------------- delivery


async def test_delivery_gate_then_programme_and_partnership_at_eight_across_dst(journey: Journey) -> None:
    """start_delivery is refused (409) while customer_card items are unticked, naming exactly
    those; once all six are ticked it is accepted, the customer gets the Swedish delivery_plan
    mail, and the overdue step of onboarding week 1 never fires. Delivery entered Thursday
    7 October 2027: programme tasks Thursday 21 October (CEST), 4 and 18 November (CET, after
    the 31 October switch) and partnership on 2 December, each at 08:00 Stockholm time."""
    oid = await start(journey, sthlm(2027, 10, 4, 10))
    for item in CUSTOMER_CARD[:4]:
        assert (await journey.tick(oid, item)).status_code == 200

    refused = await journey.event(oid, "start_delivery")
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "unticked checklist items" in detail
    for item in CUSTOMER_CARD[:4]:
        assert item not in detail
    assert "future_opportunities (Identifiera framtida möjligheter)" in detail
    assert "customer_folder (Skapa kundmapp med alla relevanta transcript)" in detail
    assert (await journey.onboarding(oid))["stage"] == "onboarding"

    untick = await journey.tick(oid, "enrich_data", ticked=False)
    assert untick.json()["unticked"] == ["enrich_data", "future_opportunities", "customer_folder"]
    await tick_customer_card(journey, oid)
    await journey.skip_to(sthlm(2027, 10, 7, 14))
    await start_delivery(journey, oid)

    body = await journey.onboarding(oid)
    assert body["stage"] == "delivery"
    [delivery_entered] = timeline(body, "stage_entered", "Leverans (vecka 2–9)")
    assert about(delivery_entered, sthlm(2027, 10, 7, 14))
    [plan] = [
        m for m in journey.mails(oid) if m["To"] == "orjan@are-halsa.example" and "Leveransen" in m["Subject"]
    ]
    assert plan["Subject"] == "Leveransen startar: så ser de kommande 8 veckorna ut"
    text = plan.get_content()
    assert "Hej Örjan Ängström," in text
    assert "Nu startar leveransen för Åre Hälsa & Söner AB:" in text
    assert "vecka 3–4: praktisk workshop och implementering" in text
    assert [e["template"] for e in body["emails"]].count("delivery_plan") == 1
    [record] = [e for e in body["emails"] if e["template"] == "delivery_plan"]
    assert record["language"] == "sv"
    [first] = tasks_titled(body, PROGRAMME[0])
    assert parse(first["due_at"]) == sthlm(2027, 10, 21, 16)

    programme = [
        (sthlm(2027, 10, 21, 8), PROGRAMME[1], sthlm(2027, 11, 4, 16)),
        (sthlm(2027, 11, 4, 8), PROGRAMME[2], sthlm(2027, 11, 18, 16)),
        (sthlm(2027, 11, 18, 8), PROGRAMME[3], sthlm(2027, 12, 2, 16)),
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
    # 08:00 local on both sides of the switch back to CET on 31 October 2027.
    summer, winter = programme[0][0], programme[1][0]
    assert summer.utcoffset() == timedelta(hours=2)
    assert winter.utcoffset() == timedelta(hours=1)
    due_hours = {parse(t["due_at"]).astimezone(TZ).hour for t in body["tasks"] if t["title"] in PROGRAMME}
    assert due_hours == {16}

    partnership_at = sthlm(2027, 12, 2, 8)
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
    assert parse(booking["due_at"]) == sthlm(2027, 12, 9, 16)  # business day 5 from Thursday 2 December
    assert tasks_titled(body, OVERDUE) == [], "the week-1 overdue step belonged to the onboarding visit"
    assert timeline(body, "stage_entered") == [
        timeline(body, "stage_entered", "Onboarding (vecka 1)")[0],
        delivery_entered,
        partnership_at,
    ]


# ------------------------------------------------------------- partnership


async def test_contact_clock_reminds_90_days_after_the_last_contact_across_runs(journey: Journey) -> None:
    """Partnership begins Tuesday 2 November 2027 08:00. With no contact logged, the call
    reminder comes 90 days later (Monday 31 January 2028 08:00) and the run continues as new
    with its state. A contact logged Thursday 10 February restarts the clock: nothing on
    30 April (90 days after the reminder), the next reminder on 10 May 08:00; with no contact
    after it, the next one 90 days after that reminder (8 August). A contact with
    contacted_on 17 August counts from that date (15 November, 08:00 CET)."""
    oid, entered = await partnership(journey, sthlm(2027, 9, 7, 10))
    assert entered == sthlm(2027, 11, 2, 8)
    before = await journey.onboarding(oid)

    first = sthlm(2028, 1, 31, 8)
    await journey.skip_to(first - timedelta(minutes=1))
    assert tasks_titled(await journey.onboarding(oid), REMINDER) == []
    first_run = await run_id(journey, oid)

    await journey.skip_to(first + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    [reminder] = tasks_titled(body, REMINDER)
    assert reminder["kind"] == "call"
    assert reminder["owner_role"] == "customer_success"
    assert reminder["status"] == "open"
    assert parse(reminder["due_at"]) == sthlm(2028, 2, 7, 16)  # business day 5 from Monday 31 January
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

    await skip_then_settle(journey, oid, sthlm(2028, 2, 10, 11))
    contact = await journey.event(
        oid, "contact_logged", {"channel": "phone", "summary": "Hälsokontroll: nöjda, vill ha workshop"}
    )
    assert contact.status_code == 202, contact.text
    assert contact.json()["stage"] == "partnership"
    body = await journey.onboarding(oid)
    [reminder] = tasks_titled(body, REMINDER)
    assert reminder["status"] == "done", "a logged contact closes the open call reminder"
    [logged] = [e for e in body["timeline"] if e["event"] == "contact_logged"]
    assert about(parse(logged["at"]), sthlm(2028, 2, 10, 11))
    assert "summary: Hälsokontroll: nöjda, vill ha workshop" in logged["detail"]

    # Not 90 days after the previous reminder (Sunday 30 April) ...
    await journey.skip_to(sthlm(2028, 5, 10, 7, 59))
    body = await journey.onboarding(oid)
    assert len(tasks_titled(body, REMINDER)) == 1
    # ... but 90 days after the contact.
    second = sthlm(2028, 5, 10, 8)
    await journey.skip_to(second + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    assert created(body, REMINDER) == [first, second]
    assert [t["status"] for t in tasks_titled(body, REMINDER)] == ["done", "open"]
    assert timeline(body, "task_created", REMINDER) == [first, second]
    third_run = await run_id(journey, oid)
    assert third_run not in (first_run, second_run)

    # No contact since: the next one is 90 days after that reminder.
    third = sthlm(2028, 8, 8, 8)
    await journey.skip_to(third - timedelta(minutes=1))
    assert len(tasks_titled(await journey.onboarding(oid), REMINDER)) == 2
    await journey.skip_to(third + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    assert created(body, REMINDER) == [first, second, third]
    assert [t["status"] for t in tasks_titled(body, REMINDER)] == ["done", "open", "open"]

    # A contact reported later counts from the day it happened (contacted_on).
    await skip_then_settle(journey, oid, sthlm(2028, 8, 21, 10))
    contact = await journey.event(
        oid,
        "contact_logged",
        {"channel": "meeting", "summary": "Kvartalsmöte på plats", "contacted_on": "2028-08-17"},
    )
    assert contact.status_code == 202, contact.text
    fourth = sthlm(2028, 11, 15, 8)  # 17 August + 90 days, after the switch to CET
    await journey.skip_to(fourth - timedelta(minutes=1))
    assert len(tasks_titled(await journey.onboarding(oid), REMINDER)) == 3
    await journey.skip_to(fourth + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    assert created(body, REMINDER) == [first, second, third, fourth]
    assert second.utcoffset() == timedelta(hours=2)
    assert fourth.utcoffset() == timedelta(hours=1)
    # Everything from before the first roll-over is still there, runs later.
    assert body["timeline"][: len(before["timeline"])] == before["timeline"]
    assert len(timeline(body, "contact_logged")) == 2
    assert body["stage"] == "partnership"
    assert body["status"] == "running"
    # The quarterly review recurs every 13 weeks from the start of partnership, contacts or not.
    assert created(body, "Kvartalsvis strategisk uppföljning") == [
        sthlm(2028, 2, 1, 8),
        sthlm(2028, 5, 2, 8),
        sthlm(2028, 8, 1, 8),
        sthlm(2028, 10, 31, 8),
    ]


async def test_opportunities_move_to_expansion_once_and_are_kept_as_records(journey: Journey) -> None:
    """opportunity_logged (title, numeric value, expected_on, status) moves partnership to
    expansion and is listed under records["opportunities"] with those values; a second one keeps
    the run in expansion without entering it again (one stage_entered, one team notice). A value
    that is not a number, or a status outside invoiced/recurring/pipeline, is refused with 422."""
    oid, _ = await partnership(journey, sthlm(2027, 9, 7, 10))
    await journey.skip_to(sthlm(2027, 11, 10, 13))
    first = OPPORTUNITY
    response = await journey.event(oid, "opportunity_logged", first)
    assert response.status_code == 202, response.text
    assert response.json()["stage"] == "expansion"

    body = await journey.onboarding(oid)
    assert body["stage"] == "expansion"
    [recorded] = body["records"]["opportunities"]
    assert about(parse(str(recorded.pop("at"))), sthlm(2027, 11, 10, 13))
    assert recorded == first
    [expansion_entered] = timeline(body, "stage_entered", "Expansion")
    assert about(expansion_entered, sthlm(2027, 11, 10, 13))

    await journey.skip_to(sthlm(2027, 11, 24, 9))
    second = {
        "title": "Löpande rådgivning",
        "value": 12500.5,
        "expected_on": "2028-01-01",
        "status": "recurring",
    }
    response = await journey.event(oid, "opportunity_logged", second)
    assert response.status_code == 202, response.text
    assert response.json()["stage"] == "expansion"
    body = await journey.onboarding(oid)
    records = body["records"]["opportunities"]
    assert [{k: v for k, v in r.items() if k != "at"} for r in records] == [first, second]
    assert about(parse(str(records[1]["at"])), sthlm(2027, 11, 24, 9))
    assert timeline(body, "stage_entered", "Expansion") == [expansion_entered]
    assert parse(body["stage_entered_at"]) == expansion_entered
    assert len(timeline(body, "opportunity_logged")) == 2
    # Expansion shares partnership's schedule: the contact clock still counts from 2 November.
    assert body["next_step"] == "90 days without a logged contact"
    assert parse(body["next_step_at"]) == sthlm(2028, 1, 31, 8)
    notices = [m for m in journey.mails(oid) if str(m["Subject"]).startswith("Expansion:")]
    assert len(notices) == 1

    bad_value = await journey.event(oid, "opportunity_logged", {**first, "value": "85 000 kr"})
    assert bad_value.status_code == 422, bad_value.text
    assert "value" in bad_value.json()["detail"]
    assert "must be a number" in bad_value.json()["detail"]
    bad_status = await journey.event(oid, "opportunity_logged", {**first, "status": "won"})
    assert bad_status.status_code == 422, bad_status.text
    assert "status" in bad_status.json()["detail"]
    assert "['invoiced', 'recurring', 'pipeline']" in bad_status.json()["detail"]
    assert len((await journey.onboarding(oid))["records"]["opportunities"]) == 2


async def test_churn_risk_escalates_to_the_ceo_and_tells_the_team(journey: Journey) -> None:
    """churn_risk with a reason creates an escalation task for the ceo role, due 17:00 the
    same day, and mails the team the reason; without a reason it is refused with 422."""
    oid, _ = await partnership(journey, sthlm(2027, 9, 7, 10))
    await journey.skip_to(sthlm(2027, 12, 1, 10, 30))

    missing = await journey.event(oid, "churn_risk", {})
    assert missing.status_code == 422, missing.text
    assert "reason: required" in missing.json()["detail"]

    reason = "Ny VD ifrågasätter avtalet; budgeten fryses inför 2028"
    response = await journey.event(oid, "churn_risk", {"reason": reason})
    assert response.status_code == 202, response.text
    assert response.json()["stage"] == "partnership"
    body = await journey.onboarding(oid)
    [mail] = [m for m in journey.mails(oid) if str(m["Subject"]).startswith("Churnrisk:")]
    assert mail["To"] == "customer-success@kundprocess.example"
    assert mail["Subject"] == f"Churnrisk: Åre Hälsa & Söner AB ({oid})"
    assert reason in mail.get_content()
    [task] = tasks_titled(body, ESCALATION)
    assert task["owner_role"] == "ceo"
    assert task["status"] == "open"
    assert parse(task["due_at"]) == sthlm(2027, 12, 1, 17)
    assert task["kind"] == "escalation"
    [escalated_at] = created(body, ESCALATION)
    assert about(escalated_at, sthlm(2027, 12, 1, 10, 30))


async def test_renewal_task_60_days_before_the_contract_renewal_date(journey: Journey) -> None:
    """A contract renewing on 14 January 2028 gets its renewal task in partnership 60 days
    before, Monday 15 November 2027 at 08:00, due ten business days later at 16:00. A contract
    naming a date the pipeline does not declare is refused with 422."""
    unknown = await journey.post_contract(
        contract_payload(pipeline=PIPELINE, dates={"renewal": "2028-01-14", "renewel": "2028-01-14"})
    )
    assert unknown.status_code == 422, unknown.text
    assert "unknown date 'renewel'" in unknown.json()["detail"]
    assert "renewal" in unknown.json()["detail"]

    oid, _ = await partnership(journey, sthlm(2027, 9, 7, 10), dates={"renewal": "2028-01-14"})
    renewal_at = sthlm(2027, 11, 15, 8)
    await journey.skip_to(renewal_at - timedelta(minutes=1))
    assert tasks_titled(await journey.onboarding(oid), RENEWAL) == []
    await journey.skip_to(renewal_at + timedelta(minutes=1))
    body = await journey.onboarding(oid)
    [task] = tasks_titled(body, RENEWAL)
    assert task["owner_role"] == "customer_success"
    assert parse(task["due_at"]) == sthlm(2027, 11, 29, 16)
    assert created(body, RENEWAL) == [renewal_at]
    assert timeline(body, "task_created", RENEWAL) == [renewal_at]


async def test_renewal_task_is_not_repeated_when_expansion_follows(journey: Journey) -> None:
    """The renewal reminder is one reminder per renewal date: an opportunity logged after it
    fired in partnership (moving the run to expansion) does not create a second one."""
    oid, _ = await partnership(journey, sthlm(2027, 9, 7, 10), dates={"renewal": "2028-01-14"})
    await journey.skip_to(sthlm(2027, 11, 20, 10))  # after the renewal task of 15 November
    assert len(tasks_titled(await journey.onboarding(oid), RENEWAL)) == 1
    response = await journey.event(oid, "opportunity_logged", OPPORTUNITY)
    assert response.status_code == 202, response.text
    body = await journey.onboarding(oid)
    assert body["stage"] == "expansion"
    assert created(body, RENEWAL) == [sthlm(2027, 11, 15, 8)]


async def test_partnership_ended_completes_the_run_and_later_events_conflict(journey: Journey) -> None:
    """partnership_ended (with a reason) moves the run to ended, a goal: the team is told the
    reason, open tasks close with the onboarding, the workflow completes, and any later event
    or checklist tick answers 409 while GET still shows the final state."""
    oid, _ = await partnership(journey, sthlm(2027, 9, 7, 10))
    await skip_then_settle(journey, oid, sthlm(2028, 3, 6, 15))
    missing = await journey.event(oid, "partnership_ended", {})
    assert missing.status_code == 422, missing.text
    assert "reason" in missing.json()["detail"]

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
    assert f"Skäl: {reason}" in notice.get_content()
    [ended_at] = timeline(body, "stage_entered", "Avslutad")
    assert about(ended_at, sthlm(2028, 3, 6, 15))
    assert timeline(body, "completed") == [final.timeline[-1].at]
    # Finished after the run had rolled over (reminder of 31 January): open tasks closed with it.
    [reminder] = [t for t in final.tasks if t.title == REMINDER]
    assert reminder.created_at == sthlm(2028, 1, 31, 8)
    assert reminder.resolution == "closed_with_onboarding"

    for name, payload in [
        ("contact_logged", {"channel": "email", "summary": "Tack för samarbetet"}),
        ("churn_risk", {"reason": "för sent"}),
        ("partnership_ended", {"reason": "igen"}),
    ]:
        late = await journey.event(oid, name, payload)
        assert late.status_code == 409, late.text
        assert "completed" in late.json()["detail"]
    tick = await journey.tick(oid, "enrich_data", ticked=False)
    assert tick.status_code == 409, tick.text
    assert (await journey.onboarding(oid))["timeline"] == body["timeline"]


# ------------------------------------------------------------------ review regressions


async def test_a_back_dated_contact_never_rewinds_the_clock_and_a_future_one_is_refused(
    journey: Journey,
) -> None:
    """A contact reported late for an earlier date leaves the 90-day clock counting from the most
    recent contact; a contact dated in the future is refused (422) and changes nothing."""
    oid, entered = await partnership(journey, sthlm(2027, 9, 6, 9))
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
    future = {"channel": "email", "summary": "Mejl", "contacted_on": "2036-01-01"}
    refused = await journey.event(oid, "contact_logged", future)
    assert refused.status_code == 422, refused.text
    assert "contacted_on" in refused.json()["detail"]

    state = await journey.settled(oid)
    assert about(state.anchors["last_contact"], recent)
    # Had the back-dated contact rewound the clock, a reminder would come at entered + 95 days.
    await skip_then_settle(journey, oid, entered + timedelta(days=100))
    assert not tasks_titled(await journey.onboarding(oid), REMINDER)


async def test_a_complete_customer_card_skips_the_week_1_overdue_warning(journey: Journey) -> None:
    """The card is complete but delivery has not been started yet: no overdue task at business
    day 5, and the timeline says why the step did nothing."""
    oid = await start(journey, sthlm(2027, 9, 6, 9))
    await tick_customer_card(journey, oid)
    await journey.skip_to(sthlm(2027, 9, 14, 12))
    body = await journey.onboarding(oid)
    assert body["stage"] == "onboarding"
    assert not tasks_titled(body, OVERDUE)
    assert timeline(body, "step_skipped") == [sthlm(2027, 9, 13, 9)]
