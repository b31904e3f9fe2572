"""PakkePilot (``pakkepilot-no``) end to end: the business-day plan in the Norwegian calendar.

Weekends, 17 May, Ascension Day and Easter are not counted, daylight-saving switches keep
08:00 Oslo time, and the day-10 deadlines fire exactly once. Each test takes its dates from
the test server's clock (the next year with the calendar facts it needs, see
tests/e2e/calendars.py) and compares the API's moments for exact equality with the oracle's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from tests.e2e.calendars import (
    FRIDAY,
    NORWAY,
    SATURDAY,
    THURSDAY,
    TUESDAY,
    days_from,
    dst_switch,
    first_from,
    in_utc,
    plain_monday,
)
from tests.e2e.conftest import Journey
from tests.e2e.pakkepilot import (
    ACCESS,
    CEST,
    CET,
    HOLD_KICKOFF_TITLE,
    INTEGRATION,
    INVITE_TITLE,
    KICKOFF,
    OSLO,
    OVERDUE_TITLE,
    TEAM_EMAIL,
    TESTING,
    TRAINING,
    assert_business_days,
    at_oslo,
    between,
    created,
    entered,
    first_day,
    follow_plan,
    hold_kickoff,
    mails_with_subject,
    moment,
    plan_of,
    sign,
    skip_to,
    stage_entries,
    tasks_titled,
    the_task,
    tick_all,
)

# --------------------------------------------------------------------------
# 1. Business days skip weekends and Norwegian public holidays.


def constitution_day(year: int) -> date | None:
    """17 May of ``year`` if it falls on a weekday (a weekend 17 May closes nothing extra)."""
    may_17 = date(year, 5, 17)
    assert "Constitution Day" in str(NORWAY.holiday(may_17))
    return may_17 if may_17.weekday() <= FRIDAY else None


def thursday_before_17_may(start: date) -> date:
    """The Thursday before the weekend that precedes the next 17 May on a weekday, in a year in
    which that Thursday and Friday are business days (not Ascension Day): day 1 is the Friday,
    then the weekend, and 17 May comes within the next week's business days."""

    def candidate(year: int) -> date | None:
        may_17 = constitution_day(year)
        if may_17 is None:
            return None
        thursday = may_17 - timedelta(days=may_17.weekday() + 4)
        return None if NORWAY.closed(thursday) or NORWAY.closed(thursday + timedelta(days=1)) else thursday

    return first_from(start, candidate)


def tuesday_of_ascension_week(start: date) -> date:
    """The Tuesday of the next Ascension week (Ascension Day is a Thursday), unless that Tuesday
    is itself closed (1 May in some years): day 2 jumps Ascension Day, and weekends follow."""

    def candidate(year: int) -> date | None:
        tuesday = NORWAY.named("Ascension Day", year) - timedelta(days=2)
        return None if NORWAY.closed(tuesday) else tuesday

    return first_from(start, candidate)


def held_on_17_may(start: date) -> date:
    """The next 17 May on a weekday: the kick-off is held on the holiday itself."""
    return first_from(start, constitution_day)


def weekend_then_17_may(kickoff_day: date, plan: dict[str, date]) -> None:
    """Day 1 is the Friday, then the weekend, and 17 May (closed) falls before day 6."""
    may_17 = date(kickoff_day.year, 5, 17)
    assert kickoff_day.weekday() == THURSDAY
    assert plan["invite"] == kickoff_day + timedelta(days=1)  # day 1 is Friday, then the weekend
    assert plan["invite"] < may_17 < plan["training"]  # and 17 May, a closed weekday, before day 6
    assert NORWAY.closed(may_17)
    assert may_17.weekday() <= FRIDAY


def ascension_and_weekends(kickoff_day: date, plan: dict[str, date]) -> None:
    """Ascension Day (a Thursday) falls between day 1 and day 2, and two weekends before day 10."""
    ascension = NORWAY.named("Ascension Day", kickoff_day.year)
    assert (kickoff_day.weekday(), ascension.weekday()) == (TUESDAY, THURSDAY)
    assert kickoff_day < ascension < plan["integration"]  # day 1 Wednesday, day 2 after Ascension
    weekends = [day for day in between(kickoff_day, plan["overdue"]) if day.weekday() == SATURDAY]
    assert len(weekends) >= 2, weekends


def held_on_the_holiday(kickoff_day: date, plan: dict[str, date]) -> None:
    """The kick-off day is 17 May on a weekday, closed: day 0 is the next business day."""
    assert "Constitution Day" in str(NORWAY.holiday(kickoff_day))
    assert kickoff_day.weekday() <= FRIDAY
    day_0 = NORWAY.business_day(kickoff_day, 0)
    assert day_0 > kickoff_day  # the next business day is day 0 ...
    assert all(NORWAY.closed(day) for day in between(kickoff_day, day_0 - timedelta(days=1)))
    assert plan["invite"] == NORWAY.business_day(day_0, 1)  # ... and day 1 is the one after it


HOLIDAY_PLANS = [
    pytest.param(thursday_before_17_may, weekend_then_17_may, id="thursday-before-a-17-may-weekend"),
    pytest.param(tuesday_of_ascension_week, ascension_and_weekends, id="tuesday-of-ascension-week"),
    pytest.param(held_on_17_may, held_on_the_holiday, id="held-on-17-may-day-0-is-the-next-business-day"),
]


@pytest.mark.parametrize(("choose", "facts"), HOLIDAY_PLANS)
async def test_business_day_plan_skips_weekends_and_norwegian_holidays(
    journey: Journey,
    choose: Callable[[date], date],
    facts: Callable[[date, dict[str, date]], None],
) -> None:
    """Day 2 integration, day 4 testing, day 6 training and the day-10 overdue task fall on the
    Norwegian business days the oracle counts, at 08:00 Oslo time: weekends, Ascension Day and
    17 May (Constitution Day) are not counted, and a kick-off held on a holiday counts from the
    next business day as day 0. Task due dates count the same way. Each case takes the next year
    whose calendar has its facts: 17 May on a weekday (kick-off the Thursday before the weekend
    before it, or on 17 May itself), or the Tuesday of Ascension week."""
    kickoff_day = choose(await first_day(journey))
    plan = plan_of(kickoff_day)
    facts(kickoff_day, plan)  # the calendar facts this case relies on
    assert_business_days(list(plan.values()))

    oid, body = await follow_plan(journey, kickoff_day)
    assert body["stage"] == "access"
    # Tasks count business days too: the kick-off task (signed the same day) is due on day 2,
    # the portal invitation one business day after the kick-off.
    assert moment(the_task(body, HOLD_KICKOFF_TITLE)["due_at"]) == at_oslo(plan["integration"], 16)
    assert moment(the_task(body, INVITE_TITLE)["due_at"]) == at_oslo(plan["invite"], 16)
    assert moment(body["next_step_at"]) == at_oslo(plan["integration"], 8)

    await skip_to(journey, at_oslo(plan["overdue"], 9))
    body = await journey.onboarding(oid)

    assert body["stage"] == "training"
    assert [label for _, label in stage_entries(body)] == [KICKOFF, ACCESS, INTEGRATION, TESTING, TRAINING]
    assert entered(body, ACCESS).astimezone(OSLO).date() == kickoff_day
    assert entered(body, INTEGRATION) == at_oslo(plan["integration"], 8)
    assert entered(body, TESTING) == at_oslo(plan["testing"], 8)
    assert entered(body, TRAINING) == at_oslo(plan["training"], 8)
    assert created(body, OVERDUE_TITLE) == [at_oslo(plan["overdue"], 8)]
    overdue = the_task(body, OVERDUE_TITLE)
    assert (overdue["kind"], moment(overdue["created_at"])) == ("overdue", at_oslo(plan["overdue"], 8))
    testing_task = the_task(body, "Godkjenn testresultat og service level (SLA)")
    assert moment(testing_task["created_at"]) == at_oslo(plan["testing"], 8)
    # Two business days on from testing, which is day 6 (training).
    assert moment(testing_task["due_at"]) == at_oslo(NORWAY.business_day(plan["testing"], 2), 16)
    assert NORWAY.business_day(plan["testing"], 2) == plan["training"]


# --------------------------------------------------------------------------
# 2. Daylight-saving switches keep 08:00 local time.


def first_kickoff_before(switch: date) -> date:
    """The first business day before the switch whose day 2 comes after it: the kick-off is
    held before the switch and every step from integration on after it."""
    return next(
        day
        for day in days_from(switch - timedelta(days=14))
        if not NORWAY.closed(day) and NORWAY.business_day(day, 2) > switch
    )


EASTER = ("Maundy Thursday", "Good Friday", "Easter Monday")


def spring_forward_over_easter(start: date) -> date:
    """The kick-off before the next spring-forward switch in a year whose Easter holidays (Maundy
    Thursday, Good Friday, Easter Monday) all fall between the kick-off and day 10."""

    def candidate(year: int) -> date | None:
        kickoff_day = first_kickoff_before(dst_switch(NORWAY, year, 3))
        day_10 = NORWAY.business_day(kickoff_day, 10)
        easter = [NORWAY.named(name, year) for name in EASTER]
        return kickoff_day if all(kickoff_day < day < day_10 for day in easter) else None

    return first_from(start, candidate)


def fall_back(start: date) -> date:
    """The kick-off before the next October switch (Norway has no holiday around it)."""
    return first_from(start, lambda year: first_kickoff_before(dst_switch(NORWAY, year, 10)))


DST_PLANS = [
    pytest.param(spring_forward_over_easter, (CET, CEST), id="spring-forward-over-easter"),
    pytest.param(fall_back, (CEST, CET), id="fall-back-in-october"),
]


@pytest.mark.parametrize(("choose", "offsets"), DST_PLANS)
async def test_plan_across_a_daylight_saving_switch_stays_at_0800_local(
    journey: Journey, choose: Callable[[date], date], offsets: tuple[timedelta, timedelta]
) -> None:
    """A plan whose kick-off is before a daylight-saving switch and whose steps are after it still
    happens at 08:00 Oslo wall-clock time: the UTC instants (worked out from the offsets, not the tz
    database) move by the hour the offset changed. In spring the plan also skips Maundy Thursday,
    Good Friday and Easter Monday: the case takes the next year whose Easter falls inside the plan
    begun just before the switch; the October case takes the next October switch."""
    kickoff_day = choose(await first_day(journey))
    plan = {key: day for key, day in plan_of(kickoff_day).items() if key != "invite"}
    before, after = offsets
    # The calendar facts the expected instants rely on.
    switch = dst_switch(NORWAY, kickoff_day.year, 3 if before == CET else 10)
    assert kickoff_day < switch < plan["integration"]
    assert (NORWAY.offset(kickoff_day), NORWAY.offset(plan["integration"])) == (before, after)
    if before == CET:
        for name in EASTER:
            assert kickoff_day < NORWAY.named(name, kickoff_day.year) < plan["overdue"], name
    assert_business_days(list(plan.values()))
    expected = {key: in_utc(day, 8, after) for key, day in plan.items()}

    oid, _ = await follow_plan(journey, kickoff_day)
    await skip_to(journey, expected["overdue"] + timedelta(hours=1))
    body = await journey.onboarding(oid)

    assert entered(body, ACCESS).astimezone(OSLO).utcoffset() == before
    for label, key in ((INTEGRATION, "integration"), (TESTING, "testing"), (TRAINING, "training")):
        at = entered(body, label)
        assert at == expected[key], label
        local = at.astimezone(OSLO)
        assert (local.hour, local.minute, local.utcoffset()) == (8, 0, after), label
    assert created(body, OVERDUE_TITLE) == [expected["overdue"]]


# --------------------------------------------------------------------------
# 3. Overdue at business day 10: after the kick-off, and without one after the signing.


async def test_overdue_task_on_business_day_10_only_for_a_run_not_live(journey: Journey) -> None:
    """Two runs kicked off on a Monday (the next one beginning three weeks without a holiday):
    the one still in training on business day 10 (the Monday two weeks on) gets exactly one task
    of kind ``overdue``, owned by customer_success, created at 08:00 that day and due 16:00, plus
    one team notification naming its stage; it stays one after more days pass. The run that went
    live on day 7 gets neither."""
    kickoff_day = plain_monday(NORWAY, await first_day(journey), weeks=3)
    day_7, day_10, day_13 = (NORWAY.business_day(kickoff_day, n) for n in (7, 10, 13))
    assert day_10 == kickoff_day + timedelta(weeks=2)
    assert_business_days([kickoff_day, day_7, day_10, day_13])
    stuck = await sign(journey, at_oslo(kickoff_day, 9))
    live = await sign(journey)
    await skip_to(journey, at_oslo(kickoff_day, 10))
    await hold_kickoff(journey, stuck)
    await hold_kickoff(journey, live)

    await skip_to(journey, at_oslo(day_7, 11))
    await tick_all(journey, live)
    accepted = await journey.event(live, "go_live")
    assert accepted.status_code == 202, accepted.text

    await skip_to(journey, at_oslo(day_10, 7, 59))
    assert tasks_titled(await journey.onboarding(stuck), OVERDUE_TITLE) == []
    await skip_to(journey, at_oslo(day_10, 9))
    body = await journey.onboarding(stuck)

    assert body["stage"] == "training"
    overdue = the_task(body, OVERDUE_TITLE)
    assert overdue["kind"] == "overdue"
    assert overdue["owner_role"] == "customer_success"
    assert overdue["status"] == "open"
    assert moment(overdue["created_at"]) == at_oslo(day_10, 8)
    assert moment(overdue["due_at"]) == at_oslo(day_10, 16)
    assert created(body, OVERDUE_TITLE) == [at_oslo(day_10, 8)]
    assert [task["kind"] for task in body["tasks"]].count("overdue") == 1
    [notice] = mails_with_subject(journey, stuck, "Forsinket oppstart:")
    assert notice["To"] == TEAM_EMAIL
    assert str(notice["Subject"]) == f"Forsinket oppstart: {stuck}"
    assert f"(står i {TRAINING})" in notice.get_body(("plain",)).get_content()

    body = await journey.onboarding(live)
    assert body["stage"] == "hypercare"
    assert tasks_titled(body, OVERDUE_TITLE) == []
    assert "overdue" not in [task["kind"] for task in body["tasks"]]
    assert mails_with_subject(journey, live, "Forsinket") == []

    await skip_to(journey, at_oslo(day_13, 12))  # three more business days
    body = await journey.onboarding(stuck)
    assert [task["kind"] for task in body["tasks"]].count("overdue") == 1
    assert len(mails_with_subject(journey, stuck, "Forsinket oppstart:")) == 1
    assert tasks_titled(await journey.onboarding(live), OVERDUE_TITLE) == []


def last_business_day_before_17_may(start: date) -> date:
    """The last business day before the next 17 May on a weekday."""

    def candidate(year: int) -> date | None:
        may_17 = constitution_day(year)
        if may_17 is None:
            return None
        return next(
            may_17 - timedelta(days=n) for n in range(1, 8) if not NORWAY.closed(may_17 - timedelta(days=n))
        )

    return first_from(start, candidate)


async def test_no_kickoff_within_10_business_days_is_escalated_once(journey: Journey) -> None:
    """Signed on the last business day before the next 17 May on a weekday, and no kick-off held:
    business day 10 (skipping the weekends, 17 May and whichever of Ascension Day and Whit Monday
    fall in between) is when an overdue task asks Customer Success to escalate; nothing more
    comes after it."""
    signed_on = last_business_day_before_17_may(await first_day(journey))
    day_10 = NORWAY.business_day(signed_on, 10)
    may_17 = date(signed_on.year, 5, 17)
    # The calendar facts: 17 May and at least one weekend lie between the signing and day 10.
    assert signed_on < may_17 < day_10
    assert NORWAY.closed(may_17)
    assert any(day.weekday() == SATURDAY for day in between(signed_on, day_10))

    oid = await sign(journey, at=at_oslo(signed_on, 10))
    await skip_to(journey, at_oslo(day_10, 8, 59))
    assert not tasks_titled(await journey.onboarding(oid), "Ingen oppstart")
    await skip_to(journey, at_oslo(day_10 + timedelta(weeks=1), 12))
    body = await journey.onboarding(oid)
    task = the_task(body, "Ingen oppstart 10 arbeidsdager etter signering")
    assert (task["kind"], task["owner_role"]) == ("overdue", "customer_success")
    assert moment(task["created_at"]) == at_oslo(day_10, 9)
    assert body["stage"] == "kickoff"
