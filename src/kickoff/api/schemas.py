"""Request and response bodies of the HTTP API (they appear in the OpenAPI schema)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kickoff.domain import (
    Customer,
    CycleSummary,
    EmailRecord,
    MainUser,
    RunStatus,
    TaskKind,
    TaskStatus,
    TimelineEntry,
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContractAccepted(BaseModel):
    id: str = Field(examples=["SE-C-1001"])
    pipeline: str
    stage: str
    url: str


class TaskPublic(BaseModel):
    id: str
    kind: TaskKind
    title: str
    owner_role: str | None
    due_at: datetime
    status: TaskStatus
    done_at: datetime | None = None


class OpenTask(TaskPublic):
    onboarding_id: str
    pipeline: str
    stage: str


class OnboardingPublic(BaseModel):
    id: str
    pipeline: str
    pipeline_version: str
    cycle: int
    stage: str
    stage_label: str
    stage_entered_at: datetime
    status: RunStatus
    next_step: str | None
    next_step_at: datetime | None
    customer: Customer
    main_user: MainUser
    delivery_start: date
    tasks: list[TaskPublic]
    emails: list[EmailRecord]
    timeline: list[TimelineEntry]
    previous_cycles: list[CycleSummary]


class OnboardingSummary(BaseModel):
    """One row of ``GET /onboardings``: what visibility knows, no personal data."""

    id: str
    pipeline: str | None
    pipeline_version: str | None
    stage: str | None
    status: str
    started_at: datetime | None
    run_id: str | None


class MeetingBooked(_In):
    meeting_at: AwareDatetime
    booked_by: str | None = Field(default=None, max_length=200)


class CallLogged(_In):
    outcome: Literal["answered", "no_answer"]
    note: str | None = Field(default=None, max_length=2000)


class Park(_In):
    reason: str = Field(min_length=1, max_length=500)
    until: date | None = None


class Restart(_In):
    reason: Literal["no_show", "rescheduled"]


class EventAccepted(BaseModel):
    id: str
    stage: str


class RestartAccepted(BaseModel):
    id: str
    cycle: int
    stage: str


class TaskDone(BaseModel):
    id: str
    onboarding_id: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    temporal: Literal["ok", "unreachable"]
    pipelines: dict[str, str]
