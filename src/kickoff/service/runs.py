"""Talking to one onboarding's runs: find its latest run, read its state, send it an update.

Temporal's errors become the service's own (``errors``), with reasons a caller can act on.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from kickoff.crypto import EnvelopeCodec
from kickoff.domain import OnboardingState
from kickoff.service.errors import (
    ConflictError,
    ErasedOnboardingError,
    NotFoundError,
    UnavailableError,
    UnprocessableError,
)
from kickoff.workflows.onboarding import OnboardingWorkflow

QUERY_TIMEOUT = timedelta(seconds=5)
HANDOVER_WAIT = timedelta(seconds=5)
"""How long a run that continued as new may take to show its successor."""
UPDATE_TIMEOUT = timedelta(seconds=15)
"""How long a staff action waits for a worker to accept or refuse it."""
log = structlog.get_logger(__name__)

Handle = WorkflowHandle[Any, Any]


async def describe_latest(client: Client, oid: str) -> tuple[Handle, WorkflowExecutionDescription]:
    """The latest run of ``oid``, for reading its state or acting on it: ``ErasedOnboardingError``
    (409) once its personal data was erased, since its payloads can no longer be decoded (a query
    would fail as "no worker answered", an update or a result with the codec's ``ErasedError``)."""
    found = await latest_run(client, oid)
    erased = await erased_at(client, oid)
    if erased is not None:
        raise ErasedOnboardingError(oid, erased)
    return found


async def erased_at(client: Client, oid: str) -> datetime | None:
    """When the onboarding's personal data was erased (its data key destroyed), or None."""
    codec = client.data_converter.payload_codec
    if not isinstance(codec, EnvelopeCodec):
        return None  # payloads not encrypted (a test converter): nothing can have been erased
    try:
        return await codec.keys.erased_at(oid)
    except (SQLAlchemyError, OSError) as err:
        log.warning("data_keys.unavailable", error=type(err).__name__)
        raise UnavailableError("Kickoff's database did not answer; try again shortly") from None


async def latest_run(client: Client, oid: str) -> tuple[Handle, WorkflowExecutionDescription]:
    """The latest run of ``oid``, erased or not (``describe`` reads no payload: its search
    attributes are plain). A run that has just continued as new is followed to its
    successor: the onboarding goes on, so it must not be reported as finished."""
    handle = client.get_workflow_handle_for(OnboardingWorkflow.run, oid)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANDOVER_WAIT.total_seconds()
    while True:
        try:
            description = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise NotFoundError(f"no onboarding {oid}") from None
            raise
        if description.status != WorkflowExecutionStatus.CONTINUED_AS_NEW or loop.time() > deadline:
            return handle, description
        await asyncio.sleep(0.05)


async def state_of(client: Client, oid: str, description: WorkflowExecutionDescription) -> OnboardingState:
    # Pinned to the described run: a restart in between must not switch runs.
    run = client.get_workflow_handle_for(OnboardingWorkflow.run, oid, run_id=description.run_id)
    if description.status == WorkflowExecutionStatus.COMPLETED:
        # A finished run's result is its final state: no worker needed to read it.
        result: OnboardingState = await run.result()
        return result
    return await query_state(run)


async def query_state(handle: Handle) -> OnboardingState:
    """A running run's state, or UnavailableError when no worker answers in time."""
    try:
        state: OnboardingState = await handle.query(OnboardingWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError) as err:
        log.warning("onboarding.query_failed", onboarding_id=handle.id, error=type(err).__name__)
        raise UnavailableError(
            f"onboarding {handle.id} is running but no worker answered within "
            f"{QUERY_TIMEOUT.seconds} s; try again shortly"
        ) from None
    return state


def status_name(status: WorkflowExecutionStatus | None) -> str:
    return status.name.lower() if status is not None else "unknown"


async def run_update(
    client: Client,
    handle: Handle,
    update: Any,
    arg: Any,
    *,
    update_id: str | None = None,
    handed_over: bool = False,
    settle: timedelta | None = None,
) -> Any:
    """Run an update; with ``update_id`` (a client's Idempotency-Key) Temporal applies a
    retried request once and answers the retry with the first result.

    With ``settle``, answer once the run has accepted the update (its validator passed)
    and waited that long for its result (None if it is still being applied)."""
    try:
        if settle is None:
            return await handle.execute_update(update, arg, id=update_id, rpc_timeout=UPDATE_TIMEOUT)
        accepted = await handle.start_update(
            update, arg, id=update_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED, rpc_timeout=UPDATE_TIMEOUT
        )
        try:
            return await asyncio.wait_for(accepted.result(), settle.total_seconds())
        except TimeoutError:
            log.info("onboarding.update_still_applying", onboarding_id=handle.id)
            return None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        log.warning("onboarding.update_timed_out", onboarding_id=handle.id)
        raise UnavailableError(
            f"no worker answered within {UPDATE_TIMEOUT.seconds} s; the action was not confirmed "
            "and may still be applied when a worker is back: check the onboarding before retrying"
        ) from None
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause)
        kind = cause.type if isinstance(cause, ApplicationError) else None
        if kind == "LookupError":
            raise NotFoundError(message) from None
        if kind == "InvalidPayload":
            raise UnprocessableError(message) from None
        raise ConflictError(message) from None
    except RPCError as err:
        if err.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise
        # The run ended between our check and the update: finished, or rolled over into
        # its successor (continue-as-new), which takes the update instead.
        successor, description = await describe_latest(client, handle.id)
        if not handed_over and description.status == WorkflowExecutionStatus.RUNNING:
            return await run_update(
                client, successor, update, arg, update_id=update_id, handed_over=True, settle=settle
            )
        raise ConflictError(f"onboarding {handle.id} has finished: {err.message}") from None
