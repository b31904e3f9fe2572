"""The funnel (onboardings per stage) and time in stage (median, 90th percentile)."""

from __future__ import annotations

from pydantic import BaseModel

from kickoff.api.service import OnboardingService


class StageCount(BaseModel):
    stage: str
    label: str
    count: int


class FunnelReport(BaseModel):
    pipeline: str
    stages: list[StageCount]
    """In the pipeline's stage order."""
    total: int


class StageTime(BaseModel):
    stage: str
    label: str
    visits: int
    """Finished visits the figures are computed over."""
    median_hours: float | None
    p90_hours: float | None


class StageTimesReport(BaseModel):
    pipeline: str
    stages: list[StageTime]
    onboardings: int
    goal_stages: list[str]
    closed_within_30_days: float | None
    """Share (0..1) of onboardings that reached a goal stage within 30 days of their start."""


async def funnel(service: OnboardingService, pipeline: str) -> FunnelReport:
    raise NotImplementedError


async def stage_times(service: OnboardingService, pipeline: str) -> StageTimesReport:
    raise NotImplementedError
