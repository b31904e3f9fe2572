"""The customer's plan: the stages their page shows, when each was or will be reached, and what
happens next. Pure: the onboarding's state, its pipeline snapshot and a clock in, rows out.

Dates ahead are the engine's own: each is the moment of the scheduled step that moves the run
into that stage (``kickoff.engine.plan.moment``, business days and holidays included), counted
as if the run entered each stage on the way at its planned moment. A stage reached only by an
event (a booking, a go-live) has no date until it happens. Moves to stages the plan leaves out
(a follow-up stage after 30 days without a booking) are the unhappy path and not projected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from kickoff.domain import OnboardingState
from kickoff.engine import plan as engine_plan
from kickoff.pipelines.customer import localized
from kickoff.pipelines.model import Pipeline, Step

PlanStatus = Literal["done", "now", "ahead"]


@dataclass(frozen=True)
class PlanRow:
    stage: str
    label: str
    status: PlanStatus
    at: datetime | None
    """When it was reached (done, now) or is planned to be (ahead); None: not known yet."""


@dataclass(frozen=True)
class NextStep:
    summary: str
    at: datetime


def stage_label(pipeline: Pipeline, stage: str, language: str) -> str:
    page = pipeline.customer_page
    own = page.stage_labels.get(stage) if page else None
    return localized(own, language, pipeline.default_language) or pipeline.stage(stage).label


def current_plan_stage(state: OnboardingState, shown: tuple[str, ...]) -> str:
    """Where the onboarding stands in the customer's plan: its stage, or the last shown stage it
    visited (a run in an internal follow-up stage is still "booking the kick-off")."""
    if state.stage in shown:
        return state.stage
    for visit in reversed(state.visits):
        if visit.stage in shown:
            return visit.stage
    return shown[0]


def _moves_to(step: Step) -> str | None:
    return next((action.move for action in step.do if action.move is not None), None)


def _planned_move(
    state: OnboardingState, pipeline: Pipeline, stage: str, entered: datetime, ahead: set[str], first: bool
) -> tuple[str, datetime] | None:
    """The earliest scheduled step of ``stage`` that moves on to a stage still ahead in the plan."""
    best: tuple[str, datetime] | None = None
    for step in pipeline.stage(stage).schedule:
        target = _moves_to(step)
        if target is None or target not in ahead or not engine_plan.for_modules(state, step.modules):
            continue
        if first and step.key in state.fired_steps:
            continue
        values = [
            entered if name == "entered" else state.anchors.get(name) for name in step.at.anchor_names()
        ]
        present = [value for value in values if value is not None]
        if not present:
            continue
        due = engine_plan.moment(pipeline, max(present), step.at)
        if best is None or due < best[1]:
            best = (target, due)
    return best


def customer_plan(state: OnboardingState, pipeline: Pipeline, language: str) -> list[PlanRow]:
    """Every stage the customer's plan shows, with its status and date."""
    page = pipeline.customer_page
    shown = page.plan if page else tuple(pipeline.stage_ids())
    current = current_plan_stage(state, shown)
    position = shown.index(current)
    finished = state.status != "running"
    rows: list[PlanRow] = []
    entered_at = {visit.stage: visit.entered_at for visit in state.visits}
    for stage in shown[:position]:
        rows.append(PlanRow(stage, stage_label(pipeline, stage, language), "done", entered_at.get(stage)))
    rows.append(
        PlanRow(
            current,
            stage_label(pipeline, current, language),
            "done" if finished else "now",
            entered_at.get(current, state.stage_entered_at),
        )
    )
    planned: dict[str, datetime] = {}
    if not finished:
        # Walk forwards as the engine would, one planned move at a time.
        anchors = dict(state.anchors)
        ahead = set(shown[position + 1 :])
        stage, entered, first = state.stage, state.stage_entered_at, True
        virtual = state.model_copy(update={"anchors": anchors})
        while ahead and (move := _planned_move(virtual, pipeline, stage, entered, ahead, first)):
            stage, entered, first = move[0], move[1], False
            planned[stage] = entered
            anchors[f"entered:{stage}"] = entered
            ahead = set(shown[shown.index(stage) + 1 :])
    for stage in shown[position + 1 :]:
        rows.append(PlanRow(stage, stage_label(pipeline, stage, language), "ahead", planned.get(stage)))
    return rows


def next_step(state: OnboardingState, pipeline: Pipeline, language: str) -> NextStep | None:
    """The next scheduled step the customer will notice: a move to a stage of their plan."""
    for row in customer_plan(state, pipeline, language):
        if row.status == "ahead" and row.at is not None:
            return NextStep(summary=row.label, at=row.at)
    return None
