"""The customer's plan on a plain clock: the engine's own dates ahead, business days and
holidays included, and where an onboarding stands when it is in a stage the plan leaves out."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from kickoff.customer.access import ended_at, page_language
from kickoff.customer.plan import current_plan_stage, customer_plan, next_step
from kickoff.customer.texts import TEXTS, local_datetime
from kickoff.db.bookings import BookingRow
from tests.unit.engine.support import OSLO, STOCKHOLM, advance, event, flush_mail, local, start


def test_a_new_assist_onboarding_plans_its_start_for_08_00_the_day_after_delivery() -> None:
    """Signed on a Friday, delivery on Monday 30 March 2026 (after the DST switch): onboarding
    starts on Tuesday at 08:00 CEST."""
    signed = local(STOCKHOLM, date(2026, 3, 27), 10)
    run = start("assist-se", signed, date(2026, 3, 30))
    flush_mail(run, signed)
    rows = customer_plan(run.state, run.pipeline, "sv")
    assert [(r.stage, r.status) for r in rows] == [
        ("new", "now"),
        ("onboarding", "ahead"),
        ("closed", "ahead"),
    ]
    assert rows[1].at == local(STOCKHOLM, date(2026, 3, 31), 8)
    assert rows[2].at is None  # reached by booking: no date until it happens
    assert local_datetime(rows[1].at, "Europe/Stockholm", "sv") == "tisdag 31 mars 2026 08:00"
    upcoming = next_step(run.state, run.pipeline, "sv")
    assert upcoming is not None
    assert upcoming.at == rows[1].at
    assert upcoming.summary.startswith("Välkommen")


def test_a_run_in_a_stage_the_plan_leaves_out_stands_at_the_last_shown_stage() -> None:
    """After 30 days without a booking the run is in follow_up, which the customer sees as still
    booking the kick-off."""
    signed = local(STOCKHOLM, date(2026, 1, 5), 10)
    run = start("assist-se", signed, date(2026, 1, 5))
    advance(run, local(STOCKHOLM, date(2026, 2, 20), 9))
    assert run.state.stage == "follow_up"
    shown = run.pipeline.customer_page.plan if run.pipeline.customer_page else ()
    assert current_plan_stage(run.state, shown) == "onboarding"
    rows = customer_plan(run.state, run.pipeline, "sv")
    assert [r.status for r in rows] == ["done", "now", "ahead"]


def test_pakkepilots_plan_counts_norwegian_business_days_from_the_kickoff() -> None:
    """Kick-off held on Wednesday 13 May 2026: Ascension Day (14 May) is closed, so integration
    starts on Monday 18 May at 08:00."""
    signed = local(OSLO, date(2026, 5, 11), 9)
    run = start("pakkepilot-no", signed, language="en")
    flush_mail(run, signed)
    held = local(OSLO, date(2026, 5, 13), 11)
    event(run, "kickoff_held", held, held_at=held.isoformat())
    flush_mail(run, held)
    rows = {r.stage: r for r in customer_plan(run.state, run.pipeline, "en")}
    assert rows["kickoff"].status == "done"
    assert rows["access"].status == "now"
    # Business day 2 after the kick-off: 13 May is day 0, 14 May (Ascension) and the weekend are closed.
    assert rows["integration"].at == local(OSLO, date(2026, 5, 18), 8)
    assert rows["testing"].at == local(OSLO, date(2026, 5, 20), 8)
    assert rows["training"].at == local(OSLO, date(2026, 5, 22), 8)
    assert rows["hypercare"].at is None  # go-live is an event
    assert rows["integration"].label == "Integration and data mapping"


def test_the_page_speaks_the_contracts_language_when_the_pipeline_offers_it() -> None:
    """English for an English PakkePilot contract, the default language for one it does not offer."""
    signed = local(OSLO, date(2026, 5, 11), 9)
    english = start("pakkepilot-no", signed, language="en")
    finnish = start("pakkepilot-no", signed, language="fi")
    assert page_language(english.pipeline, english.state) == "en"
    assert page_language(finnish.pipeline, finnish.state) == "nb"
    assert set(TEXTS) == {"sv", "nb", "fi", "en"}


def test_a_page_stays_open_after_the_run_ends_until_the_booked_meeting_and_weeks_beyond() -> None:
    """A running onboarding has no end; a completed one ends at its last stage entry or its later meeting."""
    signed = local(STOCKHOLM, date(2026, 1, 5), 10)
    run = start("assist-se", signed, date(2026, 1, 5))
    assert ended_at(run.state, None) is None
    booked_at = local(STOCKHOLM, date(2026, 1, 7), 9)
    event(run, "meeting_booked", booked_at, meeting_at=local(STOCKHOLM, date(2026, 1, 20), 10).isoformat())
    flush_mail(run, booked_at)
    assert run.state.stage == "closed"
    done = run.state.model_copy(update={"status": "completed"})
    assert ended_at(done, None) == done.stage_entered_at
    meeting = local(STOCKHOLM, date(2026, 1, 20), 10)
    booking = BookingRow(
        id="b",
        onboarding_id=done.id,
        pipeline="assist-se",
        cycle=1,
        starts_at=meeting,
        ends_at=meeting + timedelta(minutes=30),
        place=0,
        status="booked",
        sequence=0,
        booked_by="customer",
        created_at=booked_at,
        updated_at=booked_at,
    )
    assert ended_at(done, booking) == meeting + timedelta(minutes=30)
    assert ended_at(done, replace(booking, status="cancelled")) == done.stage_entered_at
