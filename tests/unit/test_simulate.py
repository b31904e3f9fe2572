"""The simulator: a pipeline's plan for a contract and a script, in local time, from the engine.

Every date is fixed: a preview reads no clock, so the plan for 2027 is the same on any day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import pytest

from kickoff.pipelines import PipelineCatalog
from kickoff.simulate import InvalidInputError, Simulation, UnknownPipelineError, preview
from kickoff.simulate import simulator as simulator_module
from tests.support import catalog


@cache
def pipelines() -> PipelineCatalog:
    return catalog()


def contract(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contract_id": "C-1",
        "customer": {"name": "Åre Hälsa AB"},
        "main_user": {"name": "Örjan", "email": "orjan@are-halsa.example"},
        "licenses": 12,
        "language": "sv",
        "delivery_start": "2027-05-03",
    }
    body.update(overrides)
    return body


def plan(
    pipeline: str = "assist-se",
    start: date | None = date(2027, 4, 28),
    events: list[dict[str, Any]] | None = None,
    until: date | None = None,
    **overrides: Any,
) -> Simulation:
    return preview(
        pipelines(), pipeline, contract(**overrides), start=start, script=events or [], until=until
    )


def problems(excinfo: pytest.ExceptionInfo[InvalidInputError]) -> dict[tuple[str | int, ...], str]:
    return {problem.loc: problem.msg for problem in excinfo.value.problems}


# ---------------------------------------------------------------- the plan


def test_assist_plan_lists_stages_tasks_and_mails_at_local_times():
    """assist-se waits for its delivery start, then onboards at 08:00 Stockholm the day after."""
    sim = plan(until=date(2027, 5, 15))
    assert [(s.stage, s.local, s.cause) for s in sim.stages] == [
        ("new", "Wed 2027-04-28 09:00 CEST", "contract received"),
        ("onboarding", "Tue 2027-05-04 08:00 CEST", "step start-onboarding"),
    ]
    assert [(m.template, m.recipient, m.language, m.local) for m in sim.mails] == [
        ("welcome", "main_user", "sv", "Tue 2027-05-04 08:00 CEST"),
        ("booking_reminder", "main_user", "sv", "Fri 2027-05-14 08:00 CEST"),
    ]
    first = sim.tasks[0]
    assert (first.owner_role, first.role, first.due.local, first.status) == (
        "staff", "Kundtjänst", "Thu 2027-04-29 17:00 CEST", "open",
    )  # fmt: skip
    assert [f.key for f in sim.firings] == ["start-onboarding", "day-3-call", "day-7-call", "day-10-reminder"]
    assert sim.firings[0].at.isoformat() == "2027-05-04T08:00:00+02:00"
    assert (sim.ended, sim.status, sim.next_step and sim.next_step.local) == (
        "until", "running", "Mon 2027-05-24 08:00 CEST",
    )  # fmt: skip


def test_business_days_skip_weekends_and_the_pipelines_holidays():
    """pakkepilot-no counts Norwegian business days: 3 after Thursday 13 May 2027 skips the weekend
    and Monday 17 May (Constitution Day and Whit Monday) to Wednesday 09:00 Oslo time."""
    sim = plan("pakkepilot-no", date(2027, 5, 13), until=date(2027, 5, 20), language="en")
    chase = next(f for f in sim.firings if f.key == "kickoff-chase")
    assert chase.local == "Wed 2027-05-19 09:00 CEST"
    kickoff = next(t for t in sim.tasks if t.kind == "kickoff")
    assert kickoff.due.local == "Tue 2027-05-18 16:00 CEST"  # 2 business days: Fri 14, Tue 18


def test_mail_goes_out_in_the_contracts_language_and_team_mail_in_the_pipelines():
    """An English PakkePilot contract: the welcome mail in en; the team's go-live notice in nb."""
    events = [
        {"at": "2027-05-04T11:00", "event": "kickoff_held"},
        *(
            {"at": "2027-05-05", "tick": item}
            for item in pipelines().pipelines["pakkepilot-no"].checklist_items()
        ),
        {"at": "2027-05-05T11:00", "event": "go_live"},
    ]
    sim = plan("pakkepilot-no", date(2027, 5, 3), events, until=date(2027, 5, 6), language="en")
    assert [(m.template, m.recipient, m.language) for m in sim.mails] == [
        ("welcome", "main_user", "en"),
        ("live", "main_user", "en"),
        ("notify", "team", "nb"),
    ]


def test_a_contracts_modules_limit_tasks_and_checklist_items():
    """wisenetwork-fi with CRM only: no fulfilment of other modules' tasks, and ticking another
    module's training is refused as the run refuses it."""
    events = [
        {"at": "2027-09-07", "event": "kickoff_held"},
        {"at": "2027-09-08", "tick": "training_sales"},
        {"at": "2027-09-08T10:00", "tick": "settings_done"},
    ]
    sim = plan(
        "wisenetwork-fi", date(2027, 9, 6), events, until=date(2027, 9, 9), language="fi", modules=["crm"]
    )
    titles = [t.title for t in sim.tasks]
    assert any(title.startswith("CRM:") for title in titles)
    assert not any(title.startswith("CMS:") for title in titles)
    refused, ticked = sim.script[1], sim.script[2]
    assert (refused.accepted, refused.refusal_kind) == (False, "unknown")
    assert refused.refusal == "checklist item training_sales is not part of this onboarding's modules"
    assert ticked.accepted


def test_each_action_says_what_it_changed():
    """A logged call closes the call task; a park moves the run and sets its until anchor."""
    events = [
        {"at": "2027-05-05T10:00", "event": "call_logged", "payload": {"outcome": "answered"}},
        {"at": "2027-05-06", "event": "park", "payload": {"reason": "Semester", "until": "2027-05-20"}},
    ]
    sim = plan(events=events, until=date(2027, 5, 21))
    call, park = sim.script
    assert [t.title for t in call.changes.tasks_closed] == ["Välkomstsamtal till huvudanvändaren"]
    assert (call.stage_before, call.stage_after) == ("onboarding", "onboarding")
    assert (park.stage_before, park.stage_after) == ("onboarding", "manual_follow_up")
    assert park.changes.anchors == {"park_until": "Thu 2027-05-20 00:00 CEST"}
    assert [s.cause for s in sim.stages][-1] == "step resume-on-until-date"
    assert sim.stages[-1].local == "Thu 2027-05-20 08:00 CEST"


@pytest.mark.parametrize(
    ("action", "kind", "reason"),
    [
        ({"at": "2027-05-05", "event": "resume"}, "not_now", "not accepted in stage 'onboarding'"),
        (
            {"at": "2027-05-05", "event": "park", "payload": {"reason": "x", "until": "2027-05-05"}},
            "invalid",
            "is too early",
        ),
        ({"at": "2027-05-05", "done": "no such task"}, "unknown", "no open task"),
        ({"at": "2027-05-05", "amend": "2027-06-01"}, "not_now", "has begun"),
    ],
    ids=["wrong-stage", "until-passed", "no-task", "amend-too-late"],
)
def test_an_action_the_run_refuses_is_recorded_with_the_runs_reason(action, kind, reason):
    """Refusals come from the engine's own checks, at the action's moment, and change nothing."""
    sim = plan(events=[action], until=date(2027, 5, 6))
    [outcome] = sim.script
    assert (outcome.accepted, outcome.refusal_kind) == (False, kind)
    assert outcome.refusal is not None
    assert reason in outcome.refusal
    assert outcome.changes.stages == []
    assert outcome.changes.tasks_created == []


def test_done_marks_the_oldest_open_task_of_a_kind_and_amend_moves_the_plan():
    """``done: call`` closes the call task due first; an amended delivery start replans onboarding."""
    events = [
        {"at": "2027-04-29", "amend": "2027-05-10"},
        {"at": "2027-05-14T10:00", "done": "call"},
    ]
    sim = plan(events=events, until=date(2027, 5, 15))
    assert sim.stages[1].local == "Tue 2027-05-11 08:00 CEST"
    [closed] = sim.script[1].changes.tasks_closed
    assert closed.title == "Välkomstsamtal till huvudanvändaren"
    assert sim.script[0].changes.anchors == {"delivery_start": "Mon 2027-05-10 00:00 CEST"}


def test_a_step_waiting_for_a_complete_checklist_is_skipped():
    """kundprocess-se's overdue card step does nothing once the customer card is ticked."""
    items = pipelines().pipelines["kundprocess-se"].checklists["customer_card"].items
    events = [{"at": "2027-03-02", "tick": item.id} for item in items]
    sim = plan("kundprocess-se", date(2027, 3, 1), events, until=date(2027, 3, 10))
    [overdue] = [f for f in sim.firings if f.key == "customer-card-overdue"]
    assert overdue.skipped
    assert overdue.changes.tasks_created == []
    assert overdue.changes.notes == ["skipped: customer card not complete after week 1: checklist complete"]


def test_recurring_steps_repeat_every_90_days_counted_from_the_last_one():
    """In partnership the contact reminder recurs until a contact is logged."""
    items = pipelines().pipelines["kundprocess-se"].checklists["customer_card"].items
    events = [
        *({"at": "2027-01-05", "tick": item.id} for item in items),
        {"at": "2027-01-05T10:00", "event": "start_delivery"},
    ]
    sim = plan("kundprocess-se", date(2027, 1, 4), events, until=date(2027, 12, 31))
    reminders = [f.local for f in sim.firings if f.key == "contact-reminder"]
    # Partnership begins 8 weeks after delivery starts (2 March 08:00), then every 90 days.
    assert reminders == ["Mon 2027-05-31 08:00 CEST", "Sun 2027-08-29 08:00 CEST", "Sat 2027-11-27 08:00 CET"]


def test_reaching_the_goal_closes_tasks_and_completes_so_later_actions_are_refused():
    """A booking completes assist-se at once; open tasks close with it; nothing happens after."""
    events = [
        {
            "at": "2027-05-06T11:00",
            "event": "meeting_booked",
            "payload": {"meeting_at": "2027-05-10T10:00+02:00"},
        },
        {"at": "2027-05-07", "event": "call_logged", "payload": {"outcome": "answered"}},
    ]
    sim = plan(events=events)
    assert (sim.ended, sim.status, sim.stage, sim.next_step) == ("goal", "completed", "closed", None)
    assert {t.resolution for t in sim.tasks} == {"closed_with_onboarding"}
    assert sim.mails[-1].template == "kickoff_booked"
    assert sim.script[1].refusal == "onboarding is Avslutad (closed): nothing more happens"
    assert sim.entries[-2].kind == "completed"


def test_a_parked_run_without_a_date_waits_for_staff():
    """Nothing is scheduled in manual follow-up without an until-date: the preview says so."""
    events = [{"at": "2027-05-05", "event": "park", "payload": {"reason": "Sjuk"}}]
    sim = plan(events=events)
    assert (sim.ended, sim.next_step, sim.stage) == ("waiting", None, "manual_follow_up")
    assert sim.until.local == "Thu 2027-08-26 09:00 CEST"  # 120 days after the start


def test_steps_keep_their_wall_clock_time_across_daylight_saving():
    """Onboarding entered the day before spring-forward: its day 3 call is still at 08:00."""
    sim = plan(start=date(2027, 3, 20), delivery_start="2027-03-26", until=date(2027, 4, 2))
    day3 = next(f for f in sim.firings if f.key == "day-3-call")
    assert (sim.stages[1].local, day3.local) == ("Sat 2027-03-27 08:00 CET", "Tue 2027-03-30 08:00 CEST")


# ---------------------------------------------------------------- moments


def test_a_date_means_09_00_local_a_naive_time_is_local_and_until_includes_its_day():
    """``from`` 2027-04-28 is 09:00 Stockholm; ``at`` without an offset is local; ``until`` a date
    runs to its end (the day's 08:00 step is in)."""
    events = [{"at": "2027-05-05T10:30", "event": "call_logged", "payload": {"outcome": "no_answer"}}]
    sim = plan(events=events, until=date(2027, 5, 7))
    assert sim.start.at == datetime(2027, 4, 28, 7, 0, tzinfo=UTC)
    assert sim.script[0].local == "Wed 2027-05-05 10:30 CEST"
    assert sim.until.local == "Sat 2027-05-08 00:00 CEST"
    assert sim.firings[-1].key == "day-3-call"  # Fri 7 May 08:00


def test_the_start_defaults_to_the_contracts_signed_at_and_actions_run_in_time_order():
    """Without ``from`` the contract's signing moment starts the run; a script out of order is
    played in time order, its outcomes listed in the script's order."""
    events = [
        {"at": "2027-05-06", "event": "call_logged", "payload": {"outcome": "answered"}},
        {"at": "2027-05-05", "event": "call_logged", "payload": {"outcome": "no_answer"}},
    ]
    sim = plan(start=None, events=events, until=date(2027, 5, 7), signed_at="2027-04-28T14:30:00+02:00")
    assert sim.start.local == "Wed 2027-04-28 14:30 CEST"
    assert [o.index for o in sim.script] == [0, 1]
    assert [t.title for t in sim.script[1].changes.tasks_closed] == ["Välkomstsamtal till huvudanvändaren"]
    assert sim.script[0].changes.tasks_closed == []


def test_the_plan_is_json_and_the_same_every_time():
    """The model round-trips through JSON (the API's answer), and a preview is deterministic."""
    first, second = plan(until=date(2027, 6, 1)), plan(until=date(2027, 6, 1))
    assert first == second
    assert Simulation.model_validate_json(first.model_dump_json()) == first


def test_a_preview_beyond_the_calendar_snapshot_warns_and_a_long_one_stops_at_the_step_limit(monkeypatch):
    """Holidays are known for 2020–2040 only; a runaway plan stops at the step limit."""
    monkeypatch.setattr(simulator_module, "MAX_FIRINGS", 1)
    sim = plan("pakkepilot-no", date(2040, 12, 20), until=date(2041, 1, 20), language="en")
    assert sim.ended == "limit"
    assert [f.key for f in sim.firings] == ["kickoff-chase"]
    assert sim.next_step is not None  # the deadline it did not fire
    assert any("2020–2040" in warning for warning in sim.warnings)
    assert any("stopped after 1 steps" in warning for warning in sim.warnings)


# ---------------------------------------------------------------- bad input


def test_an_unknown_pipeline_names_the_known_ones():
    """UnknownPipelineError lists the four pipelines."""
    with pytest.raises(UnknownPipelineError, match="assist-se, kundprocess-se, pakkepilot-no"):
        plan("nope")


def test_a_bad_contract_names_every_problem():
    """Unknown modules and dates, and fields the contract model refuses, all at once."""
    with pytest.raises(InvalidInputError) as excinfo:
        plan(modules=["crm"], dates={"renewal": "2028-01-01"}, licenses=0)
    found = problems(excinfo)
    assert found[("contract", "licenses")].startswith("Input should be greater than or equal to 1")
    with pytest.raises(InvalidInputError) as excinfo:
        plan(modules=["crm"], dates={"renewal": "2028-01-01"})
    assert problems(excinfo) == {
        ("contract", "modules"): "unknown module 'crm' (modules of assist-se: none)",
        ("contract", "dates"): "unknown date 'renewal' (dates assist-se uses: none)",
    }


def test_a_contract_without_signed_at_needs_a_start():
    """Neither ``from`` nor ``signed_at``: the preview cannot know when the contract arrives."""
    with pytest.raises(InvalidInputError) as excinfo:
        plan(start=None)
    assert problems(excinfo) == {("from",): "give the moment the contract arrives, or its signed_at"}


@pytest.mark.parametrize(
    ("action", "loc", "message"),
    [
        ({"at": "2027-05-05", "event": "booked"}, ("events", 0, "event"), "assist-se has no event 'booked'"),
        (
            {"at": "2027-05-05", "event": "park", "payload": {"until": "soon"}},
            ("events", 0, "payload", "reason"),
            "required",
        ),
        ({"at": "2027-05-05", "untick": "x"}, ("events", 0, "untick"), "assist-se has no checklist item 'x'"),
        (
            {"at": "2027-05-05", "tick": "x", "payload": {"a": 1}},
            ("events", 0),
            "only an event carries a payload",
        ),
        ({"at": "tomorrow", "event": "resume"}, ("events", 0, "at"), "must be a date like 2027-05-17"),
        (
            {"at": "2027-01-01", "event": "resume"},
            ("events", 0, "at"),
            "is before the preview's start (from)",
        ),
    ],
    ids=["unknown-event", "payload", "unknown-item", "payload-on-tick", "bad-moment", "before-start"],
)
def test_a_bad_action_is_refused_before_anything_runs(action, loc, message):
    """What the script gets wrong is named by its place in the script."""
    with pytest.raises(InvalidInputError) as excinfo:
        plan(events=[action])
    assert problems(excinfo)[loc].startswith(message)


def test_the_window_must_hold_the_script_and_be_a_few_years_at_most():
    """``until`` before an action, before ``from``, or more than five years on is refused."""
    with pytest.raises(InvalidInputError) as excinfo:
        plan(events=[{"at": "2027-06-01", "event": "resume"}], until=date(2027, 5, 1))
    assert problems(excinfo) == {("events", 0, "at"): "is after the preview's end (until)"}
    with pytest.raises(InvalidInputError) as excinfo:
        plan(until=date(2027, 4, 27))
    assert problems(excinfo) == {("until",): "must be after from"}
    with pytest.raises(InvalidInputError) as excinfo:
        plan(until=date(2033, 1, 1))
    assert problems(excinfo)[("until",)].startswith("a preview spans at most")


def test_the_timeline_is_well_formed_svg_with_a_band_per_stage_visit():
    """The board's picture: XML that parses, one band per visit (a stage keeps its colour), and
    a mark with its tooltip per mail and per refused action."""
    import xml.etree.ElementTree as ET

    from kickoff.simulate.timeline import timeline_svg

    events = [
        {"at": "2027-05-06", "event": "park", "payload": {"reason": "Semester", "until": "2027-05-10"}},
        {"at": "2027-05-07", "event": "park", "payload": {"reason": "Igen"}},
    ]
    svg = ET.fromstring(timeline_svg(plan(events=events, until=date(2027, 5, 12))))  # noqa: S314 - our own markup
    ns = {"svg": "http://www.w3.org/2000/svg"}
    bands = svg.findall(".//svg:g[@class='stage']", ns)
    assert [band.get("data-stage") for band in bands] == [
        "new",
        "onboarding",
        "manual_follow_up",
        "onboarding",
    ]
    colours = [band.find("svg:rect", ns).get("fill") for band in bands]  # type: ignore[union-attr]
    assert colours[1] == colours[3] != colours[2]
    [welcome] = svg.findall(".//svg:g[@class='mark mail']", ns)
    assert (
        welcome.findtext("svg:title", namespaces=ns)
        == "Tue 2027-05-04 08:00 CEST: mail welcome to main_user in sv"
    )
    [refused] = svg.findall(".//svg:g[@class='mark action refused']", ns)
    assert "park refused: park is not accepted in stage 'manual_follow_up'" in (
        refused.findtext("svg:title", namespaces=ns) or ""
    )
    assert svg.get("role") == "img"
