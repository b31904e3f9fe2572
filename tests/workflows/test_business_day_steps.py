"""The interpreter counts business days in the pipeline's own calendar snapshot."""

from __future__ import annotations

from datetime import date, timedelta

from kickoff.pipelines import parse_pipelines
from tests.support import PIPELINES_FILE, at_eight, entries, make_contract, settled_state, skip_to, start_run


def norwegian_business_day_pipeline():
    """assist-se, but onboarding starts one Norwegian business day after the delivery start."""
    text = PIPELINES_FILE.read_text(encoding="utf-8")
    text = text.replace(
        "    timezone: Europe/Stockholm\n", "    timezone: Europe/Stockholm\n    calendar: {country: 'NO'}\n"
    )
    text = text.replace(
        'at: {anchor: delivery_start, days: 1, time: "08:00"}',
        'at: {anchor: delivery_start, days: 1, unit: business_days, time: "08:00"}',
    )
    return parse_pipelines(text, source="business-days.yaml")


async def test_business_day_one_after_a_friday_skips_the_weekend_and_17_may(ts_env, ts_worker, task_queue):
    """Delivery Friday 14 May 2032: the weekend and Monday 17 May are skipped, onboarding is Tuesday 08:00."""
    friday = date(2032, 5, 14)
    assert (await ts_env.get_current_time()).date() < friday
    pipelines = norwegian_business_day_pipeline()
    handle = await start_run(ts_env, task_queue, make_contract(delivery_start=friday.isoformat()), pipelines)

    await skip_to(ts_env, at_eight(friday + timedelta(days=4)) + timedelta(minutes=1))
    state = await settled_state(ts_env, handle)
    assert entries(state, "stage_entered")[-1] == (at_eight(date(2032, 5, 18)), "Onboarding – Pågår")
    assert state.pipeline_version == pipelines.version("assist-se")
