"""structlog configuration shared by the API, the worker and the dev stack.

Log lines carry ids (onboarding id, run id, message id, route) bound through
contextvars at each entry point; never names, addresses or phone numbers.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor


def configure_logging(*, json: bool = True, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging (Temporal's, uvicorn's) through one renderer.

    ``stream`` defaults to stderr; tests pass a buffer to read the lines back.
    """
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    rendering: list[structlog.typing.Processor] = (
        # A traceback becomes one "exception" string, so every line stays one JSON object.
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if json
        else [structlog.dev.ConsoleRenderer(colors=False)]
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # Stdlib records (Temporal's workflow.logger and activity.logger among them)
        # get the same context as structlog's own lines, plus their Temporal ids.
        foreign_pre_chain=[*shared, flatten_temporal_context],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn configures its loggers with handlers of its own before it calls the app factory:
    # hand their lines (start-up, tracebacks of failed requests) to the JSON renderer too.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True


def flatten_temporal_context(
    logger: Any, method_name: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Turn the ``temporal_workflow`` / ``temporal_activity`` extras of Temporal's loggers
    into flat ``onboarding_id`` and ``run_id`` keys (the workflow id is the onboarding id).

    Temporal's adapters also append the same dict to the message text, e.g.
    ``"stage entered ({'attempt': 1, 'namespace': …})"``; that copy is cut off so
    the event stays a stable string to search for.
    """
    record = event_dict.get("_record")
    if record is None:
        return event_dict
    workflow_details = getattr(record, "temporal_workflow", None)
    if isinstance(workflow_details, Mapping):
        _strip_details_suffix(event_dict, workflow_details)
        event_dict["onboarding_id"] = workflow_details.get("workflow_id")
        event_dict["run_id"] = workflow_details.get("run_id")
        for key in ("update_name", "update_id"):
            if key in workflow_details:
                event_dict[key] = workflow_details[key]
    activity_details = getattr(record, "temporal_activity", None)
    if isinstance(activity_details, Mapping):
        _strip_details_suffix(event_dict, activity_details)
        event_dict["onboarding_id"] = activity_details.get("workflow_id")
        event_dict["run_id"] = activity_details.get("workflow_run_id")
        event_dict["activity"] = activity_details.get("activity_type")
        event_dict["attempt"] = activity_details.get("attempt")
    return event_dict


def _strip_details_suffix(event_dict: structlog.typing.EventDict, details: Mapping[str, Any]) -> None:
    event = event_dict.get("event")
    if isinstance(event, str):
        # Temporal formats exactly this: f"{msg} ({details})".
        event_dict["event"] = event.removesuffix(f" ({details})")


class ActivityLogContextInterceptor(Interceptor):
    """Binds the onboarding id (the workflow id), run id, activity type and attempt
    around every activity, so each structlog line an activity writes carries them."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindActivityContext(next)


class _BindActivityContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        # Each activity runs in its own asyncio task (a copy of the worker's context, which
        # Temporal also copies into the thread of a sync activity), so concurrent activities
        # never see each other's ids; bound_contextvars still restores the previous values.
        with structlog.contextvars.bound_contextvars(
            onboarding_id=info.workflow_id,
            run_id=info.workflow_run_id,
            activity=info.activity_type,
            attempt=info.attempt,
        ):
            return await self.next.execute_activity(input)
