"""structlog configuration shared by the API, the worker and the dev stack.

Log lines carry ids (onboarding id, run id, message id, route) bound through
contextvars at each entry point; never names, addresses or phone numbers. Two
backstops keep it so when a line is written carelessly: values under keys that
name personal data are redacted, and a traceback shows a validation error's
field paths and error types instead of its message, which repeats the input.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
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
        redact_personal_fields,
    ]
    rendering: list[structlog.typing.Processor] = (
        # A traceback becomes one "exception" string, so every line stays one JSON object.
        [structlog.processors.ExceptionRenderer(redacted_traceback), structlog.processors.JSONRenderer()]
        if json
        else [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=_write_redacted_traceback)]
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


PERSONAL_KEYS = frozenset(
    {
        "body",
        "booked_by",
        "contract",
        "customer",
        "email",
        "input",
        "input_value",
        "main_user",
        "note",
        "org_number",
        "owner",
        "payload",
        "phone",
        "to",
    }
)
"""Log keys whose values would be personal data (or a body holding it). No line Kickoff writes
uses them; one that did would show ``[redacted]``, not the value."""
REDACTED = "[redacted]"


def redact_personal_fields(
    logger: Any, method_name: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Replace the value of every key in ``PERSONAL_KEYS`` with ``[redacted]``."""
    for key in PERSONAL_KEYS.intersection(event_dict):
        event_dict[key] = REDACTED
    return event_dict


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def redacted_traceback(exc_info: ExcInfo) -> str:
    """Python's traceback text, except that a validation error (pydantic's, or FastAPI's, which
    list each error with its ``input``) shows only its errors' field paths and types.

    The chain (``raise ... from``, an exception while handling another) is shown as Python
    shows it; exception groups show each exception they hold."""
    return "".join(_chain(exc_info[1], set())).rstrip("\n")


def _write_redacted_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    sio.write("\n" + redacted_traceback(exc_info))


def _chain(exc: BaseException, seen: set[int]) -> list[str]:
    seen.add(id(exc))
    lines: list[str] = []
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        lines += _chain(cause, seen)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        lines += _chain(context, seen)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    if exc.__traceback__ is not None:
        lines.append("Traceback (most recent call last):\n")
        lines += traceback.format_tb(exc.__traceback__)
    lines += _exception_only(exc)
    if isinstance(exc, BaseExceptionGroup):
        for number, inner in enumerate(exc.exceptions, 1):
            lines.append(f"+---------------- {number} ----------------\n")
            lines += _chain(inner, seen)
    return lines


def _exception_only(exc: BaseException) -> list[str]:
    errors = _validation_errors(exc)
    if errors is None:
        return traceback.format_exception_only(type(exc), exc)
    listed = "; ".join(describe_errors(error for error in errors if isinstance(error, Mapping)))
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return [f"{name}: {len(errors)} validation error(s) [values not logged]: {listed}\n"]


def describe_errors(errors: Iterable[Mapping[str, Any]]) -> list[str]:
    """``customer.name: string_too_long`` per validation error: where and what, for a log line."""
    described = []
    for error in errors:
        parts = [str(part) for part in map(loc_part, error.get("loc", ()))]
        described.append(f"{'.'.join(parts) or '(body)'}: {error.get('type', '?')}")
    return described


def loc_part(part: Any) -> str | int:
    """A part of a validation error's path: an index, a field's name, or ``?`` for a key that
    is not a name (a free-form object's key, e.g. of an event payload, can be anything)."""
    if isinstance(part, int) and not isinstance(part, bool):
        return part
    text = str(part)
    return text if len(text) <= 64 and text.replace("-", "_").isidentifier() else "?"


def _validation_errors(exc: BaseException) -> Sequence[Any] | None:
    """The errors of a pydantic ``ValidationError`` or a FastAPI ``RequestValidationError`` /
    ``ResponseValidationError`` (both have ``errors()``; FastAPI is not imported here)."""
    errors: Callable[[], Any] | None = getattr(exc, "errors", None)
    if not callable(errors):
        return None
    try:
        listed = errors()
    except Exception:  # an unrelated errors() method: format the exception as usual
        return None
    return listed if isinstance(listed, Sequence) and not isinstance(listed, str) else None


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
