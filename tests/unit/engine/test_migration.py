"""What moving a running onboarding to a newer pipeline would change, on the real pipelines and a
plain clock: templates, moved and added steps, refusals, and that nothing is done twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from kickoff.domain import OnboardingState
from kickoff.engine import NotNow, Run
from kickoff.engine import migration as mg
from kickoff.engine.drive import advance
from tests.migration_support import FIXED, TYPO, Snapshot, current, typo, variant
from tests.unit.engine.support import STOCKHOLM, event, local, start

SIGNED = local(STOCKHOLM, date(2031, 5, 5), 10)  # a Monday; the delivery start two days before
DAY0 = SIGNED.date()
EARLY_REMINDER = """\
          - key: day-5-reminder
            at: {anchor: entered:onboarding, days: 5, time: "08:00"}
            summary: day 5 booking reminder mail
            do:
              - mail: {template: booking_reminder, to: main_user}
                summary: early booking reminder
"""


def _variant(*edits: tuple[str, str]) -> Snapshot:
    return variant("assist-se", *edits)


def run_on(snapshot: Snapshot, until: datetime) -> Run:
    """An assist-se run started on ``snapshot``, driven (mail delivered) until ``until``."""
    run = start("assist-se", SIGNED, DAY0 - timedelta(days=2))
    run.pipeline, run.state.pipeline_version = snapshot
    advance(run, until)
    return run


def at_eight(days: int) -> datetime:
    return local(STOCKHOLM, DAY0 + timedelta(days=days), 8)


def mails(run: Run, template: str) -> list[datetime]:
    return [mail.sent_at for mail in run.state.emails if mail.template == template]


def adopt(run: Run, snapshot: Snapshot, now: datetime, by: str = "ada@assist.example") -> None:
    mg.check(run, *snapshot, now)
    mg.apply(run, *snapshot, now, by=by)


def impact_of(run: Run, snapshot: Snapshot, now: datetime) -> mg.Impact:
    return mg.impact(run.state, run.pipeline, *snapshot, now)


def test_a_fixed_reminder_template_changes_the_template_and_repeats_nothing() -> None:
    """A run waiting in onboarding on the typo'd reminder may adopt the fix: only the template
    differs, the next reminder goes out with the fixed text once, nothing done is done again."""
    now = at_eight(5) + timedelta(hours=1)
    run = run_on(typo(), now)
    found = impact_of(run, current(), now)
    assert found.can_adopt
    assert found.refusals == []
    assert [(t.template, t.change, t.languages) for t in found.templates] == [
        ("booking_reminder", "changed", ["sv"])
    ]
    assert (found.steps, found.stages, found.events, found.other) == ([], [], [], [])
    assert (found.from_version, found.to_version) == (typo()[1], current()[1])

    tasks_before = [task.title for task in run.state.tasks]
    adopt(run, current(), now)
    sent = advance(run, at_eight(11))
    assert [(m.name, m.work.at) for m in sent] == [("booking_reminder", at_eight(10))]
    assert FIXED in sent[0].input.body_template
    assert TYPO not in sent[0].input.body_template
    assert mails(run, "welcome") == [SIGNED]  # not again
    assert [t.title for t in run.state.tasks][: len(tasks_before)] == tasks_before
    assert len(run.state.tasks) == len(tasks_before) + 1  # the day-7 call, nothing repeated


def test_apply_swaps_the_snapshot_and_says_so_on_the_timeline() -> None:
    """The run follows the new snapshot and version; its timeline says from and to which version, and who."""
    now = at_eight(5)
    run = run_on(typo(), now)
    adopt(run, current(), now)
    assert run.pipeline == current()[0]
    assert run.state.pipeline_version == current()[1]
    [entry] = [e for e in run.state.timeline if e.event == mg.MIGRATED]
    assert (entry.at, entry.by) == (now, "ada@assist.example")
    assert f"{typo()[1]} -> {current()[1]}" in entry.detail


def test_a_run_whose_stage_the_new_version_removes_is_refused() -> None:
    """A parked run cannot adopt a version without its stage: it would have nowhere to be."""
    renamed = _variant(*((f"{old}manual_follow_up", f"{old}paused") for old in ("id: ", "to: ", "[")))
    run = run_on(current(), at_eight(2))
    event(run, "park", at_eight(2) + timedelta(hours=1), reason="Semester", until=None)
    found = impact_of(run, renamed, at_eight(3))
    assert not found.can_adopt
    [reason] = found.refusals
    assert "'manual_follow_up'" in reason
    assert "not in version" in reason
    assert {(s.stage, s.change, s.current) for s in found.stages} >= {
        ("manual_follow_up", "removed", True),
        ("paused", "added", False),
    }
    with pytest.raises(NotNow, match="manual_follow_up"):
        mg.check(run, *renamed, at_eight(3))


def test_a_moved_step_shows_its_old_and_new_moment() -> None:
    """The second reminder moved from day 20 to day 15: its old and new moment, not at once."""
    moved = _variant(("days: 20, time", "days: 15, time"))
    run = run_on(current(), at_eight(12))
    found = impact_of(run, moved, at_eight(12))
    assert found.can_adopt
    [step] = found.steps
    assert (step.key, step.change, step.old_at, step.new_at, step.at_once) == (
        "day-20-reminder",
        "moved",
        at_eight(20),
        at_eight(15),
        False,
    )
    assert [(s.stage, s.what) for s in found.stages] == [("onboarding", ["schedule"])]


def test_a_step_moved_into_the_past_is_performed_at_once() -> None:
    """A step moved to a moment that has passed (and not performed) happens as the run adopts."""
    moved = _variant(("days: 7, time", "days: 4, time"))
    run = run_on(current(), at_eight(5))
    [step] = impact_of(run, moved, at_eight(5)).steps
    assert (step.key, step.old_at, step.new_at, step.at_once) == (
        "day-7-call",
        at_eight(7),
        at_eight(4),
        True,
    )
    adopt(run, moved, at_eight(5))
    advance(run, at_eight(5))
    assert [t.title for t in run.state.tasks if t.title.endswith("(dag 7)")] == [
        "Ring kunden: inget uppstartsmöte bokat (dag 7)"
    ]


def test_a_step_already_performed_is_not_repeated_after_migrating() -> None:
    """The day-10 reminder went out; a version that moves it to day 12 does not send it again."""
    moved = _variant(("days: 10, time", "days: 12, time"))
    run = run_on(current(), at_eight(11))
    assert mails(run, "booking_reminder") == [at_eight(10)]
    found = impact_of(run, moved, at_eight(11))
    assert found.can_adopt
    assert found.steps == []  # performed in this visit: owed by neither version
    adopt(run, moved, at_eight(11))
    advance(run, at_eight(19))
    assert mails(run, "booking_reminder") == [at_eight(10)]
    advance(run, at_eight(21))
    assert mails(run, "booking_reminder") == [at_eight(10), at_eight(20)]


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        pytest.param(
            (("key: day-10-reminder", "key: day-10-booking-reminder"),),
            "does what 'day 10 booking reminder mail' (day-10-reminder) did already",
            id="renamed-reminder",
        ),
        pytest.param(
            (("          - key: day-7-call", EARLY_REMINDER + "          - key: day-7-call"),),
            "would send the booking_reminder mail again at once",
            id="added-early-reminder",
        ),
        pytest.param(
            (("key: day-3-call", "key: day-3-first-call"),),
            "does what 'day 3 call task' (day-3-call) did already",
            id="renamed-call",
        ),
    ],
)
def test_a_step_that_would_do_again_what_was_done_is_refused(
    edits: tuple[tuple[str, str], ...], expected: str
) -> None:
    """A step renamed in the new version whose moment has passed, or an added one mailing a template
    sent already in this stage, would do again at once what was done: refused."""
    renamed = _variant(*edits)
    run = run_on(current(), at_eight(11))
    found = impact_of(run, renamed, at_eight(11))
    assert not found.can_adopt
    assert any(expected in reason for reason in found.refusals), found.refusals
    assert ("added", True) in {(s.change, s.at_once) for s in found.steps}


def test_a_new_reminder_later_on_is_an_added_step_the_run_may_adopt() -> None:
    """A third reminder added for day 25 is listed with its moment; it repeats nothing."""
    added = _variant(
        (
            "          - key: day-30-follow-up",
            "          - key: day-25-reminder\n"
            '            at: {anchor: entered:onboarding, days: 25, time: "08:00"}\n'
            "            summary: day 25 booking reminder mail\n"
            "            do:\n"
            "              - mail: {template: booking_reminder, to: main_user}\n"
            "          - key: day-30-follow-up",
        )
    )
    run = run_on(current(), at_eight(12))
    found = impact_of(run, added, at_eight(12))
    assert found.can_adopt
    assert [(s.key, s.change, s.old_at, s.new_at, s.at_once) for s in found.steps] == [
        ("day-25-reminder", "added", None, at_eight(25), False)
    ]


def _state(run: Run, **changes: object) -> OnboardingState:
    return run.state.model_copy(update=changes)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda run: _state(run, status="completed"), "nothing more happens", id="completed"),
        pytest.param(lambda run: _state(run, pipeline_version=current()[1]), "already", id="same-version"),
        pytest.param(lambda run: _state(run, pipeline="pakkepilot-no"), "runs pipeline", id="other-pipeline"),
    ],
)
def test_runs_that_have_nothing_to_adopt_are_refused(
    change: Callable[[Run], OnboardingState], expected: str
) -> None:
    """A completed run, one on the new version already, or one of another pipeline: refused, saying why."""
    run = run_on(typo(), at_eight(5))
    reasons = mg.refusals(change(run), run.pipeline, *current(), at_eight(5))
    [reason] = reasons
    assert expected in reason


def test_a_queued_mail_whose_template_is_gone_keeps_the_run_from_adopting() -> None:
    """Mail still waiting to go out is described with the new snapshot: its template must be there."""
    run = start("assist-se", SIGNED, DAY0 - timedelta(days=2))
    step, due = run.next_step()
    assert step is not None
    assert due is not None
    run.fire(step, due, SIGNED)  # into onboarding: the welcome mail waits in the queue
    assert [w.action.mail.template for w in run.queue if w.action.mail] == ["welcome"]
    renamed = _variant(
        ("      welcome:\n        sv:", "      welcome_mail:\n        sv:"),
        ("{template: welcome,", "{template: welcome_mail,"),
    )
    with pytest.raises(NotNow, match="queued welcome mail"):
        mg.check(run, *renamed, SIGNED)
