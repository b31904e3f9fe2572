"""Every assist-se stage transition and scheduled step happens at its exact local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.support import (
    STOCKHOLM,
    at_eight,
    entries,
    local_date,
    make_contract,
    settled_state,
    skip_to,
    start_run,
)

CALL_TITLES = {
    3: "Ring kunden: inget uppstartsmöte bokat (dag 3)",
    7: "Ring kunden: inget uppstartsmöte bokat (dag 7)",
    33: "Ring kunden: inget uppstartsmöte bokat (dag 33)",
    37: "Ring kunden: inget uppstartsmöte bokat (dag 37)",
}


def next_spring_forward(after: datetime) -> date:
    """The first day after ``after`` on which Stockholm switches to summer time."""
    day = local_date(after) + timedelta(days=1)
    while True:
        before = datetime(day.year, day.month, day.day, 0, tzinfo=STOCKHOLM).utcoffset()
        later = datetime(day.year, day.month, day.day, 12, tzinfo=STOCKHOLM).utcoffset()
        if before is not None and later is not None and later > before:
            return day
        day += timedelta(days=1)


async def test_an_unbooked_run_passes_every_stage_at_08_00_stockholm(ts_env, ts_worker, task_queue, smtp):
    """Without a booking the run goes new -> onboarding -> follow_up -> inactive on schedule."""
    now = await ts_env.get_current_time()
    delivery = local_date(now) + timedelta(days=2)
    handle = await start_run(ts_env, task_queue, make_contract(delivery_start=delivery.isoformat()))

    start = await settled_state(ts_env, handle)
    assert start.stage == "new"
    assert [detail for _, detail in entries(start, "note")] == ["Ny kund (Onboardingansvarig)"]
    assert [t.kind for t in start.tasks] == ["todo", "todo"]
    assert start.emails == []

    day0 = delivery + timedelta(days=1)
    await skip_to(ts_env, at_eight(day0 + timedelta(days=90)))
    state = await settled_state(ts_env, handle)

    assert entries(state, "stage_entered")[1:] == [
        (at_eight(day0), "Onboarding – Pågår"),
        (at_eight(day0 + timedelta(days=30)), "Må följas upp"),
        (at_eight(day0 + timedelta(days=60)), "Inaktiva kunder"),
    ]
    calls = {(t.title, t.created_at) for t in state.tasks if t.kind == "call"}
    assert calls == {("Välkomstsamtal till huvudanvändaren", at_eight(day0))} | {
        (title, at_eight(day0 + timedelta(days=n))) for n, title in CALL_TITLES.items()
    }
    outreach = [t for t in state.tasks if t.title.startswith("Manuell kontakt")]
    assert [(t.created_at, t.owner_role) for t in outreach] == [
        (at_eight(day0 + timedelta(days=60)), "onboarding_lead")
    ]
    mails = [
        (m.template, local_date(m.sent_at), m.sent_at - at_eight(local_date(m.sent_at))) for m in state.emails
    ]
    expected_days = [(t, day0 + timedelta(days=n)) for t, n in [
        ("welcome", 0), ("booking_reminder", 10), ("booking_reminder", 20),
        ("follow_up_reminder", 40), ("follow_up_reminder", 50),
    ]]  # fmt: skip
    assert [(t, d) for t, d, _ in mails] == expected_days
    # Mails leave when their step fires: within seconds of 08:00, never before it.
    assert all(timedelta(0) <= late < timedelta(minutes=1) for _, _, late in mails)
    assert len(smtp.for_onboarding(state.id)) == 5
    assert (state.stage, state.status) == ("inactive", "running")
    assert state.next_step is None


async def test_day_n_stays_at_08_00_local_across_a_daylight_saving_switch(ts_env, ts_worker, task_queue):
    """A delivery start just before spring-forward keeps day 3 and day 7 at 08:00 wall time."""
    now = await ts_env.get_current_time()
    switch = next_spring_forward(now + timedelta(days=3))
    delivery = switch - timedelta(days=2)  # onboarding begins the day before the switch
    handle = await start_run(ts_env, task_queue, make_contract(delivery_start=delivery.isoformat()))
    day0 = delivery + timedelta(days=1)

    await skip_to(ts_env, at_eight(day0 + timedelta(days=8)))
    state = await settled_state(ts_env, handle)

    day3 = next(t for t in state.tasks if t.title == CALL_TITLES[3])
    day7 = next(t for t in state.tasks if t.title == CALL_TITLES[7])
    entered = entries(state, "stage_entered")[1][0]
    assert entered.astimezone(STOCKHOLM).strftime("%H:%M %Z") == "08:00 CET"
    assert entered.astimezone(UTC).hour == 7
    for task in (day3, day7):
        local = task.created_at.astimezone(STOCKHOLM)
        assert local.strftime("%H:%M %Z") == "08:00 CEST"
        assert task.created_at.astimezone(UTC).hour == 6
    # Three calendar days, but only 71 hours: the plan follows the wall clock.
    assert day3.created_at - entered == timedelta(hours=71)


async def test_a_contract_arriving_after_its_onboarding_moment_starts_onboarding_at_once(
    ts_env, ts_worker, task_queue, smtp
):
    """A delivery start in the past moves the run to onboarding immediately; day N counts from now."""
    now = await ts_env.get_current_time()
    delivery = local_date(now) - timedelta(days=10)
    handle = await start_run(ts_env, task_queue, make_contract(delivery_start=delivery.isoformat()))

    state = await settled_state(ts_env, handle)
    assert state.stage == "onboarding"
    entered = state.stage_entered_at
    assert timedelta(0) <= entered - now < timedelta(minutes=1)
    assert [m.template for m in state.emails] == ["welcome"]
    welcome = smtp.with_message_id(state.emails[0].message_id)
    assert len(welcome) == 1
    assert welcome[0]["Subject"] == "Välkommen till Assist, Åre Hälsa & Söner AB!"
    text = welcome[0].get_body(("plain",))
    assert text is not None
    assert "Hej Örjan Ängström" in text.get_content()
    assert state.next_step == "day 3 call task"
    assert state.next_step_at == at_eight(local_date(entered) + timedelta(days=3))
