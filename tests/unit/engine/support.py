"""Runs of the real pipelines on a plain clock: no Temporal, no SMTP, microseconds per step."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from kickoff.domain import EventInput, OnboardingInput, TickInput
from kickoff.engine import Run
from kickoff.engine.drive import advance, flush_mail
from kickoff.pipelines import PipelineCatalog
from tests.support import catalog, make_contract, onboarding_input

STOCKHOLM = ZoneInfo("Europe/Stockholm")
OSLO = ZoneInfo("Europe/Oslo")


@cache
def pipelines() -> PipelineCatalog:
    return catalog()


def local(tz: ZoneInfo, day: date, hour: int, minute: int = 0) -> datetime:
    """``day`` at ``hour``:``minute`` wall-clock time in ``tz``, as aware UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)


def input_for(pipeline: str, signed: datetime, delivery: date, **contract: Any) -> OnboardingInput:
    return onboarding_input(
        make_contract(
            pipeline=pipeline, signed_at=signed.isoformat(), delivery_start=delivery.isoformat(), **contract
        ),
        pipelines(),
    )


def start(
    pipeline: str,
    signed: datetime,
    delivery: date | None = None,
    *,
    state_first: bool = True,
    **contract: Any,
) -> Run:
    """A run started at ``signed`` (the contract's signing moment), its entry work not yet flushed."""
    inp = input_for(pipeline, signed, delivery or signed.date(), **contract)
    return Run.start(inp, signed, state_first=state_first)


def event(run: Run, name: str, now: datetime, **payload: Any) -> str:
    """Apply an event as the workflow does after its validator accepted it."""
    from kickoff.engine import rules

    spec = EventInput(name=name, payload=payload)
    rules.check_event(run.state, run.pipeline, spec, now, run.restart is not None)
    return run.apply_event(spec, now)


def tick_all(run: Run, checklist: str, now: datetime) -> None:
    for item in run.pipeline.checklists[checklist].items:
        run.tick(TickInput(item=item.id), now)


def titles(run: Run) -> list[str]:
    return [task.title for task in run.state.tasks]


def entries(run: Run, kind: str = "stage_entered") -> list[tuple[datetime, str]]:
    return [(entry.at, entry.detail) for entry in run.state.timeline if entry.event == kind]


__all__ = ["advance", "flush_mail", "timedelta"]
