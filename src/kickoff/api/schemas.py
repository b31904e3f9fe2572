"""Request and response bodies of the HTTP API (they appear in the OpenAPI schema)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from kickoff.db.outcomes import RecordedOutcome
from kickoff.domain import (
    ArchivedHistory,
    ChecklistItemState,
    Contract,
    Customer,
    CycleSummary,
    EmailRecord,
    KickoffOutcome,
    KickoffOutcomeKind,
    MainUser,
    PlausibleDate,
    PlausibleMoment,
    RunStatus,
    StageVisit,
    Task,
    TaskKind,
    TaskResolution,
    TaskSide,
    TaskStatus,
    TimelineEntry,
)
from kickoff.pipelines.payload import JsonScalar
from kickoff.readmodel.snapshot import OnboardingEntry, VisitEntry


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_LICENSES = 100_000
"""More licences than any customer has: a larger number is a typo or a probe (10**30 was accepted)."""
MAX_SAFE_NUMBER = 2**53 - 1
"""The largest integer every JSON reader (JavaScript's included) reads exactly."""


_YEARS = "^20[0-9]{2}-"
"""Dates are refused outside 2000–2099 (``kickoff.pipelines.payload.plausible_date``): the schema
says so, so that a client (and the schema test's generator) knows before it is refused."""
ApiDate = Annotated[PlausibleDate, WithJsonSchema({"type": "string", "format": "date", "pattern": _YEARS})]
ApiMoment = Annotated[
    PlausibleMoment, WithJsonSchema({"type": "string", "format": "date-time", "pattern": _YEARS})
]
"""A date and time with its UTC offset, in 2000–2099."""


class ContractIn(Contract):
    """A contract as ``POST /contracts`` accepts it: the domain's model with the API's bounds.

    The bounds live here, not on ``kickoff.domain.Contract``: that model also decodes the
    contracts of runs in flight from their histories, which must keep decoding whatever they
    were started with."""

    model_config = ConfigDict(title="Contract")

    signed_at: ApiMoment
    delivery_start: ApiDate
    licenses: int = Field(ge=1, le=MAX_LICENSES)
    dates: dict[str, ApiDate] = Field(default_factory=dict, max_length=20)
    """Further dates the pipeline declares (``contract_dates``), e.g. a renewal date."""


BoundedNumber = Annotated[float, Field(ge=-MAX_SAFE_NUMBER, le=MAX_SAFE_NUMBER, allow_inf_nan=False)]
BoundedScalar = (
    str | Annotated[int, Field(ge=-MAX_SAFE_NUMBER, le=MAX_SAFE_NUMBER)] | BoundedNumber | bool | None
)
EventPayload = dict[str, BoundedScalar]
"""An event's payload as the API accepts it: flat, numbers within ±(2**53 - 1); the pipeline's
declaration is checked by the run (``kickoff.pipelines.payload``)."""


class ErrorMessage(BaseModel):
    """An error answer: what went wrong, and what to do about it."""

    detail: str


class FieldError(BaseModel):
    """One problem of a refused request: its kind, where (``body``, ``query``, ``path``, ``header``
    and the field), and why; never the value that was sent."""

    type: str
    loc: list[str | int]
    msg: str
    ctx: dict[str, Any] | None = None
    """The constraint that failed (a limit, a pattern, the allowed values), when it is one."""


class ValidationErrors(BaseModel):
    """A 422: every problem of the request, in FastAPI's shape (also the service's refusals)."""

    detail: list[FieldError]


class ContractAccepted(BaseModel):
    id: str = Field(examples=["SE-C-1001"])
    pipeline: str
    stage: str
    url: str


class TaskPublic(BaseModel):
    id: str
    kind: TaskKind
    title: str
    owner: TaskSide
    owner_role: str | None
    due_at: datetime
    created_at: datetime
    status: TaskStatus
    done_at: datetime | None = None
    resolution: TaskResolution | None = None
    """How a done task was done: by staff, by the customer on their page, or closed with its
    onboarding."""


class OpenTask(TaskPublic):
    onboarding_id: str
    pipeline: str
    stage: str
    assignee: str | None = None
    """The e-mail address of the person the task is assigned to."""


class RecordedOutcomePublic(KickoffOutcome):
    """A kick-off outcome as Kickoff's database keeps it, with the cycle it belongs to."""

    cycle: int


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
    modules: list[str]
    tasks: list[TaskPublic]
    checklist: list[ChecklistItemState]
    emails: list[EmailRecord]
    records: dict[str, list[dict[str, JsonScalar]]]
    timeline: list[TimelineEntry]
    previous_cycles: list[CycleSummary]
    visits: list[StageVisit]
    """This cycle's stage visits, oldest first (time in stage)."""
    awaiting_outcome: bool
    """Booked, and no kick-off outcome recorded for this cycle yet."""
    kickoff_outcome: KickoffOutcome | None
    """This cycle's kick-off outcome, with who recorded it and when."""
    kickoff_outcomes: list[RecordedOutcomePublic] = Field(default_factory=list)
    """Every cycle's recorded kick-off outcome, oldest first (a no-show stays with its cycle)."""
    archived: ArchivedHistory | None = None
    """A long-lived run's oldest timeline entries, finished tasks and mails, as counts."""


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
    meeting_at: ApiMoment
    booked_by: str | None = Field(default=None, max_length=200)


class CallLogged(_In):
    outcome: Literal["answered", "no_answer"]
    note: str | None = Field(default=None, max_length=2000)


class Park(_In):
    reason: str = Field(min_length=1, max_length=500)
    until: ApiDate | None = None


class Restart(_In):
    reason: Literal["no_show", "rescheduled"]


class KickoffOutcomeIn(_In):
    """``completed`` with the customer's segment and the responsible advisor, or ``no_show`` /
    ``rescheduled`` (which restart onboarding, as ``POST /restart`` does)."""

    outcome: KickoffOutcomeKind
    segment: str | None = Field(default=None, max_length=20, examples=["B"])
    owner: str | None = Field(default=None, max_length=200, examples=["Sara Lind"])
    """The responsible advisor (company owner)."""

    @model_validator(mode="after")
    def _fits_outcome(self) -> KickoffOutcomeIn:
        if self.outcome == "completed":
            missing = [name for name in ("segment", "owner") if not (getattr(self, name) or "").strip()]
            if missing:
                raise ValueError(f"a completed kick-off needs {' and '.join(missing)}")
        elif self.segment is not None or self.owner is not None:
            raise ValueError(f"segment and owner belong to a completed kick-off, not to {self.outcome}")
        return self


class OutcomeAccepted(BaseModel):
    id: str
    outcome: KickoffOutcomeKind
    cycle: int
    """The cycle the onboarding is in now: the next one after a no-show or a rescheduling."""
    stage: str


class Amendment(_In):
    delivery_start: ApiDate


class ChecklistTick(_In):
    ticked: bool = True
    """false unticks the item again."""
    by: str | None = Field(default=None, max_length=200)


class ChecklistAnswer(BaseModel):
    id: str
    item: str
    checklist: str
    ticked: bool
    unticked: list[str]
    """Items of the same checklist still to tick."""


class PipelineSummary(BaseModel):
    id: str
    name: str
    version: str
    id_prefix: str
    timezone: str
    languages: list[str]
    stages: list[dict[str, str]]
    events: list[str]
    checklists: list[str]
    modules: list[str]


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


# ---------------------------------------------------------------- erasure and access (GDPR)


class ErasureAccepted(BaseModel):
    """The onboarding's personal data is erased; a repeated request answers the first time."""

    id: str
    erased_at: datetime


class PersonalDataErased(BaseModel):
    """The answer for an onboarding whose personal data was erased: nothing of it is held."""

    id: str
    erased_at: datetime
    detail: str


class KeptOutcomePublic(BaseModel):
    """A kick-off outcome of an erased onboarding: without the advisor and who recorded it."""

    cycle: int
    outcome: KickoffOutcomeKind
    segment: str | None
    recorded_at: datetime


class ErasedOnboardingPublic(BaseModel):
    """``GET /onboardings/{id}`` once its personal data was erased: what may be kept (its
    stages and dates, from the read model and Temporal's search attributes)."""

    id: str
    pipeline: str | None
    pipeline_version: str | None
    cycle: int | None
    stage: str | None
    stage_label: str | None
    stage_entered_at: datetime | None
    status: str
    """The latest run's status in Temporal: ``terminated`` when erasure ended it."""
    started_at: datetime | None
    closed_at: datetime | None
    visits: list[VisitEntry]
    """Every cycle's stage visits, oldest first."""
    kickoff_outcomes: list[KeptOutcomePublic]
    personal_data_erased_at: datetime


class RunDataPublic(BaseModel):
    """One run of the onboarding (each cycle's last run) and the personal data its state holds."""

    run_id: str
    cycle: int
    status: str
    started_at: datetime | None
    closed_at: datetime | None
    contract: Contract
    tasks: list[Task]
    emails: list[EmailRecord]
    timeline: list[TimelineEntry]
    """Staff actions with their notes and who did them."""
    checklist: list[ChecklistItemState]
    records: dict[str, list[dict[str, JsonScalar]]]
    kickoff_outcome: KickoffOutcome | None


class LedgerEntryPublic(BaseModel):
    message_id: str
    state: str
    updated_at: datetime


class DatabaseRowsPublic(BaseModel):
    """The onboarding's rows in Kickoff's own database."""

    read_model: OnboardingEntry | None
    read_tasks: list[Task]
    visits: list[VisitEntry]
    kickoff_outcomes: list[RecordedOutcome]
    """With the advisor (``owner``) and who recorded it (``recorded_by``)."""
    mail_ledger: list[LedgerEntryPublic]


class PersonalDataPublic(BaseModel):
    """Everything Kickoff holds of an onboarding (GDPR art. 15): the contract (customer, main
    user, org number, dates), each run's tasks, mails, timeline, checklist and records, and the
    database's rows. Mails are listed by template, recipient and time: their text is rendered
    from ``pipelines.yaml``'s templates and this contract, and not kept apart from them."""

    id: str
    pipeline: str
    contract: Contract
    """As the latest run holds it (an amendment shows here)."""
    runs: list[RunDataPublic]
    database: DatabaseRowsPublic
