"""Worker wiring: connect to Temporal, register search attributes, run workflows and activities."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import timedelta

import structlog
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from kickoff import search_attributes as sa
from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.converter import data_converter
from kickoff.logging_setup import ActivityLogContextInterceptor, configure_logging
from kickoff.pipelines import PipelineError, load_pipelines
from kickoff.settings import Settings, get_settings
from kickoff.workflows.onboarding import OnboardingWorkflow

log = structlog.get_logger(__name__)

_INDEXED_TYPE = {
    SearchAttributeIndexedValueType.KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    SearchAttributeIndexedValueType.INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
}


async def connect(target_host: str | None = None, *, runtime: Runtime | None = None) -> Client:
    """A client with the project's pydantic data converter (default: KICKOFF_TEMPORAL_ADDRESS).

    ``runtime`` (default: Temporal's process-wide one, without metrics) is what a
    worker built on this client reports its metrics through.
    """
    settings = get_settings()
    return await Client.connect(
        target_host or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter,
        runtime=runtime,
    )


async def connect_when_ready(target_host: str, within: float = 60.0) -> Client:
    """``connect()`` to a server just started: its port opens before its frontend reports
    healthy, and on a busy machine that gap lasts seconds. Retried until ``within`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await connect(target_host)
        except RuntimeError as err:
            if "not healthy" not in str(err) or loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


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


async def ensure_search_attributes(client: Client) -> None:
    """Register Kickoff's custom search attributes; does nothing for those already there."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as err:
        # The time-skipping test server has no ListSearchAttributes: add them all.
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {key.name: _INDEXED_TYPE[key.indexed_value_type] for key in sa.ALL if key.name not in existing}
    if not missing:
        return
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    except RPCError as err:
        if err.status != RPCStatusCode.ALREADY_EXISTS:
            raise
    log.info("search_attributes.registered", names=sorted(missing))


RETENTION = timedelta(days=3650)
"""How long Temporal keeps a closed run. Closed onboardings are read back
(GET, restart after a no-show weeks later, duplicate-contract detection), so
the namespace default of a day or three would lose them."""


async def ensure_retention(client: Client, minimum: timedelta = RETENTION) -> None:
    """Raise the namespace's retention of closed runs to at least ``minimum``."""
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    if described.config.workflow_execution_retention_ttl.ToTimedelta() >= minimum:
        return
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=client.namespace,
            config=NamespaceConfig(
                workflow_execution_retention_ttl=Duration(seconds=int(minimum.total_seconds()))
            ),
        )
    )
    log.info("namespace.retention_raised", days=minimum.days)


WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    # email_validator (and idna): what pydantic's EmailStr loads lazily while a contract decodes.
    restrictions=SandboxRestrictions.default.with_passthrough_modules("kickoff", "email_validator", "idna")
)
"""The sandbox, with Kickoff's own modules passed through. Without this the sandbox imports
the workflow module afresh for every new run: compiling and executing it, and inspecting
each handler's type hints, was two thirds of a worker's CPU per new onboarding. Kickoff's
modules hold no mutable global state (the interpreter's core is pure), and the sandbox's
runtime checks (no wall clock, no I/O from workflow code) still apply to them."""


def create_worker(client: Client, settings: Settings | None = None) -> Worker:
    """Every workflow and activity on KICKOFF_TASK_QUEUE; refuses an invalid pipelines file."""
    settings = settings or get_settings()
    # Runs carry their own pipeline snapshot, but a worker that cannot read
    # the file would hide a broken deploy: validate it before polling.
    load_pipelines(settings.pipelines_file)
    mail = MailActivities(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            mail_from=settings.mail_from,
            timeout_seconds=settings.smtp_timeout_seconds,
        ),
        MailLedger(settings.mail_ledger_path),
    )
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[OnboardingWorkflow],
        activities=[mail.send_mail],
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=[ActivityLogContextInterceptor()],
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
    worker = create_worker(client, settings)
    # Idempotent, and it means a fresh production cluster needs no manual step.
    await ensure_search_attributes(client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker.started", task_queue=settings.task_queue, metrics_address=settings.worker_metrics_address
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


if __name__ == "__main__":
    main()
