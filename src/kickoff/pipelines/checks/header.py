"""The pipeline's header: its id, clock, calendar and languages, and where and how a run starts and ends."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kickoff.pipelines.checks.context import Context, Problems, stage_ref
from kickoff.pipelines.closed_days import public_holidays
from kickoff.pipelines.model import Calendar, Due, Moment, Pipeline


def check_header(ctx: Context) -> Problems:
    """The id matches its key, and the time zone, calendar and default language exist."""
    p = ctx.pipeline
    if p.id != ctx.pid:
        yield ctx.loc("id"), f"id {p.id!r} differs from its key {ctx.pid!r}"
    try:
        ZoneInfo(p.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield ctx.loc("timezone"), f"unknown time zone {p.timezone!r}"
    if p.calendar is not None:
        yield from _check_calendar(ctx, p.calendar)
    elif any(offset.unit == "business_days" for offset in _offsets(p)):
        yield ctx.loc("calendar"), "business_days offsets need a calendar (calendar: {country: SE})"
    if p.default_language not in p.languages:
        yield (
            ctx.loc("default_language"),
            f"{p.default_language!r} is not among languages {list(p.languages)}",
        )


def check_entry(ctx: Context) -> Problems:
    """A run starts and restarts in known, ungated stages, can reach a goal, and parks by a known event."""
    p = ctx.pipeline
    start, restart = ctx.loc("start_stage"), ctx.loc("restart", "stage")
    yield from stage_ref(ctx, start, p.start_stage, "start_stage")
    yield from stage_ref(ctx, restart, p.restart.stage, "restart.stage")
    if not any(stage.goal for stage in p.stages) and not any(event.goal for event in p.events.values()):
        yield ctx.loc("stages"), "no stage or event is a goal: a run could never complete"
    if p.park_event is not None and p.park_event not in p.events:
        yield (
            ctx.loc("park_event"),
            f"unknown event {p.park_event!r} (events: {', '.join(p.events) or 'none'})",
        )
    for loc, stage_id in ((start, p.start_stage), (restart, p.restart.stage)):
        if stage_id in ctx.known_stages and p.stage(stage_id).requires:
            yield (
                loc,
                f"a run starts in {stage_id!r} with nothing ticked, but the stage requires its "
                "checklist: start in an earlier stage",
            )


def _check_calendar(ctx: Context, calendar: Calendar) -> Problems:
    """The ``holidays`` package knows the country (and subdivision), and its categories."""
    try:
        public_holidays(calendar.country, calendar.subdivision, ("public",))
    except (NotImplementedError, ValueError):
        yield (
            ctx.loc("calendar", "country"),
            f"no public-holiday calendar for country {calendar.country!r}"
            + (f" and subdivision {calendar.subdivision!r}" if calendar.subdivision else ""),
        )
        return
    try:
        public_holidays(calendar.country, calendar.subdivision, calendar.categories)
    except (NotImplementedError, ValueError) as exc:
        yield ctx.loc("calendar", "categories"), f"holiday categories not available: {exc}"


def _offsets(p: Pipeline) -> Iterator[Moment | Due]:
    """Every day offset in the pipeline: step moments and task due dates."""
    steps = [*(step for stage in p.stages for step in stage.schedule), *p.deadlines]
    yield from (step.at for step in steps)
    actions = [
        *(action for stage in p.stages for action in stage.on_enter),
        *(action for step in steps for action in step.do),
        *(action for event in p.events.values() for action in event.do),
    ]
    yield from (action.task.due for action in actions if action.task)
    if p.kickoff_outcome is not None:
        yield p.kickoff_outcome.task.due
