"""Data that crosses the workflow boundary: contracts, run state, inputs and results.

One input model and one result model per workflow and activity, so fields
can be added later without breaking callers or recorded histories.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr, Field

from kickoff.pipelines.model import Pipeline
from kickoff.pipelines.payload import JsonScalar, plausible_date
from kickoff.wire import CompactOnTheWire

CONTRACT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
PlausibleDate = Annotated[date, AfterValidator(plausible_date)]


def _plausible_moment(moment: datetime) -> datetime:
    plausible_date(moment.date())
    return moment


PlausibleMoment = Annotated[AwareDatetime, AfterValidator(_plausible_moment)]


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    org_number: str | None = Field(default=None, max_length=40)


class MainUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    phone: str | None = Field(default=None, max_length=40)


class Contract(CompactOnTheWire):
    """A signed contract as the contract-signing system posts it."""

    model_config = ConfigDict(extra="forbid")

    contract_id: str = Field(pattern=CONTRACT_ID_PATTERN, examples=["C-1001"])
    pipeline: str = "assist-se"
    signed_at: PlausibleMoment
    delivery_start: PlausibleDate
    customer: Customer
    main_user: MainUser
    licenses: int = Field(ge=1)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    modules: list[str] | None = Field(default=None, max_length=50)
    """The product modules the contract includes (the pipeline's defaults when absent)."""
    dates: dict[str, PlausibleDate] = Field(default_factory=dict, max_length=20)
    """Further dates the pipeline declares (``contract_dates``), e.g. a renewal date."""


def contract_problems(pipeline: Pipeline, contract: Contract) -> list[tuple[str, str]]:
    """Modules and dates a contract names that its pipeline does not declare (a typo would
    silently drop a module), as (field, sentence) pairs: ``POST /contracts`` refuses them, and a
    preview names them."""
    problems: list[tuple[str, str]] = []
    if contract.modules is not None and not contract.modules:
        problems.append(
            ("modules", "modules is empty: list the modules the contract includes, or leave the field out")
        )
    for module in contract.modules or ():
        if module not in pipeline.modules:
            known = ", ".join(pipeline.modules) or "none"
            problems.append(("modules", f"unknown module {module!r} (modules of {pipeline.id}: {known})"))
    for name in contract.dates:
        if name not in pipeline.contract_dates:
            known = ", ".join(pipeline.contract_dates) or "none"
            problems.append(("dates", f"unknown date {name!r} (dates {pipeline.id} uses: {known})"))
    return problems


def onboarding_id(prefix: str, contract_id: str) -> str:
    """``SE`` + ``C-1001`` -> ``SE-C-1001``: the workflow id, stable across retries."""
    return f"{prefix}-{contract_id}"


def task_id(onboarding: str, cycle: int, number: int) -> str:
    """Task ids embed their onboarding id so ``POST /tasks/{id}/done`` can find the run."""
    return f"{onboarding}.{cycle}.{number}"


def onboarding_of_task(task: str) -> str | None:
    """The onboarding id inside a task id, or None when it is not one of ours."""
    parts = task.rsplit(".", 2)
    if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    return parts[0]


TaskKind = str
"""``call``, ``todo`` or another kind the pipeline declares."""
TaskSide = Literal["customer", "vendor"]
TaskStatus = Literal["open", "done"]


class Task(BaseModel):
    id: str
    kind: TaskKind
    title: str
    owner: TaskSide = "vendor"
    owner_role: str | None = None
    due_at: datetime
    status: TaskStatus = "open"
    stage: str
    created_at: datetime
    done_at: datetime | None = None
    resolution: TaskResolution | None = None
    blocks_completion: bool = False
    """Staff must resolve it before the run may complete (e.g. a mail that may not have arrived)."""


class EmailRecord(BaseModel):
    template: str
    to: str
    sent_at: datetime
    message_id: str
    language: str


class TimelineEntry(BaseModel):
    at: datetime
    event: str
    detail: str = ""
    by: str | None = None
    """Who did it, for staff actions (an account's e-mail address, or "api"); None for what the
    run did by itself. Entries recorded before accounts existed have none."""


RunStatus = Literal["running", "completed"]
TaskResolution = Literal["done_by_staff", "done_by_customer", "closed_with_onboarding"]


class ChecklistItemState(BaseModel):
    id: str
    checklist: str
    label: str
    owner: TaskSide
    ticked_at: datetime | None = None
    ticked_by: str | None = None


class StageVisit(BaseModel):
    """One stay in a stage: what "time in stage" reports are computed from."""

    stage: str
    entered_at: datetime
    left_at: datetime | None = None


class CycleSummary(BaseModel):
    """An earlier cycle of the same onboarding, ended by a restart."""

    cycle: int
    run_id: str
    final_stage: str
    ended_at: datetime
    restart_reason: str
    visits: list[StageVisit] = Field(default_factory=list)
    """That cycle's stage visits (time-in-stage reports keep counting them after a restart)."""


KickoffOutcomeKind = Literal["completed", "no_show", "rescheduled"]


class KickoffOutcome(BaseModel):
    """How the kick-off meeting went, as staff recorded it (seed 003, "Uppstartsmöte genomförd")."""

    outcome: KickoffOutcomeKind
    segment: str | None = None
    """The customer segment (A-D in assist-se), for completed kick-offs."""
    owner: str | None = None
    """The responsible advisor (company owner), for completed kick-offs."""
    recorded_at: datetime
    recorded_by: str | None = None


class ArchivedHistory(BaseModel):
    """Counts of what a long-lived run no longer carries: its oldest timeline entries, finished
    tasks and sent mails (older than a year, or beyond a cap). A run in partnership for years
    continues as new many times; its state is bounded by summarising them into these counts."""

    before: datetime
    """Everything older than this is summarised (some newer entries may be, where a cap was hit)."""
    timeline: dict[str, int] = Field(default_factory=dict)
    """Timeline entries by event name."""
    tasks_done: int = 0
    emails: int = 0


class OnboardingState(BaseModel):
    """Everything a run knows; returned by the ``state`` query and as the run's result."""

    id: str
    cycle: int = 1
    pipeline: str
    pipeline_version: str
    stage: str
    stage_label: str
    stage_entered_at: datetime
    entry_count: dict[str, int] = Field(default_factory=dict)
    fired_steps: list[str] = Field(default_factory=list)
    """Schedule steps already performed in the current stage visit."""
    anchors: dict[str, datetime] = Field(default_factory=dict)
    status: RunStatus = "running"
    contract: Contract
    next_step: str | None = None
    next_step_at: datetime | None = None
    pending_actions: int = 0
    """Actions queued or in flight (e.g. a mail being sent); 0 when the run is idle."""
    tasks: list[Task] = Field(default_factory=list)
    emails: list[EmailRecord] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    task_counter: int = 0
    previous_cycles: list[CycleSummary] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)
    """The pipeline modules this onboarding covers."""
    checklist: list[ChecklistItemState] = Field(default_factory=list)
    records: dict[str, list[dict[str, JsonScalar]]] = Field(default_factory=dict)
    """Payloads kept by events that declare ``record`` (e.g. expansion opportunities)."""
    event_count: int = 0
    repeat_base: dict[str, datetime] = Field(default_factory=dict)
    """Recurring steps: the occurrence the next one is counted from."""
    fired_deadlines: list[str] = Field(default_factory=list)
    goal_event: str | None = None
    """The event that completed the run, when an event (not a stage) was its goal."""
    visits: list[StageVisit] = Field(default_factory=list)
    """Every stage visit of this cycle, oldest first (the last one is open while running)."""
    kickoff_outcome: KickoffOutcome | None = None
    awaiting_outcome: bool = False
    """Booked and waiting for staff to record how the kick-off went (in its goal stage while
    the run kept it; after the run completed, as the API reads Kickoff's database)."""
    completes_at_goal: bool = False
    """Reaching its goal completed this run (``complete-at-goal``): nothing kept it open for
    the kick-off outcome, which Kickoff's database records. False for runs that waited."""
    retrying_actions: int = 0
    """Mails still not delivered after a while (SMTP retries), for ops."""

    archived: ArchivedHistory | None = None
    """What was summarised away from a long-lived run's timeline, tasks and mails."""

    def open_tasks(self) -> list[Task]:
        return [task for task in self.tasks if task.status == "open"]

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.id == task_id), None)

    def unticked(self, checklists: tuple[str, ...]) -> list[ChecklistItemState]:
        return [i for i in self.checklist if i.checklist in checklists and i.ticked_at is None]


class OnboardingInput(CompactOnTheWire):
    """How a run starts: a fresh contract, a restart, or a continue-as-new carrying state."""

    onboarding_id: str
    contract: Contract
    pipeline: Pipeline
    pipeline_version: str
    cycle: int = 1
    restart_reason: str | None = None
    previous_cycles: list[CycleSummary] = Field(default_factory=list)
    carried_state: OnboardingState | None = None


class EventInput(BaseModel):
    """A staff or system event for a running onboarding (the ``apply_event`` update)."""

    name: str
    payload: dict[str, JsonScalar] = Field(default_factory=dict)
    by: str | None = None


class AmendInput(BaseModel):
    """An amended contract (the ``amend_contract`` update): a new delivery start."""

    delivery_start: PlausibleDate


class TickInput(BaseModel):
    """Tick (or untick) one checklist item (the ``tick_item`` update)."""

    item: str
    ticked: bool = True
    by: str | None = None


class FinishTaskInput(BaseModel):
    """Mark a task done on someone's behalf (the ``finish_task`` update): staff, or the customer
    from their page (``by="customer"``, only for the customer's own tasks)."""

    task: str
    by: str | None = None


CUSTOMER = "customer"
"""Who the timeline says did what the customer did on their page."""


class RestartInput(BaseModel):
    reason: str
    pipeline: Pipeline
    pipeline_version: str


class MigrateInput(BaseModel):
    """Adopt a newer snapshot of the run's own pipeline (the ``migrate_pipeline`` update): what
    it performed stays performed, what it still owes follows the new snapshot."""

    pipeline: Pipeline
    pipeline_version: str
    by: str | None = None
    """Who moved it, for the timeline (an account's e-mail address, or "api")."""


class OutcomeInput(BaseModel):
    """The kick-off outcome (the ``record_kickoff_outcome`` update). A no-show or a
    rescheduled meeting carries the restart it causes (with a fresh pipeline snapshot)."""

    outcome: KickoffOutcomeKind
    segment: str | None = None
    owner: str | None = None
    by: str | None = None
    restart: RestartInput | None = None


class MailLook(BaseModel):
    """How a mail's HTML part looks: the pipeline's branding, resolved for the mail's language."""

    language: str = "en"
    colour: str = "#1f4e79"
    accent: str = "#f2f5f9"
    logo: str | None = None
    logo_alt: str | None = None
    footer: str | None = None


class CalendarInvite(BaseModel):
    """An iCalendar (RFC 5545) object a mail carries as its ``text/calendar`` part."""

    method: Literal["REQUEST", "CANCEL"]
    ics: str


class SendMailInput(BaseModel):
    """Everything the mail activity needs; the Message-ID is the idempotency key."""

    onboarding_id: str
    message_id: str
    to: str
    subject_template: str
    body_template: str
    context: dict[str, object]
    look: MailLook | None = None
    """The HTML part's look (None, from runs started before HTML mail: the default look)."""
    customer_link: bool = False
    """Put the customer's personal page into the template's ``customer_page`` (mail to the
    customer of a pipeline with a customer page); the activity looks the link up."""
    calendar: CalendarInvite | None = None


class SendMailResult(BaseModel):
    message_id: str
    delivered: bool
    """False when an earlier attempt already delivered this Message-ID."""
