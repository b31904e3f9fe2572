"""The board's pure parts: forms generated from event declarations, and states turned into views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kickoff.board.forms import event_forms, local_to_aware, read_payload
from kickoff.board.views import Row, columns, inbox_rows, onboarding_view
from kickoff.domain import OnboardingState, Task
from kickoff.readmodel.snapshot import OnboardingEntry, snapshot_of
from kickoff.service import OpenTaskRow
from tests.support import catalog, make_contract

PIPELINES = catalog().pipelines
ASSIST = PIPELINES["assist-se"]
# A fixed clock: these pure functions take "now" as an argument and never read the real one.
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _state(stage: str = "onboarding", **overrides: object) -> OnboardingState:
    values: dict[str, object] = {
        "id": "SE-C-1",
        "pipeline": "assist-se",
        "pipeline_version": "v",
        "stage": stage,
        "stage_label": ASSIST.stage(stage).label,
        "stage_entered_at": NOW - timedelta(days=3, hours=1),
        "contract": make_contract(contract_id="C-1"),
    }
    values.update(overrides)
    return OnboardingState.model_validate(values)


def _task(number: int, due: datetime, role: str = "staff", kind: str = "call") -> Task:
    return Task(
        id=f"SE-C-1.1.{number}",
        kind=kind,
        title=f"task {number}",
        owner_role=role,
        due_at=due,
        stage="onboarding",
        created_at=NOW - timedelta(days=1),
    )


@pytest.mark.parametrize(
    ("stage", "events"),
    [
        ("new", ["meeting_booked", "call_logged", "park"]),
        ("onboarding", ["meeting_booked", "call_logged", "park"]),
        ("manual_follow_up", ["meeting_booked", "call_logged", "resume"]),
        ("closed", []),
    ],
)
def test_event_forms_are_the_events_allowed_in_the_stage(stage: str, events: list[str]) -> None:
    """Each stage offers a form for exactly the events its pipeline accepts there."""
    assert [form.event for form in event_forms(ASSIST, stage)] == events


def test_event_form_fields_follow_the_payload_declaration() -> None:
    """Input types, required flags and choice labels come from the pipeline's declaration."""
    forms = {form.event: form for form in event_forms(ASSIST, "onboarding")}
    meeting = {f.name: f for f in forms["meeting_booked"].fields}
    assert meeting["p.meeting_at"].widget == "datetime-local"
    assert meeting["p.meeting_at"].required
    assert not meeting["p.booked_by"].required
    [outcome, note] = forms["call_logged"].fields
    assert outcome.widget == "select"
    assert [(c.value, c.label) for c in outcome.choices] == [
        ("answered", "Samtal genomfört"),
        ("no_answer", "Inget svar – försök till kontakt för onboarding"),
    ]
    assert note.widget == "textarea"
    assert {f.name: f.widget for f in forms["park"].fields} == {"p.reason": "textarea", "p.until": "date"}


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        pytest.param("2026-11-25T10:00", "2026-11-25T10:00:00+01:00", id="winter-cet"),
        pytest.param("2026-06-15T10:00", "2026-06-15T10:00:00+02:00", id="summer-cest"),
        pytest.param("2026-11-25T10:00+00:00", "2026-11-25T10:00:00+00:00", id="offset-kept"),
        pytest.param("tomorrow", "tomorrow", id="unparsable-passed-on"),
    ],
)
def test_datetime_local_is_read_in_the_pipeline_timezone(typed: str, sent: str) -> None:
    """A wall-clock datetime-local value becomes an aware time in the pipeline's zone, DST included."""
    assert local_to_aware(typed, "Europe/Stockholm") == sent


def test_read_payload_leaves_out_empty_fields_and_types_values() -> None:
    """Empty inputs are absent (as in the API), datetimes get the zone, other fields are posted through."""
    meeting = ASSIST.events["meeting_booked"]
    form = {"p.meeting_at": "2026-11-25T10:00", "p.booked_by": "  ", "csrf_token": "x"}
    assert read_payload(meeting, ASSIST, form) == {"meeting_at": "2026-11-25T10:00:00+01:00"}
    opportunity = next(e for p in PIPELINES.values() for e in p.events.values() if e.record)
    [number_field] = [name for name, f in opportunity.payload.items() if f.type == "number"]
    assert read_payload(opportunity, ASSIST, {f"p.{number_field}": "12 500"})[number_field] == "12 500"
    assert read_payload(opportunity, ASSIST, {f"p.{number_field}": "12500"})[number_field] == 12500
    assert read_payload(opportunity, ASSIST, {f"p.{number_field}": "nan"})[number_field] == "nan"


def test_columns_follow_the_stages_and_count_their_cards() -> None:
    """One column per stage in pipeline order; the owner filter keeps runs with open tasks for the role."""
    running = _state(tasks=[_task(1, NOW + timedelta(hours=5))])
    parked = _state("manual_follow_up", id="SE-C-2")
    rows = [Row(s.id, s.stage, "running", entry_of(s)) for s in (running, parked)]
    board = columns(rows, ASSIST, NOW, None)
    assert [c.stage for c in board] == ASSIST.stage_ids()
    counts = {c.stage: c.count for c in board}
    assert counts["onboarding"] == counts["manual_follow_up"] == 1
    [card] = next(c for c in board if c.stage == "onboarding").cards
    assert (card.customer, card.days_in_stage, card.open_tasks) == ("Åre Hälsa & Söner AB", 3, 1)
    filtered = {c.stage: c.count for c in columns(rows, ASSIST, NOW, "staff")}
    assert filtered["onboarding"] == 1
    assert filtered["manual_follow_up"] == 0


def test_a_run_in_a_stage_the_pipeline_no_longer_has_keeps_a_column() -> None:
    """A run on an older snapshot is shown in a column of its own rather than dropped."""
    old = _state().model_copy(update={"stage": "retired", "stage_label": "Retired stage"})
    board = columns([Row(old.id, "retired", "running", entry_of(old))], ASSIST, NOW, None)
    assert (board[-1].stage, board[-1].label, board[-1].count) == ("retired", "Retired stage", 1)


def test_an_unreadable_run_still_gets_a_card_saying_why() -> None:
    """No worker answering for one run must not hide it: its card names the problem."""
    board = columns([Row("SE-C-9", "onboarding", "running", None, "no worker answered")], ASSIST, NOW, None)
    [card] = next(c for c in board if c.stage == "onboarding").cards
    assert card.unavailable == "no worker answered"


def test_onboarding_view_offers_the_actions_of_its_stage() -> None:
    """Events of the stage, restart, and the amendment only while the run is in its first stage."""
    view = onboarding_view(_state("new"), ASSIST, NOW)
    assert view.can_amend
    assert [form.event for form in view.events] == ["meeting_booked", "call_logged", "park"]
    assert [reason for reason, _ in view.restart_reasons] == ["no_show", "rescheduled"]
    assert view.outcome_form is None
    assert not onboarding_view(_state(), ASSIST, NOW).can_amend


def test_a_run_awaiting_its_outcome_offers_the_outcome_form_only() -> None:
    """Booked and waiting in closed: no events, no plain restart, the outcome form with A-D segments."""
    view = onboarding_view(_state("closed", awaiting_outcome=True), ASSIST, NOW)
    assert view.events == []
    assert view.restart_reasons == []
    assert view.outcome_form is not None
    assert [segment for segment, _ in view.outcome_form.segments] == ["A", "B", "C", "D"]


def test_inbox_rows_mark_overdue_tasks_in_the_pipeline_timezone() -> None:
    """A task due before now is overdue; times are shown in the pipeline's timezone."""
    late, soon = _task(1, NOW - timedelta(hours=1)), _task(2, NOW + timedelta(hours=1))
    tasks = [
        OpenTaskRow(
            task=task, onboarding_id="SE-C-1", pipeline="assist-se", stage="onboarding", customer="Kund AB"
        )
        for task in (late, soon)
    ]
    rows = inbox_rows(tasks, PIPELINES, NOW)
    assert [(row.overdue, row.due) for row in rows] == [
        (True, "2026-11-22 12:00 CET"),
        (False, "2026-11-22 14:00 CET"),
    ]
    assert rows[0].stage_label == "Onboarding – Pågår"
    assert rows[0].customer == "Kund AB"


def entry_of(state: OnboardingState) -> OnboardingEntry:
    """The read-model entry the workflow would write for ``state``."""
    return snapshot_of(state, ASSIST, "run", 0).entry
