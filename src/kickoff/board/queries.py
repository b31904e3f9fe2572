"""What the board reads from the service: the runs of a pipeline with their states, and the charts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from kickoff.board.views import Row
from kickoff.reports import compliance_report, funnel, records_report, stage_times
from kickoff.reports.charts import compliance_svg, funnel_svg, records_svg, stage_times_svg
from kickoff.service import OnboardingService, read_views

log = structlog.get_logger(__name__)

BOARD_LIMIT = 500
"""Cards per board (most recently moved first); more than this is a board nobody reads."""
ON_BOARD = ("running", "completed")
"""Run statuses that put an onboarding in a stage; terminated or failed runs are ops' business."""


@dataclass(frozen=True)
class BoardRuns:
    rows: list[Row]
    truncated: bool
    ended_by_ops: int
    """Runs that were terminated, failed or timed out: not shown (the Temporal UI has them)."""
    behind: int | None = 0
    """Runs whose latest state has not reached the read model (None: Temporal cannot say now)."""


async def board_runs(service: OnboardingService, pipeline: str) -> BoardRuns:
    """Every onboarding of ``pipeline`` from the read model (one indexed read, whatever the
    number of runs), and how many runs it may not reflect yet."""
    entries, counts = await read_views.board_entries(service, pipeline, BOARD_LIMIT + 1)
    rows = [Row(entry.id, entry.stage, entry.status, entry) for entry in entries[:BOARD_LIMIT]]
    ended = sum(n for status, n in counts.items() if status not in ON_BOARD)
    behind = await read_views.runs_behind(service)
    return BoardRuns(rows, len(entries) > BOARD_LIMIT, ended, behind)


@dataclass(frozen=True)
class Charts:
    funnel: str | None
    stage_times: str | None
    records: str | None = None
    """The pipeline's declared record measures (None when it declares none, or they failed)."""
    compliance: str | None = None


async def charts(service: OnboardingService, pipeline: str) -> Charts:
    """The report charts as SVG (the funnel, time in stage, and the measures the pipeline
    declares); None for one that cannot be computed now. A chart is an aid: whatever goes
    wrong in it must not take the board down, so every failure is caught here."""

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

    async def declared_chart(kind: str) -> str | None:
        """A chart of the measures the pipeline declares (``reports:``), if it declares any."""
        spec = service.catalog.get(pipeline)
        reports = spec.reports if spec is not None else None
        try:
            if kind == "records" and reports is not None and reports.records:
                return records_svg(await records_report(service, pipeline))
            if kind == "compliance" and reports is not None and reports.compliance:
                return compliance_svg(await compliance_report(service, pipeline))
        except Exception:
            log.exception("board.report_failed", report=kind, pipeline=pipeline)
        return None

    first, second, records, compliance = await asyncio.gather(
        funnel_chart(), stage_times_chart(), declared_chart("records"), declared_chart("compliance")
    )
    return Charts(first, second, records, compliance)
