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
from kickoff.reports.measures import (
    ComplianceFigures,
    ComplianceReport,
    RecordFigures,
    RecordGroup,
    RecordsReport,
    compliance_report,
    records_report,
)

__all__ = [
    "ComplianceFigures",
    "ComplianceReport",
    "FunnelReport",
    "RecordFigures",
    "RecordGroup",
    "RecordsReport",
    "StageCount",
    "StageTime",
    "StageTimesReport",
    "compliance_report",
    "funnel",
    "funnel_svg",
    "records_report",
    "stage_times",
    "stage_times_svg",
]
