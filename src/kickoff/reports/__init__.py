"""Reports computed from Temporal visibility and the runs' stage visits."""

from __future__ import annotations

from kickoff.reports.charts import funnel_svg, stage_times_svg
from kickoff.reports.compute import (
    FunnelReport,
    StageCount,
    StageTime,
    StageTimesReport,
    funnel,
    stage_times,
)

__all__ = [
    "FunnelReport",
    "StageCount",
    "StageTime",
    "StageTimesReport",
    "funnel",
    "funnel_svg",
    "stage_times",
    "stage_times_svg",
]
