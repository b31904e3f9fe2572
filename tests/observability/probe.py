"""A throwaway workflow and activity that log through Temporal's loggers and through structlog."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import structlog

log = structlog.get_logger(__name__)


@activity.defn
async def log_from_activity() -> None:
    activity.logger.info("probe.activity_logger")
    log.info("probe.structlog")


@workflow.defn
class LoggingProbeWorkflow:
    @workflow.run
    async def run(self) -> None:
        workflow.logger.info("probe.workflow_logger %s", "formatted")
        await workflow.execute_activity(log_from_activity, start_to_close_timeout=timedelta(seconds=10))
