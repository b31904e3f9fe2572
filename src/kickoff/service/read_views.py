"""The staff views' reads: open tasks, the board's onboardings, and whether they may be stale.

All of them are indexed reads of the read model (``kickoff.db.read_model``), never one query
per run; only "may be stale" asks Temporal, with one count of the runs whose last write failed,
reused for a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.exc import SQLAlchemyError
from temporalio.service import RPCError

from kickoff import search_attributes as sa
from kickoff.crypto.fields import sealer_of
from kickoff.db.read_model import ReadModelStore
from kickoff.domain import OnboardingInput, TaskSide
from kickoff.engine import Run
from kickoff.readmodel.snapshot import OnboardingEntry, snapshot_of
from kickoff.service.errors import ConflictError, UnavailableError
from kickoff.service.rows import OpenTaskRow

if TYPE_CHECKING:
    from kickoff.service.onboardings import OnboardingService

STALE_CHECK_SECONDS = 5.0
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OpenTasksPage:
    rows: list[OpenTaskRow]
    next_after: tuple[datetime, str] | None


def store_of(service: OnboardingService) -> ReadModelStore:
    if service.database is None:
        raise ConflictError("the staff views read Kickoff's database, and none is configured")
    return ReadModelStore(service.database, sealer_of(service.client.data_converter))


@contextlib.asynccontextmanager
async def database_answers() -> AsyncIterator[None]:
    """A database that is down is a 503 with a reason, never a traceback."""
    try:
        yield
    except (SQLAlchemyError, OSError) as err:
        log.warning("read_model.unavailable", error=type(err).__name__)
        raise UnavailableError("Kickoff's database did not answer; try again shortly") from None


async def open_tasks(
    service: OnboardingService,
    owner_role: str | None,
    owner: TaskSide | None = None,
    limit: int = 1000,
    after: tuple[datetime, str] | None = None,
    assignee: str | None = None,
) -> OpenTasksPage:
    async with database_answers():
        page = await store_of(service).open_tasks(
            owner_role=owner_role, owner=owner, limit=limit, after=after, assignee=assignee
        )
    rows = [
        OpenTaskRow(
            task=task,
            onboarding_id=entry.id,
            pipeline=entry.pipeline,
            stage=entry.stage,
            customer=entry.customer,
            assignee=page.assignees.get(task.id),
        )
        for task, entry in page.tasks
    ]
    return OpenTasksPage(rows, page.next_after)


async def provisional(service: OnboardingService, input: OnboardingInput, run_id: str) -> None:
    """A run just started: its row as the engine plans its start, at revision 0, so the board
    and the inbox show it at once; the run's first write replaces it. Best effort: the run is
    started whatever happens here, and a rebuild or its own first write fills the row in."""
    state = Run.start(input, datetime.now(UTC)).state
    try:
        async with database_answers():
            await store_of(service).write(snapshot_of(state, input.pipeline, run_id, revision=0))
    except UnavailableError:
        log.warning("read_model.provisional_failed", onboarding_id=input.onboarding_id)


async def board_entries(
    service: OnboardingService, pipeline: str, limit: int
) -> tuple[list[OnboardingEntry], dict[str, int]]:
    """The board's onboardings of ``pipeline``, and how many there are per run status."""
    async with database_answers():
        store = store_of(service)
        return await store.entries(pipeline, limit), await store.count_by_status(pipeline)


async def runs_behind(service: OnboardingService) -> int | None:
    """How many runs could not write their latest state (the views may be stale for them);
    None when Temporal cannot say now. One visibility count, reused for a few seconds."""
    loop = asyncio.get_running_loop()
    cached = service.behind_cache
    if cached is not None and loop.time() - cached[0] < STALE_CHECK_SECONDS:
        return cached[1]
    try:
        counted = await service.client.count_workflows(
            # Running runs only: one that completed while behind keeps the flag for good, and
            # the worker's sweep of closed runs writes its end instead.
            f"{service.scope} AND ExecutionStatus = 'Running' AND {sa.READ_MODEL_BEHIND.name} = true"
        )
    except RPCError as err:
        log.warning("read_model.behind_unknown", status=err.status.name)
        return None
    service.behind_cache = (loop.time(), counted.count)
    return counted.count
