"""What a run refuses, and why: the checks behind the workflow's update validators."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kickoff.domain import AmendInput, EventInput, OutcomeInput, TickInput
from kickoff.engine import Invalid, NotNow, Unknown, rules
from kickoff.engine.drive import advance
from tests.unit.engine.support import OSLO, STOCKHOLM, event, local, start, tick_all

SIGNED = local(STOCKHOLM, date(2031, 4, 7), 10)


def assist_onboarding():
    run = start("assist-se", SIGNED, SIGNED.date() - timedelta(days=1))
    advance(run, SIGNED)
    return run


@pytest.mark.parametrize(
    ("name", "payload", "refusal", "says"),
    [
        ("no_such_event", {}, Unknown, "has no event 'no_such_event'"),
        ("resume", {}, NotNow, "not accepted in stage 'onboarding'"),
        ("call_logged", {"outcome": "maybe"}, Invalid, "outcome: must be one of"),
        ("call_logged", {}, Invalid, "outcome: required"),
        ("meeting_booked", {"meeting_at": "2031-04-08T10:00:00"}, Invalid, "UTC offset"),
        ("park", {"reason": "x", "until": "2031-04-01"}, Invalid, "is too early"),
        ("park", {"reason": "x", "colour": "red"}, Invalid, "colour: unknown field"),
    ],
)
def test_each_bad_event_is_refused_with_its_reason_and_changes_nothing(name, payload, refusal, says) -> None:
    """Unknown events are Unknown (404), events of another stage NotNow (409), bad payloads and
    until-dates that would plan a step in the past Invalid (422); the run is unchanged."""
    run = assist_onboarding()
    before = run.state.model_copy(deep=True)
    with pytest.raises(refusal, match=says):
        rules.check_event(run.state, run.pipeline, EventInput(name=name, payload=payload), SIGNED, False)
    assert run.state == before


def test_a_gated_stage_is_refused_until_every_item_is_ticked_and_names_those_left() -> None:
    """pakkepilot-no's go-live needs the customer's 'before go-live' list: refused naming exactly
    the unticked items, accepted once all are ticked."""
    signed = local(OSLO, date(2031, 4, 7), 9)
    run = start("pakkepilot-no", signed, language="nb")
    event(run, "kickoff_held", signed)
    run.tick(TickInput(item="portal_access"), signed)
    with pytest.raises(NotNow, match="unticked checklist items") as refused:
        rules.check_event(run.state, run.pipeline, EventInput(name="go_live"), signed, False)
    assert "portal_access" not in str(refused.value)
    assert all(item in str(refused.value) for item in ("integration_tested", "returns_agreed"))
    tick_all(run, "before_go_live", signed)
    assert event(run, "go_live", signed) == "hypercare"


def test_items_and_actions_of_modules_the_contract_lacks_do_not_exist_for_it() -> None:
    """wisenetwork-fi without finance: no finance training item, no finance tasks, and ticking
    the item is Unknown naming why."""
    signed = local(STOCKHOLM, date(2031, 4, 7), 9)
    run = start("wisenetwork-fi", signed, language="fi", modules=["crm", "cms"])
    assert "training_finance" not in [i.id for i in run.state.checklist]
    with pytest.raises(Unknown, match="not part of this onboarding's modules"):
        rules.check_tick(run.state, run.pipeline, TickInput(item="training_finance"), False)
    event(run, "kickoff_held", signed)
    advance(run, signed + timedelta(days=60))
    assert not [t for t in run.state.tasks if "talous" in t.title.lower()]


def test_the_kickoff_outcome_is_refused_before_a_booking_and_without_segment_and_advisor() -> None:
    """Before a booking NotNow; a completed kick-off without segment or advisor Invalid; its task
    is closed only by recording the outcome."""
    run = assist_onboarding()
    completed = OutcomeInput(outcome="completed", segment="B", owner="Sara Lind")
    with pytest.raises(NotNow, match="no kick-off is booked yet"):
        rules.check_outcome(run.state, run.pipeline, completed, False)
    event(run, "meeting_booked", SIGNED, meeting_at=(SIGNED + timedelta(days=2)).isoformat())
    run.close(SIGNED, completes_at_goal=False)  # a run that waits for its outcome (earlier release)
    for bad, says in (
        (OutcomeInput(outcome="completed", owner="Sara"), "segment must be one of"),
        (OutcomeInput(outcome="completed", segment="B"), "name the responsible advisor"),
    ):
        with pytest.raises(Invalid, match=says):
            rules.check_outcome(run.state, run.pipeline, bad, False)
    [task] = run.state.open_tasks()
    with pytest.raises(NotNow, match="kickoff-outcome"):
        rules.check_complete_task(run.state, run.pipeline, task.id)
    rules.check_outcome(run.state, run.pipeline, completed, False)
    assert run.record_outcome(completed, SIGNED + timedelta(days=3)) == 1
    assert run.state.open_tasks() == []


def test_a_delivery_start_can_be_amended_only_before_onboarding_begins() -> None:
    """While waiting in 'new' a later delivery start is accepted (and moves the plan); once
    onboarding began it is NotNow."""
    run = start("assist-se", SIGNED, SIGNED.date() + timedelta(days=10))
    later = SIGNED.date() + timedelta(days=20)
    rules.check_amend(run.state, run.pipeline, AmendInput(delivery_start=later), SIGNED, False)
    run.amend(AmendInput(delivery_start=later), SIGNED)
    assert run.next_step()[1] == local(STOCKHOLM, later + timedelta(days=1), 8)
    advance(run, local(STOCKHOLM, later + timedelta(days=1), 9))
    with pytest.raises(NotNow, match="onboarding has begun"):
        rules.check_amend(run.state, run.pipeline, AmendInput(delivery_start=later), SIGNED, False)


def test_a_finished_or_restarting_run_refuses_every_event() -> None:
    run = assist_onboarding()
    with pytest.raises(NotNow, match="restarting"):
        rules.check_event(run.state, run.pipeline, EventInput(name="resume"), SIGNED, True)
    event(run, "meeting_booked", SIGNED, meeting_at=(SIGNED + timedelta(days=2)).isoformat())
    with pytest.raises(NotNow, match="nothing more happens"):
        rules.check_event(
            run.state,
            run.pipeline,
            EventInput(name="call_logged", payload={"outcome": "answered"}),
            SIGNED,
            False,
        )


def test_a_run_that_completes_at_its_goal_takes_no_outcome_and_one_recorded_outside_is_checked() -> None:
    """Closing completes the run with no outcome task and no wait; its update refuses an outcome,
    and an outcome recorded outside the run is checked like one sent to it (booked, segment,
    advisor, a restart reason the pipeline has)."""
    run = assist_onboarding()
    completed = OutcomeInput(outcome="completed", segment="B", owner="Sara Lind")
    reasons = run.pipeline.restart.reasons
    with pytest.raises(NotNow, match="no kick-off is booked yet"):
        rules.check_booked_outcome(run.state, run.pipeline, completed, reasons)
    event(run, "meeting_booked", SIGNED, meeting_at=(SIGNED + timedelta(days=2)).isoformat())
    run.close(SIGNED)

    assert (run.state.completes_at_goal, run.state.awaiting_outcome, run.state.open_tasks()) == (
        True,
        False,
        [],
    )
    with pytest.raises(NotNow, match="recorded by Kickoff"):
        rules.check_outcome(run.state, run.pipeline, completed, False)
    rules.check_booked_outcome(run.state, run.pipeline, completed, reasons)
    rules.check_booked_outcome(run.state, run.pipeline, OutcomeInput(outcome="no_show"), reasons)
    with pytest.raises(Invalid, match="segment must be one of"):
        rules.check_booked_outcome(
            run.state, run.pipeline, OutcomeInput(outcome="completed", owner="S"), reasons
        )
    with pytest.raises(Invalid, match="belong to a completed kick-off"):
        rules.check_booked_outcome(
            run.state, run.pipeline, OutcomeInput(outcome="no_show", segment="A"), reasons
        )
    with pytest.raises(NotNow, match="restarts onboarding"):
        rules.check_booked_outcome(run.state, run.pipeline, OutcomeInput(outcome="no_show"), ("rescheduled",))
