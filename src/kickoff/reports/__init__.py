"""Reports computed from Temporal visibility and the runs' stage visits."""

from __future__ import annotations

from kickoff.reports.compute import (
    FunnelReport,
    StageCount,
    StageTime,
    StageTimesReport,
    funnel,
    stage_times,
)

__all__ = ["FunnelReport", "StageCount", "StageTime", "StageTimesReport", "funnel", "stage_times"]
