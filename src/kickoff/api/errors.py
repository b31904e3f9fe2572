"""Error answers that name the field and the problem, never what was sent.

Request bodies hold personal data: a contract's names, e-mail, phone and org number, the
notes and names of staff actions. FastAPI's default 422 repeats every invalid value
(``input``, some ``ctx`` entries and messages); a body that is not UTF-8 became a 400, or on
``POST /contracts`` a 500 whose logged traceback held the whole body. Here every answer to a
body that cannot be read or validated is a 422 (413 when too large, see ``body_limit``) with a
reason, in FastAPI's ``detail`` shape (``type``, ``loc``, ``msg``) so clients keep working; so is
every other 422, the service's refusals included, as the OpenAPI schema says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response, status
from fastapi.dependencies.models import Dependant
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from temporalio.service import RPCError

from kickoff.board import error_page, is_board
from kickoff.logging_setup import loc_part
from kickoff.service import ConflictError, NotFoundError, UnavailableError, UnprocessableError

log = structlog.get_logger(__name__)

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
    if isinstance(exc, AmbiguousJsonError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"the body is not UTF-8 (invalid byte at position {exc.start})"
    if isinstance(exc, RecursionError):
        return "the body is nested too deeply"
    return "the body could not be decoded"


class AmbiguousJsonError(ValueError):
    """JSON that parsers read differently: a key twice in one object (Python's ``json`` keeps the
    last value, others the first or refuse it), or a lone surrogate escape such as ``\\ud800``
    (a string no UTF-8 can encode: Temporal's converter failed on it, a 500)."""


def loads_strict(document: str | bytes) -> Any:
    """``json.loads``, refusing a duplicated key and a lone surrogate with ``AmbiguousJsonError``.

    A refusal names a key only when it looks like a field name: a key could be anything typed."""
    value = json.loads(document, object_pairs_hook=_unique_keys)
    pending = [value]
    while pending:  # not recursive: json.loads accepts deeper nesting than a recursive walk would
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
            strings: Iterable[Any] = item.keys()
        elif isinstance(item, list):
            pending.extend(item)
            strings = ()
        else:
            strings = (item,)
        for text in strings:
            if isinstance(text, str) and not _encodable(text):
                raise AmbiguousJsonError("a string holds a lone surrogate escape (\\ud800-\\udfff)")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            named = "a key" if _named(key) == "?" else repr(key)
            raise AmbiguousJsonError(f"{named} appears twice in one object")
        obj[key] = value
    return obj


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class StrictJsonRequest(Request):
    """A request whose JSON body is parsed by ``loads_strict``."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_strict(await self.body())
        return self._json


class StrictRoute(APIRoute):
    """A route that refuses what it would otherwise ignore or misread: ``APIRouter(route_class=...)``.

    - a JSON body is parsed by ``loads_strict`` (FastAPI answers what ``json.loads`` raises
      besides a syntax error with its 400, which ``install_error_handlers`` turns into the 422
      with this reason);
    - a query parameter the route does not declare is a 422 (``?stag=new`` listed every
      onboarding, as if no stage had been asked for)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        declared = frozenset(_query_names(self.dependant))

        async def strict(request: Request) -> Response:
            unknown = [name for name in dict.fromkeys(request.query_params) if name not in declared]
            if unknown:
                raise RequestValidationError([_unknown_parameter(name) for name in unknown])
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict


def _unknown_parameter(name: str) -> dict[str, Any]:
    loc = ("query", _named(name))
    return {"type": "extra_forbidden", "loc": loc, "msg": "Extra inputs are not permitted"}


def _query_names(dependant: Dependant) -> Iterator[str]:
    for param in dependant.query_params:
        yield param.alias
    for sub in dependant.dependencies:
        yield from _query_names(sub)


def _named(key: str) -> str:
    """A key as a refusal may repeat it: a field name, or ``?`` (a key could be anything typed)."""
    return key if len(key) <= 64 and key.replace("-", "_").isidentifier() else "?"


def refusal_errors(reason: str, loc: Sequence[str | int] = ()) -> list[dict[str, Any]]:
    """A service's refusal (UnprocessableError) as a 422's ``detail`` list: one ``value_error``
    with the whole reason (it names the field itself, e.g. ``unknown stage 'x'``)."""
    return [{"type": "value_error", "loc": list(loc), "msg": reason}]


ROUTABLE_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on the request's path, and OPTIONS.

    Starlette's 405 lists the methods of the first route whose path matched, so
    ``/onboardings/{id}`` (GET and PATCH, two routes) said ``Allow: GET``."""
    allowed = {"OPTIONS"}
    for method in ROUTABLE_METHODS:
        probe = {
            "type": "http",
            "method": method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "headers": [],
            "query_string": b"",
        }
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            allowed.add(method)
    return sorted(allowed)


def install_error_handlers(app: FastAPI) -> None:
    """Map the service's errors, Temporal being unreachable and unreadable or invalid bodies
    to answers with a reason, and none of them to a 500."""

    def service_error(code: int) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handler(request: Request, exc: Exception) -> Response:
            return JSONResponse({"detail": str(exc)}, status_code=code)

        return handler

    async def service_refusal(request: Request, exc: Exception) -> Response:
        # A 422's detail is a list everywhere (FastAPI's shape, and what the schema documents).
        return JSONResponse(
            {"detail": refusal_errors(str(exc))}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )

    app.add_exception_handler(NotFoundError, service_error(status.HTTP_404_NOT_FOUND))
    app.add_exception_handler(ConflictError, service_error(status.HTTP_409_CONFLICT))
    app.add_exception_handler(UnprocessableError, service_refusal)
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
            # kickoff.api.body_limit's refusal, raised by receive(); the middleware answers it too.
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
            allow = ", ".join(allowed_methods(request))
            if request.method == "OPTIONS":
                return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"Allow": allow})
            return JSONResponse(
                {"detail": f"{request.method} is not a method of this path (it has: {allow})"},
                status_code=exc.status_code,
                headers={"Allow": allow},
            )
        return await http_exception_handler(request, exc)

    app.add_exception_handler(RPCError, temporal_unreachable)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
