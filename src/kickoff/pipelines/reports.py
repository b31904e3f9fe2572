"""Placeholder: the reports a pipeline declares (issue 14 item 4)."""

from __future__ import annotations

from kickoff.pipelines.actions import StrictModel


class PipelineReports(StrictModel):
    """What a pipeline reports beyond the funnel and time in stage."""
