"""Error answers that name the field and the problem, never what was sent.

Request bodies hold personal data: a contract's names, e-mail, phone and org number, the
notes and names of staff actions. FastAPI's default 422 repeats every invalid value
(``input``, some ``ctx`` entries and messages); a body that is not UTF-8 became a 400, or on
``POST /contracts`` a 500 whose logged traceback held the whole body. Here every answer to a
body that cannot be read or validated is a 422 (413 when too large) with a reason, in
FastAPI's ``detail`` shape (``type``, ``loc``, ``msg``) so clients keep working.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from temporalio.service import RPCError

from kickoff.board import error_page, is_board
from kickoff.logging_setup import loc_part
from kickoff.service import ConflictError, NotFoundError, UnavailableError, UnprocessableError

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024
"""The largest request body the app reads (Temporal's own limit on one gRPC message)."""

SAFE_MESSAGES = frozenset(
    {
        "missing",
        "extra_forbidden",
        "json_invalid",
        "json_type",
        "model_type",
        "model_attributes_type",
        "dataclass_type",
        "dict_type",
        "mapping_type",
        "list_type",
        "tuple_type",
        "set_type",
        "frozen_set_type",
        "iterable_type",
        "invalid_key",
        "none_required",
        "string_type",
        "string_sub_type",
        "string_unicode",
        "string_too_short",
        "string_too_long",
        "string_pattern_mismatch",
        "bytes_type",
        "bytes_invalid_encoding",
        "bool_type",
        "bool_parsing",
        "int_type",
        "int_parsing",
        "int_parsing_size",
        "int_from_float",
        "float_type",
        "float_parsing",
        "finite_number",
        "decimal_type",
        "decimal_parsing",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "multiple_of",
        "too_short",
        "too_long",
        "literal_error",
        "enum",
        "date_type",
        "date_parsing",
        "date_from_datetime_parsing",
        "date_from_datetime_inexact",
        "datetime_type",
        "datetime_parsing",
        "datetime_from_date_parsing",
        "datetime_object_invalid",
        "time_type",
        "time_parsing",
        "timezone_aware",
        "timezone_naive",
        "url_type",
        "url_parsing",
        "url_scheme",
        "uuid_type",
    }
)
"""Pydantic error types whose message and context hold only the schema's constraints (a limit,
a pattern, the allowed values, a parser's position), never the submitted value. Any other type
(``value_error`` and ``assertion_error`` from validators, e-mail checks, ``union_tag_invalid``,
…) keeps its message only while it does not repeat the value, and loses its context."""

_WORDS = re.compile(r"[^\W\d_]{4,}|\d{5,}")
"""What of a value could identify someone if a message repeated it: words of four letters or
more, runs of five digits or more (org numbers, phone numbers)."""

UNREADABLE_BODY = "There was an error parsing the body"
"""FastAPI's 400 for a body ``json.loads`` cannot even decode (not UTF-8, nested too deeply)."""


def public_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors as the API answers them: ``type``, ``loc``, ``msg`` and, for types whose
    context holds only constraints, ``ctx``; never ``input`` or a message repeating it."""
    return [public_error(error) for error in errors]


def public_error(error: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(error.get("type", "value_error"))
    message = str(error.get("msg", ""))
    answer: dict[str, Any] = {"type": kind, "loc": [loc_part(part) for part in error.get("loc", ())]}
    if kind in SAFE_MESSAGES:
        answer["msg"] = message
        context = {key: value for key, value in (error.get("ctx") or {}).items() if _plain(value)}
        if context:
            answer["ctx"] = context
    elif echoes(message, error.get("input")):
        answer["msg"] = _withheld(message)
    else:
        answer["msg"] = message
    return answer


def echoes(message: str, value: Any) -> bool:
    """Whether ``message`` repeats ``value``, or a word or number of it, in any case.

    Only a scalar is looked for: an object's errors (``loc`` = the model) come from model
    validators, which are Kickoff's own and name fields, and whose allowed values (an
    outcome such as ``completed``) would otherwise count as repeated input."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return False
    text, haystack = str(value).strip().casefold(), message.casefold()
    if len(text) >= 3 and text in haystack:
        return True
    return any(word in haystack for word in _WORDS.findall(text))


def _withheld(message: str) -> str:
    if message.startswith("value is not a valid email address"):
        return "value is not a valid email address"
    return "invalid value (not repeated here: it may be personal data)"


def _plain(value: Any) -> bool:
    if isinstance(value, str | int | float | bool) or value is None:
        return True
    return isinstance(value, list | tuple) and all(_plain(item) for item in value)


def unreadable_body(reason: str, loc: Sequence[str | int] = ("body",)) -> RequestValidationError:
    """The 422 for a body that is not JSON at all, in the shape of pydantic's ``json_invalid``."""
    error = {"type": "json_invalid", "loc": tuple(loc), "msg": f"Invalid JSON: {reason}"}
    return RequestValidationError([error])


def not_decodable_reason(exc: BaseException) -> str:
    """Why ``json.loads`` could not even decode a body, without any of its bytes."""
    if isinstance(exc, UnicodeDecodeError):
        return f"the body is not UTF-8 (invalid byte at position {exc.start})"
    if isinstance(exc, RecursionError):
        return "the body is nested too deeply"
    return "the body could not be decoded"


def install_error_handlers(app: FastAPI) -> None:
    """Map the service's errors, Temporal being unreachable and unreadable or invalid bodies
    to answers with a reason, and none of them to a 500."""

    def service_error(code: int) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(request: Request, exc: Exception) -> Response:
            return JSONResponse({"detail": str(exc)}, status_code=code)

        return handler

    app.add_exception_handler(NotFoundError, service_error(status.HTTP_404_NOT_FOUND))
    app.add_exception_handler(ConflictError, service_error(status.HTTP_409_CONFLICT))
    app.add_exception_handler(UnprocessableError, service_error(status.HTTP_422_UNPROCESSABLE_CONTENT))
    app.add_exception_handler(UnavailableError, service_error(status.HTTP_503_SERVICE_UNAVAILABLE))

    async def temporal_unreachable(request: Request, exc: Exception) -> Response:
        # Temporal down, restarting or out of reach: 503 saying so, not a bare 500.
        assert isinstance(exc, RPCError)
        log.warning("temporal.unreachable", status=exc.status.name if exc.status else None)
        message = "Temporal did not answer, so nothing was read or changed: try again shortly."
        if is_board(request):
            return error_page(request, "Temporal unavailable", status.HTTP_503_SERVICE_UNAVAILABLE, message)
        return JSONResponse({"detail": message}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(
            {"detail": public_errors(exc.errors())}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == status.HTTP_400_BAD_REQUEST and exc.detail == UNREADABLE_BODY:
            # FastAPI's answer to a body json.loads could not decode; the cause says why.
            reason = not_decodable_reason(exc.__cause__ or exc)
            if is_board(request):
                return error_page(request, "Form rejected", status.HTTP_422_UNPROCESSABLE_CONTENT, reason)
            return await invalid_request(request, unreadable_body(reason))
        if exc.status_code == status.HTTP_413_CONTENT_TOO_LARGE:
            limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY, MAX_BODY_BYTES)
            reason = f"the body is larger than the {limit} bytes this endpoint accepts"
            return JSONResponse({"detail": reason}, status_code=exc.status_code)
        return await http_exception_handler(request, exc)

    app.add_exception_handler(RPCError, temporal_unreachable)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
