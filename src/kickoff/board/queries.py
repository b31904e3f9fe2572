"""What the board reads from the service: the runs of a pipeline with their states, and the charts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from kickoff.board.pages import SERVICE_ERRORS
from kickoff.board.views import Row
from kickoff.reports import funnel, stage_times
from kickoff.reports.charts import funnel_svg, stage_times_svg
from kickoff.service import OnboardingRow, OnboardingService

log = structlog.get_logger(__name__)

BOARD_LIMIT = 500
"""Runs per board (newest first); more than this is a board nobody reads."""
STATE_CONCURRENCY = 8
ON_BOARD = ("running", "completed")
"""Run statuses that put an onboarding in a stage; terminated or failed runs are ops' business."""


@dataclass(frozen=True)
class BoardRuns:
    rows: list[Row]
    truncated: bool
    ended_by_ops: int
    """Runs that were terminated, failed or timed out: not shown (the Temporal UI has them)."""


async def board_runs(service: OnboardingService, pipeline: str) -> BoardRuns:
    """Every onboarding of ``pipeline`` with its state; a run whose state cannot be read now
    (no worker answers) still gets a card from what visibility knows, saying why."""
    listed = await service.list_onboardings(pipeline, None, BOARD_LIMIT)
    shown = [row for row in listed if row.status in ON_BOARD]
    limit = asyncio.Semaphore(STATE_CONCURRENCY)

    async def read(row: OnboardingRow) -> Row:
        async with limit:
            try:
                state = await service.state(row.id)
            except SERVICE_ERRORS as err:
                return Row(row.id, row.stage, row.status, None, str(err))
        return Row(row.id, state.stage, state.status, state)

    rows = await asyncio.gather(*map(read, shown))
    return BoardRuns(list(rows), len(listed) >= BOARD_LIMIT, len(listed) - len(shown))


@dataclass(frozen=True)
class Charts:
    funnel: str | None
    stage_times: str | None


async def charts(service: OnboardingService, pipeline: str) -> Charts:
    """Both report charts as SVG; None for one that cannot be computed now. A chart is an aid:
    whatever goes wrong in it must not take the board down, so every failure is caught here."""

    async def funnel_chart() -> str | None:
        try:
            return funnel_svg(await funnel(service, pipeline))
        except Exception:
            log.exception("board.report_failed", report="funnel", pipeline=pipeline)
            return None

    async def stage_times_chart() -> str | None:
        try:
            return stage_times_svg(await stage_times(service, pipeline))
        except Exception:
            log.exception("board.report_failed", report="stage_times", pipeline=pipeline)
            return None

    first, second = await asyncio.gather(funnel_chart(), stage_times_chart())
    return Charts(first, second)
