"""Server-rendered SVG charts of the reports (no chart library, no script)."""

from __future__ import annotations

from kickoff.reports.compute import FunnelReport, StageTimesReport


def funnel_svg(report: FunnelReport) -> str:
    raise NotImplementedError


def stage_times_svg(report: StageTimesReport) -> str:
    raise NotImplementedError
