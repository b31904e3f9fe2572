"""Erasure (GDPR art. 17) and access (art. 15) of the personal data Kickoff holds of an onboarding.

Erasure ends the latest run if it is running, destroys the onboarding's data key (every
Temporal payload of its runs was encrypted with it: the histories stay as an audit of what
happened, unreadable where they held personal data) and removes the personal data from
Kickoff's own tables (``kickoff.db.privacy``). What may be kept stays readable from plain
sources: Temporal's describe (search attributes hold no personal data) and the read model's
stages and dates. Access collects everything held while it is still readable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import structlog
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from kickoff import search_attributes as sa
from kickoff.crypto import DataKeys, EnvelopeCodec, ErasedError
from kickoff.db import Database
from kickoff.db.outcomes import RecordedOutcome
from kickoff.db.privacy import KeptOutcome, LedgerRow, PrivacyStore
from kickoff.domain import Contract, OnboardingState, Task
from kickoff.readmodel.snapshot import OnboardingEntry, VisitEntry
from kickoff.service import outcomes, read_views
from kickoff.service.errors import ConflictError, ErasedOnboardingError, NotFoundError, UnavailableError
from kickoff.service.runs import describe_latest, latest_run, state_of, status_name

if TYPE_CHECKING:
    from kickoff.service.onboardings import OnboardingService

ErasureReason = Literal["request", "no_longer_needed", "objection", "unlawful"]
REASONS: dict[ErasureReason, str] = {
    "request": "personal data erased on request (GDPR art. 17)",
    "no_longer_needed": "personal data erased: no longer needed (GDPR art. 17(1)(a))",
    "objection": "personal data erased after an objection (GDPR art. 17(1)(c))",
    "unlawful": "personal data erased: processed unlawfully (GDPR art. 17(1)(d))",
}
"""Why, as the run's terminate reason shows it in the Temporal UI. A fixed choice, not free
text: the reason is stored in clear in the history for its retention, and in the log."""
_ONBOARDING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_END_ATTEMPTS = 3
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Erasure:
    id: str
    erased_at: datetime
    first: bool
    """False when it had been erased before (the answer carries the first time)."""


@dataclass(frozen=True)
class KeptOnboarding:
    """What Kickoff keeps of an onboarding whose personal data was erased."""

    id: str
    pipeline: str | None
    pipeline_version: str | None
    cycle: int | None
    stage: str | None
    stage_label: str | None
    stage_entered_at: datetime | None
    status: str
    started_at: datetime | None
    closed_at: datetime | None
    visits: list[VisitEntry]
    kickoff_outcomes: list[KeptOutcome]
    personal_data_erased_at: datetime


@dataclass(frozen=True)
class RunData:
    """One run of the onboarding (a cycle, or its latest part) and what its state holds."""

    run_id: str
    status: str
    started_at: datetime | None
    closed_at: datetime | None
    state: OnboardingState


@dataclass(frozen=True)
class HeldData:
    """Everything Kickoff holds of an onboarding: its runs' states, and its database rows."""

    id: str
    pipeline: str
    contract: Contract
    runs: list[RunData]
    read_model: OnboardingEntry | None
    read_tasks: list[Task]
    visits: list[VisitEntry]
    kickoff_outcomes: list[RecordedOutcome]
    mail_ledger: list[LedgerRow]


def _checked(oid: str) -> str:
    # The id goes into a visibility query: one that cannot be an onboarding's is unknown.
    if not _ONBOARDING_ID.match(oid):
        raise NotFoundError(f"no onboarding {oid}")
    return oid


def _keys(client: Client) -> DataKeys:
    codec = client.data_converter.payload_codec
    if not isinstance(codec, EnvelopeCodec):
        raise ConflictError("payloads are not encrypted here, so they cannot be erased")
    return codec.keys


def _database(service: OnboardingService) -> Database:
    if service.database is None:
        raise ConflictError("personal data is kept in Kickoff's database, and none is configured")
    return service.database


# ---------------------------------------------------------------- erasure


async def erase(service: OnboardingService, oid: str, reason: ErasureReason) -> Erasure:
    """End the latest run if running, destroy the data key, scrub Kickoff's tables. Safe to
    repeat: a retry after a failure part-way finishes what is left, and keeps the first time."""
    client, keys, database = service.client, _keys(service.client), _database(service)
    await latest_run(client, _checked(oid))  # 404 for an unknown id, before anything is done
    async with read_views.database_answers():
        before = await keys.erased_at(oid)
    ended = await _end_running(client, oid, reason)
    async with read_views.database_answers():
        erased = await keys.erase(oid)
    # A restart that started a run between the end and the key's destruction left a run that
    # can no longer read its input: end it too.
    ended = await _end_running(client, oid, reason) or ended
    _, description = await latest_run(client, oid)
    async with read_views.database_answers():
        await PrivacyStore(database).scrub(oid, status_name(description.status))
    log.info("personal_data.erased", onboarding_id=oid, reason=reason, run_ended=ended, again=bool(before))
    return Erasure(oid, erased, first=before is None)


async def _end_running(client: Client, oid: str, reason: ErasureReason) -> bool:
    """Terminate the onboarding's running run, with a reason ops see in the Temporal UI (the
    run cannot record anything more on its timeline); True when one was ended."""
    ended = False
    for attempt in range(_END_ATTEMPTS + 1):
        _, description = await latest_run(client, oid)
        if description.status != WorkflowExecutionStatus.RUNNING:
            return ended
        if attempt == _END_ATTEMPTS:
            break
        try:
            # No run id: whichever run of the id is running, also a successor it continued as.
            await client.get_workflow_handle(oid).terminate(reason=REASONS[reason])
            ended = True
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            # It completed (or continued as new) just now: look again.
    raise UnavailableError(f"onboarding {oid} kept running however often it was ended: erase it again")


# ---------------------------------------------------------------- after erasure


async def kept(service: OnboardingService, oid: str, erased: datetime) -> KeptOnboarding:
    """An erased onboarding as it may still be shown: from Temporal's describe (search
    attributes, times) and the read model's stages and dates, never from a payload."""
    _, description = await latest_run(service.client, oid)
    store = PrivacyStore(_database(service))
    async with read_views.database_answers():
        row = await store.kept_row(oid)
        visits = await store.visits(oid)
        recorded = await store.kept_outcomes(oid)
    attributes = description.typed_search_attributes
    return KeptOnboarding(
        id=oid,
        pipeline=attributes.get(sa.PIPELINE) or (row.pipeline if row else None),
        pipeline_version=attributes.get(sa.PIPELINE_VERSION) or (row.pipeline_version if row else None),
        cycle=row.cycle if row else None,
        stage=attributes.get(sa.STAGE) or (row.stage if row else None),
        stage_label=row.stage_label if row else None,
        stage_entered_at=row.stage_entered_at if row else None,
        status=status_name(description.status),
        started_at=description.start_time,
        closed_at=description.close_time,
        visits=visits,
        kickoff_outcomes=recorded,
        personal_data_erased_at=erased,
    )


# ---------------------------------------------------------------- access


async def held(service: OnboardingService, oid: str) -> HeldData:
    """Everything Kickoff holds of the onboarding (``ErasedOnboardingError`` once erased): the
    state of each of its runs (contract, tasks, mails, timeline with who did what, checklist,
    records) and its rows in Kickoff's database."""
    client = service.client
    _, latest = await describe_latest(client, _checked(oid))
    try:
        runs = [
            RunData(
                run_id=description.run_id,
                status=status_name(description.status),
                started_at=description.start_time,
                closed_at=description.close_time,
                state=await state_of(client, oid, description),
            )
            for description in await _runs(service, oid, latest)
        ]
    except ErasedError as erased:  # erased while this was being read: none of it is held now
        raise ErasedOnboardingError(oid, erased.erased_at) from None
    store = PrivacyStore(_database(service))
    async with read_views.database_answers():
        entry = await read_views.store_of(service).entry(oid)
        tasks = await store.open_tasks(oid)
        visits = await store.visits(oid)
        recorded = await outcomes.recorded(service, oid)
        ledger = await store.ledger(oid)
    newest = runs[-1].state
    return HeldData(oid, newest.pipeline, newest.contract, runs, entry, tasks, visits, recorded, ledger)


async def _runs(
    service: OnboardingService, oid: str, latest: WorkflowExecutionDescription
) -> list[WorkflowExecutionDescription]:
    """Each run of the onboarding whose state is its own, oldest first: every cycle's last run
    (a run that continued as new handed its state on to its successor)."""
    found: dict[str, WorkflowExecutionDescription] = {latest.run_id: latest}
    query = f"{service.scope} AND WorkflowId = '{oid}' AND ExecutionStatus != 'ContinuedAsNew'"
    async for execution in service.client.list_workflows(query):
        if execution.run_id not in found:
            handle = service.client.get_workflow_handle(oid, run_id=execution.run_id)
            found[execution.run_id] = await handle.describe()
    return sorted(found.values(), key=lambda d: d.start_time)
