"""Worker wiring: connect to Temporal, register search attributes, run workflows and activities."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from kickoff.activities import MailActivities, MailLedger, ReadModelActivities, SmtpConfig
from kickoff.crypto.fields import sealer_of
from kickoff.customer.links import CustomerLinks
from kickoff.db import Database
from kickoff.db.read_model import ReadModelStore
from kickoff.health import HealthServer, WorkerState, worker_readiness
from kickoff.logging_setup import ActivityLogContextInterceptor, configure_logging
from kickoff.pipelines import PipelineError, load_pipelines
from kickoff.readmodel.from_temporal import sweep_forever
from kickoff.settings import Settings, get_settings
from kickoff.temporal import connect, ensure_search_attributes
from kickoff.workflows.booking_mail import BookingMailWorkflow
from kickoff.workflows.onboarding import OnboardingWorkflow

log = structlog.get_logger(__name__)


def worker_runtime(metrics_address: str | None) -> Runtime:
    """The worker's Temporal runtime.

    Core (the SDK's Rust part) writes its own warnings straight to stderr in its
    own format; forwarded into Python logging they come out as JSON like every
    other line. With ``metrics_address`` the runtime also serves the SDK's metrics,
    and the activities' own counters, at ``http://<metrics_address>/metrics``.
    PrometheusConfig's defaults are kept on purpose: counters without a ``_total``
    suffix and latencies in milliseconds are the names Temporal's SDK metrics
    reference and dashboards use.
    """
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            ),
            metrics=PrometheusConfig(bind_address=metrics_address) if metrics_address else None,
        )
    )


WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    # email_validator (and idna): what pydantic's EmailStr loads lazily while a contract decodes.
    restrictions=SandboxRestrictions.default.with_passthrough_modules("kickoff", "email_validator", "idna")
)
"""The sandbox, with Kickoff's own modules passed through. Without this the sandbox imports
the workflow module afresh for every new run: compiling and executing it, and inspecting
each handler's type hints, was two thirds of a worker's CPU per new onboarding (measured:
18 ms against 12 ms per new run, bench/ingest.py).

The price: modules configured as passthrough run outside the sandbox's runtime checks, so
a call to the wall clock or to random in Kickoff's workflow code would not be refused at
run time. ``tests/unit/test_determinism.py`` refuses it at CI time instead (no such call or
import in ``kickoff.engine`` and ``kickoff.workflows``), the recorded histories are replayed
on every run of the suite, and Kickoff's modules hold no mutable global state."""


def create_worker(
    client: Client, settings: Settings | None = None, database: Database | None = None
) -> Worker:
    """Every workflow and activity on KICKOFF_TASK_QUEUE; refuses an invalid pipelines file.

    ``database`` (default: one on KICKOFF_DATABASE_URL) holds the mail ledger and the read model.
    """
    settings = settings or get_settings()
    # Runs carry their own pipeline snapshot, but a worker that cannot read
    # the file would hide a broken deploy: validate it before polling.
    load_pipelines(settings.pipelines_file)
    database = database or Database(settings.database_url)
    mail = MailActivities(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            mail_from=settings.mail_from,
            timeout_seconds=settings.smtp_timeout_seconds,
        ),
        MailLedger(database),
        # Customer mails carry the customer's personal page, sealed with the onboarding's key.
        links=CustomerLinks(database, sealer_of(client.data_converter)),
        public_url=settings.public_url,
    )
    read_model = ReadModelActivities(ReadModelStore(database, sealer_of(client.data_converter)))
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[OnboardingWorkflow, BookingMailWorkflow],
        activities=[mail.send_mail, read_model.write_read_model],
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=[ActivityLogContextInterceptor()],
        max_cached_workflows=settings.worker_max_cached_workflows,
        # On SIGTERM (a deploy) let a mail in the middle of its SMTP conversation
        # finish: cancelling it there would leave its delivery unknown.
        graceful_shutdown_timeout=timedelta(seconds=30),
    )


async def run_worker() -> None:
    settings = get_settings()
    configure_logging(json=settings.log_json)
    # Fail on a broken pipelines file before waiting on Temporal (create_worker checks again
    # for embedders; reading a small file twice at start-up is cheap).
    load_pipelines(settings.pipelines_file)
    # The runtime binds the metrics port now: a port already taken stops the worker here.
    client = await connect(runtime=worker_runtime(settings.worker_metrics_address))
    database = Database(settings.database_url)
    worker = create_worker(client, settings, database)
    # Idempotent, and it means a fresh production cluster needs no manual step.
    await ensure_search_attributes(client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def state() -> WorkerState:
        # Not ready while draining after SIGTERM: is_running stays true until shutdown ends.
        return "stopping" if stop.is_set() else "running" if worker.is_running else "starting"

    async with contextlib.AsyncExitStack() as stack:
        if settings.worker_health_address:
            health = HealthServer(
                settings.worker_health_address, lambda: worker_readiness(database, client, state())
            )
            await stack.enter_async_context(health)
        stack.push_async_callback(database.dispose)
        # Runs that could not write their end (ops terminated them, or the database was down
        # as they completed) are brought into the read model by this sweep.
        store = ReadModelStore(database, sealer_of(client.data_converter))
        sweep = asyncio.create_task(sweep_forever(client, store, settings.task_queue))
        stack.callback(sweep.cancel)
        log.info(
            "worker.started",
            task_queue=settings.task_queue,
            metrics_address=settings.worker_metrics_address,
            health_address=settings.worker_health_address,
        )
        async with worker:
            await stop.wait()
    log.info("worker.stopped")


def main() -> None:
    try:
        asyncio.run(run_worker())
    except PipelineError as exc:
        # Refuse to start, saying where the file is wrong (no traceback to dig through).
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    # Everything is shut down by now (worker drained, database disposed). Skip the interpreter's
    # finalization: the Temporal runtime's native threads (which forward core's log lines into
    # Python) can still call in while it tears down, and then the process aborts (SIGABRT,
    # "PyGILState_Release") after a clean stop; seen about once in dozens of SIGTERMs.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
