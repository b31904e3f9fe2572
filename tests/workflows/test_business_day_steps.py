"""The interpreter counts business days in the pipeline's own calendar snapshot."""

from __future__ import annotations

from datetime import date, timedelta

from kickoff.pipelines import parse_pipelines
from tests.e2e.calendars import MONDAY, NORWAY, SWEDEN, days_from, next_weekday, soonest
from tests.support import (
    PIPELINES_FILE,
    STOCKHOLM,
    at_eight,
    entries,
    make_contract,
    settled_state,
    skip_to,
    start_run,
)


def norwegian_business_day_pipeline():
    """assist-se, but onboarding starts one Norwegian business day after the delivery start."""
    text = PIPELINES_FILE.read_text(encoding="utf-8")
    # assist-se's own (Swedish) calendar makes way for the Norwegian one.
    text = text.replace("    calendar: {country: SE, categories: [public, de_facto]}\n", "", 1)
    text = text.replace(
        "    timezone: Europe/Stockholm\n",
        "    timezone: Europe/Stockholm\n    calendar: {country: 'NO'}\n",
        1,
    )
    text = text.replace(
        'at: {anchor: delivery_start, days: 1, time: "08:00"}',
        'at: {anchor: delivery_start, days: 1, unit: business_days, time: "08:00"}',
    )
    return parse_pipelines(text, source="business-days.yaml")


def next_norwegian_only_monday(start: date) -> date:
    """The first Monday on or after ``start`` that Norway closes and Sweden does not: 17 May on
    a Monday, or Whit Monday (a Norwegian holiday every year, no Swedish one)."""
    mondays = (day for day in days_from(next_weekday(start, MONDAY)) if day.weekday() == MONDAY)
    return next(day for day in mondays if NORWAY.holiday(day) and not SWEDEN.holiday(day))


async def test_business_day_one_after_a_friday_skips_the_weekend_and_a_norwegian_holiday(
    ts_env, ts_worker, task_queue
):
    """Delivery on the Friday before the next Monday closed in Norway but not in Sweden (17 May or
    Whit Monday): the weekend and that Monday are skipped, onboarding is Tuesday 08:00."""
    monday = next_norwegian_only_monday(soonest(await ts_env.get_current_time(), STOCKHOLM))
    friday, tuesday = monday - timedelta(days=3), monday + timedelta(days=1)
    assert NORWAY.business_day(friday, 1) == tuesday  # the calendar fact the test relies on
    assert SWEDEN.business_day(friday, 1) == monday  # (a Swedish calendar would give Monday)
    pipelines = norwegian_business_day_pipeline()
    handle = await start_run(ts_env, task_queue, make_contract(delivery_start=friday.isoformat()), pipelines)

    await skip_to(ts_env, at_eight(tuesday) + timedelta(minutes=1))
    state = await settled_state(ts_env, handle)
    assert entries(state, "stage_entered")[-1] == (at_eight(tuesday), "Onboarding – Pågår")
    assert state.pipeline_version == pipelines.version("assist-se")
