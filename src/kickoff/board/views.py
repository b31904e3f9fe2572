"""Run states turned into what the board's pages show: cards, columns, an onboarding, task rows.

Pure functions of states, pipelines and ``now``: no Temporal, no HTTP, so they are tested
directly. Times are shown in the pipeline's timezone, where its staff and schedule live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from kickoff.board.forms import EventForm, event_forms
from kickoff.db.privacy import ERASED
from kickoff.domain import CUSTOMER, KickoffOutcome, OnboardingState, Task, TimelineEntry
from kickoff.identity.audit import AuditEntry
from kickoff.pipelines.model import Pipeline
from kickoff.readmodel.snapshot import OnboardingEntry
from kickoff.schedule import format_local, zone
from kickoff.service import OpenTaskRow

OUTCOME_LABELS = {"completed": "Completed", "no_show": "No-show", "rescheduled": "Rescheduled"}
RESTART_LABELS = {"no_show": "No-show", "rescheduled": "Rescheduled"}


def local(moment: datetime | None, timezone: str) -> str:
    return format_local(moment, timezone) if moment is not None else ""


def days_between(start: datetime, now: datetime) -> int:
    return max(0, (now - start).days)


# ---------------------------------------------------------------- the board


@dataclass(frozen=True)
class Card:
    id: str
    customer: str
    stage: str
    days_in_stage: int | None
    next_step: str | None
    next_step_at: str
    open_tasks: int
    status: str
    outcome: str | None = None
    awaiting_outcome: bool = False
    unavailable: str | None = None
    """Why the run's state could not be read (the card then shows what visibility knows)."""
    erased: bool = False
    """Its personal data was erased: the customer's name is gone."""


@dataclass
class Column:
    stage: str
    label: str
    cards: list[Card] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.cards)


@dataclass(frozen=True)
class Row:
    """One onboarding as the board found it: its read-model entry, or why there is none."""

    id: str
    stage: str | None
    status: str
    entry: OnboardingEntry | None
    problem: str | None = None


def card(row: Row, pipeline: Pipeline, now: datetime, owner_role: str | None) -> Card | None:
    """The card for ``row``; None when the owner filter leaves nothing of it."""
    entry = row.entry
    if entry is None:
        if owner_role is not None:
            return None  # its tasks are unknown, so it cannot be shown as having any for the role
        return Card(
            id=row.id,
            customer=row.id,
            stage=row.stage or "",
            days_in_stage=None,
            next_step=None,
            next_step_at="",
            open_tasks=0,
            status=row.status,
            unavailable=row.problem,
        )
    roles = [role for role in entry.open_task_roles if owner_role is None or role == owner_role]
    if owner_role is not None and not roles:
        return None
    running = entry.status == "running"
    return Card(
        id=entry.id,
        customer=entry.customer,
        stage=entry.stage,
        days_in_stage=days_between(entry.stage_entered_at, now),
        next_step=entry.next_step if running else None,
        next_step_at=local(entry.next_step_at, pipeline.timezone) if running else "",
        open_tasks=len(roles),
        status=entry.status,
        outcome=outcome_words(entry.outcome, entry.segment, pipeline) if entry.outcome else None,
        awaiting_outcome=entry.awaiting_outcome,
        erased=entry.customer == ERASED,
    )


def columns(rows: Sequence[Row], pipeline: Pipeline, now: datetime, owner_role: str | None) -> list[Column]:
    """One column per stage in the pipeline's order; runs in a stage the current pipeline no
    longer has (an older snapshot) get a column of their own at the end rather than vanish."""
    by_stage = {stage.id: Column(stage.id, stage.label) for stage in pipeline.stages}
    for row in rows:
        shown = card(row, pipeline, now, owner_role)
        if shown is None:
            continue
        column = by_stage.get(shown.stage)
        if column is None:
            label = row.entry.stage_label if row.entry else (shown.stage or "unknown stage")
            column = by_stage.setdefault(shown.stage, Column(shown.stage, label))
        column.cards.append(shown)
    for column in by_stage.values():
        # Longest in its stage first: those are the ones to look at.
        column.cards.sort(key=lambda c: (c.days_in_stage is None, -(c.days_in_stage or 0), c.id))
    return list(by_stage.values())


def role_choices(pipelines: Sequence[Pipeline]) -> list[tuple[str, str]]:
    """Owner roles across ``pipelines``: ``(id, label)``, the first pipeline's label winning."""
    seen: dict[str, str] = {}
    for pipeline in pipelines:
        for role, label in pipeline.roles.items():
            seen.setdefault(role, label)
    return sorted(seen.items(), key=lambda item: item[1].lower())


# ---------------------------------------------------------------- one onboarding


@dataclass(frozen=True)
class TaskRow:
    id: str
    title: str
    kind: str
    owner: str
    owner_role: str | None
    due: str
    overdue: bool
    done: str
    """When it was done ("" while open)."""
    by_outcome: bool
    """Closed only by recording the kick-off outcome, not by "mark done"."""
    onboarding_id: str = ""
    stage_label: str = ""
    customer: str = ""
    assignee: str | None = None
    """The account id of the person it is assigned to."""
    by_customer: bool = False
    """Done by the customer on their page."""


@dataclass(frozen=True)
class ChecklistRow:
    id: str
    label: str
    owner: str
    ticked: bool
    ticked_at: str
    ticked_by: str | None


@dataclass(frozen=True)
class ChecklistGroup:
    id: str
    label: str
    items: list[ChecklistRow]

    @property
    def open_items(self) -> int:
        return sum(1 for item in self.items if not item.ticked)


@dataclass(frozen=True)
class TimelineRow:
    at: str
    event: str
    detail: str
    by: str = ""


@dataclass(frozen=True)
class RecordTable:
    name: str
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class OutcomeForm:
    segments: list[tuple[str, str]]
    restart_reasons: list[tuple[str, str]]


@dataclass(frozen=True)
class OnboardingView:
    state: OnboardingState
    pipeline: Pipeline
    stage_label: str
    days_in_stage: int
    next_step: str | None
    next_step_at: str
    entered_at: str
    open_tasks: list[TaskRow]
    done_tasks: list[TaskRow]
    checklists: list[ChecklistGroup]
    timeline: list[TimelineRow]
    emails: list[dict[str, str]]
    records: list[RecordTable]
    outcome: str | None
    outcome_detail: dict[str, str]
    events: list[EventForm]
    restart_reasons: list[tuple[str, str]]
    outcome_form: OutcomeForm | None
    can_amend: bool
    previous_cycles: list[dict[str, str]]


def outcome_text(outcome: KickoffOutcome, pipeline: Pipeline) -> str:
    return outcome_words(outcome.outcome, outcome.segment, pipeline)


def outcome_words(outcome: str, segment: str | None, pipeline: Pipeline) -> str:
    text = OUTCOME_LABELS.get(outcome, outcome)
    if segment:
        spec = pipeline.kickoff_outcome
        text += f" · {spec.segments.get(segment, segment) if spec else segment}"
    return text


def task_row(task: Task, pipeline: Pipeline | None, now: datetime, onboarding_id: str = "") -> TaskRow:
    """A task as a row; without its pipeline (removed from pipelines.yaml) times are shown in UTC."""
    spec = pipeline.kickoff_outcome if pipeline else None
    tz = pipeline.timezone if pipeline else "UTC"
    return TaskRow(
        id=task.id,
        title=task.title,
        kind=task.kind,
        owner=task.owner,
        owner_role=task.owner_role,
        due=local(task.due_at, tz),
        overdue=task.status == "open" and task.due_at < now,
        done=local(task.done_at, tz),
        by_outcome=spec is not None and task.kind == spec.task.kind and task.blocks_completion,
        onboarding_id=onboarding_id,
        by_customer=task.resolution == "done_by_customer",
    )


def accepts_events(state: OnboardingState, pipeline: Pipeline) -> bool:
    """Whether staff events still apply: the run is running and has not reached its goal."""
    if state.status != "running" or state.goal_event is not None:
        return False
    return state.stage in pipeline.stage_ids() and not pipeline.stage(state.stage).goal


def onboarding_view(
    state: OnboardingState,
    pipeline: Pipeline,
    now: datetime,
    refill: tuple[str, Mapping[str, str]] | None = None,
    customer_actions: Sequence[AuditEntry] = (),
) -> OnboardingView:
    """Everything the onboarding page shows; ``refill`` puts a refused event form's input back;
    ``customer_actions`` (the audit log's entries of the onboarding) join the timeline."""
    tz = pipeline.timezone
    tasks = sorted(state.tasks, key=lambda t: (t.due_at, t.id))
    groups = []
    for checklist_id, checklist in pipeline.checklists.items():
        items = [
            ChecklistRow(
                id=item.id,
                label=item.label,
                owner=item.owner,
                ticked=item.ticked_at is not None,
                ticked_at=local(item.ticked_at, tz),
                ticked_by=item.ticked_by,
            )
            for item in state.checklist
            if item.checklist == checklist_id
        ]
        if items:
            groups.append(ChecklistGroup(checklist_id, checklist.label, items))
    running = state.status == "running"
    restartable = bool(pipeline.restart.reasons) and not state.awaiting_outcome
    spec = pipeline.kickoff_outcome
    outcome_form = None
    if spec is not None and state.awaiting_outcome and state.kickoff_outcome is None:
        outcome_form = OutcomeForm(
            segments=list(spec.segments.items()),
            restart_reasons=[(r, RESTART_LABELS.get(r, r)) for r in pipeline.restart.reasons],
        )
    outcome = state.kickoff_outcome
    return OnboardingView(
        state=state,
        pipeline=pipeline,
        stage_label=state.stage_label,
        days_in_stage=days_between(state.stage_entered_at, now),
        next_step=state.next_step if running else None,
        next_step_at=local(state.next_step_at, tz) if running else "",
        entered_at=local(state.stage_entered_at, tz),
        open_tasks=[task_row(t, pipeline, now) for t in tasks if t.status == "open"],
        done_tasks=[task_row(t, pipeline, now) for t in tasks if t.status != "open"],
        checklists=groups,
        timeline=[
            timeline_row(entry, pipeline)
            for entry in reversed(with_customer_actions(state, pipeline, customer_actions))
        ],
        emails=[
            {"template": m.template, "to": m.to, "sent_at": local(m.sent_at, tz), "language": m.language}
            for m in state.emails
        ],
        records=[record_table(name, rows) for name, rows in state.records.items()],
        outcome=outcome_text(outcome, pipeline) if outcome else None,
        outcome_detail=outcome_detail(outcome, tz) if outcome else {},
        events=event_forms(pipeline, state.stage, refill) if accepts_events(state, pipeline) else [],
        restart_reasons=[(r, RESTART_LABELS.get(r, r)) for r in pipeline.restart.reasons]
        if restartable
        else [],
        outcome_form=outcome_form,
        can_amend=running and state.cycle == 1 and state.stage == pipeline.start_stage,
        previous_cycles=[
            {
                "cycle": str(c.cycle),
                "final_stage": c.final_stage,
                "ended_at": local(c.ended_at, tz),
                "reason": RESTART_LABELS.get(c.restart_reason, c.restart_reason),
            }
            for c in state.previous_cycles
        ],
    )


def outcome_detail(outcome: KickoffOutcome, timezone: str) -> dict[str, str]:
    detail = {"Recorded": local(outcome.recorded_at, timezone)}
    if outcome.owner:
        detail["Responsible advisor"] = outcome.owner
    if outcome.recorded_by:
        detail["Recorded by"] = outcome.recorded_by
    return detail


def timeline_row(entry: TimelineEntry, pipeline: Pipeline) -> TimelineRow:
    event = pipeline.events.get(entry.event)
    if event is not None:
        title = event.label
    elif entry.by == CUSTOMER and entry.event in CUSTOMER_ACTIONS:
        title = CUSTOMER_ACTIONS[entry.event]
    else:
        title = entry.event.replace("_", " ")
    return TimelineRow(
        at=local(entry.at, pipeline.timezone), event=title, detail=entry.detail, by=entry.by or ""
    )


CUSTOMER_ACTIONS = {
    "customer_viewed": "customer page opened",
    "customer_item_done": "marked done on the customer page",
    "customer_booked": "kick-off booked on the customer page",
    "customer_rescheduled": "kick-off moved on the customer page",
    "customer_cancelled": "kick-off cancelled on the customer page",
}
"""The customer's actions the audit log records (``kickoff.customer``), as the timeline names them."""


def with_customer_actions(
    state: OnboardingState, pipeline: Pipeline, actions: Sequence[AuditEntry]
) -> list[TimelineEntry]:
    """The run's timeline with what the customer did on their page merged in, oldest first.

    Opening the page shows once per local day (the first time, with how often that day): a
    customer who reloads it should not bury the rest of the timeline."""
    tz = pipeline.timezone
    views: dict[date, list[AuditEntry]] = {}
    added: list[TimelineEntry] = []
    for action in sorted(actions, key=lambda a: (a.at, a.id)):
        if action.actor != CUSTOMER or action.action not in CUSTOMER_ACTIONS:
            continue
        if action.action == "customer_viewed":
            views.setdefault(action.at.astimezone(zone(tz)).date(), []).append(action)
            continue
        added.append(_customer_entry(action, state, pipeline))
    for seen in views.values():
        detail = f"{len(seen)} times that day" if len(seen) > 1 else ""
        added.append(TimelineEntry(at=seen[0].at, event="customer_viewed", detail=detail, by=CUSTOMER))
    # Stable: entries of the run at the same moment keep their order, the customer's follow.
    return sorted([*state.timeline, *added], key=lambda entry: entry.at)


def _customer_entry(action: AuditEntry, state: OnboardingState, pipeline: Pipeline) -> TimelineEntry:
    detail = ""
    if action.action == "customer_item_done":
        item = str(action.detail.get("item", ""))
        task = state.task(item)
        ticked = next((i for i in state.checklist if i.id == item), None)
        detail = task.title if task is not None else ticked.label if ticked is not None else item
    elif action.action in ("customer_booked", "customer_rescheduled"):
        start = action.detail.get("start")
        try:
            detail = local(datetime.fromisoformat(str(start)), pipeline.timezone) if start else ""
        except ValueError:
            detail = ""
    return TimelineEntry(at=action.at, event=action.action, detail=detail, by=CUSTOMER)


def record_table(name: str, rows: Sequence[Mapping[str, Any]]) -> RecordTable:
    names: list[str] = []
    for row in rows:
        names.extend(key for key in row if key not in names)
    return RecordTable(
        name=name.replace("_", " "),
        columns=names,
        rows=[["" if row.get(key) is None else str(row.get(key)) for key in names] for row in rows],
    )


# ---------------------------------------------------------------- task inbox


def inbox_rows(
    tasks: Sequence[OpenTaskRow], pipelines: Mapping[str, Pipeline], now: datetime
) -> list[TaskRow]:
    """The service's open tasks (soonest due first) as rows, in each pipeline's timezone."""
    rows = []
    for open_task in tasks:
        pipeline = pipelines.get(open_task.pipeline)
        stage = open_task.stage
        label = pipeline.stage(stage).label if pipeline and stage in pipeline.stage_ids() else stage
        row = task_row(open_task.task, pipeline, now, onboarding_id=open_task.onboarding_id)
        rows.append(replace(row, stage_label=label, customer=open_task.customer, assignee=open_task.assignee))
    return rows
