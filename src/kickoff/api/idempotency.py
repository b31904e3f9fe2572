"""Idempotency-Key on every state-changing route, remembered in Kickoff's database (issue 12).

A pure ASGI middleware in front of the routes (inside the body-size limit, so the body it
reads is bounded). A POST, PUT, PATCH or DELETE of the JSON API with an ``Idempotency-Key``
header claims the key for its caller in ``kickoff.db.idempotency`` before anything runs:

- the first request with a key runs; an answer below 400 is remembered for
  ``KICKOFF_IDEMPOTENCY_KEY_HOURS`` and comes back to a retry of the same request with
  ``Idempotent-Replayed: true``, however many runs (continue-as-new, restarts) or API processes
  later;
- the same key with another request (method, path, query or body) is 422;
- while the first is still being answered, a retry waits a few seconds for its answer, then
  gets 409 with ``Retry-After``;
- a refusal (4xx: nothing was changed), a failure (5xx) or an exception is not remembered:
  the key is released, so the request can be sent again with it once it can succeed; nor is an
  answer marked ``Cache-Control: no-store`` (a secret shown once);
- a malformed key is 422 before anything is read.

A key is scoped to its caller: an HMAC of the ``Authorization`` header (the credential itself
is never stored), and one fixed caller for the signed ``POST /contracts``. The request is
fingerprinted the same keyed way, so the table holds no body, nor a hash to guess one by. A
remembered answer to a request naming an onboarding is sealed with that onboarding's data key:
erasing its personal data makes the answer unreadable, and a retry then runs afresh.

Keys and bodies are never logged: a body holds personal data, and a key could.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import structlog
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kickoff.context import AppContext
from kickoff.crypto.data_keys import ErasedError, UnknownKeyError
from kickoff.crypto.fields import ERASED, PREFIX, UNREADABLE, FieldSealer, sealer_of
from kickoff.db.idempotency import (
    Answered,
    Claimed,
    IdempotencyStore,
    InFlight,
    KeyRow,
    OtherRequest,
    StoredAnswer,
)

log = structlog.get_logger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_THE_JSON_API = ("/board", "/codec")
"""The board (forms with their own sessions and redirects) and the codec server are left alone."""
MAX_KEY_LENGTH = 200
"""The limit the events and checklist routes have always declared for the header, now for all."""
CONTRACTS_PRINCIPAL = "contracts"
"""Whose keys ``POST /contracts`` has: the signing system's (it sends no Authorization)."""
IN_FLIGHT_WAIT = 5.0
"""Seconds a retry waits for the request answering its key before it gets 409."""
RETRY_AFTER_SECONDS = 1
MAX_REMEMBERED_BYTES = 1024 * 1024
"""A larger answer is sent as it comes and not remembered (the JSON API's are a few KiB)."""
PURGE_EVERY_SECONDS = 60.0
"""How often a process deletes expired keys, after answering a request that had one."""
REMEMBERED_HEADERS = frozenset({"content-type", "content-language", "content-location", "location", "link"})
"""Response headers a replay repeats, with the API's own ``X-Kickoff-*``; never a cookie."""
_LOC = ["header", HEADER.lower()]
_ONBOARDING_PATH = re.compile(r"^/onboardings/([^/]+)")


def install_idempotency(app: FastAPI) -> None:
    """Install the Idempotency-Key middleware on ``app`` (inside the body-size limit)."""
    app.add_middleware(IdempotencyMiddleware)
    documented = app.openapi

    def openapi() -> dict[str, Any]:
        schema = documented()
        document_header(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def applies(method: str, path: str) -> bool:
    """Whether a request of ``method`` to ``path`` honours an Idempotency-Key."""
    if method.upper() not in STATE_CHANGING:
        return False
    return not any(path == prefix or path.startswith(prefix + "/") for prefix in NOT_THE_JSON_API)


def _routed(scope: Scope) -> bool:
    """Whether a route answers this method on this path: a key on a 405 or 404 claims nothing."""
    return any(route.matches(dict(scope))[0] is Match.FULL for route in scope["app"].router.routes)


def key_problem(values: list[bytes]) -> dict[str, Any] | None:
    """Why the request's Idempotency-Key header(s) cannot name it, in FastAPI's error shape."""
    if len(values) > 1:
        return {"type": "idempotency_key_repeated", "loc": _LOC, "msg": f"send one {HEADER} header"}
    [value] = values
    if not value:
        return {
            "type": "string_too_short",
            "loc": _LOC,
            "msg": "String should have at least 1 character",
            "ctx": {"min_length": 1},
        }
    if len(value) > MAX_KEY_LENGTH:
        return {
            "type": "string_too_long",
            "loc": _LOC,
            "msg": f"String should have at most {MAX_KEY_LENGTH} characters",
            "ctx": {"max_length": MAX_KEY_LENGTH},
        }
    if not all(0x20 <= byte <= 0x7E for byte in value):
        return {
            "type": "string_pattern_mismatch",
            "loc": _LOC,
            "msg": "a key is printable ASCII (letters, digits, punctuation, spaces): a UUID is a good key",
        }
    return None


def principal_of(path: str, authorization: bytes | None, secret: bytes) -> str:
    """Whose key it is: a keyed fingerprint of the credential, never the credential."""
    if path == "/contracts":
        return CONTRACTS_PRINCIPAL
    return hmac.new(secret, b"principal\0" + (authorization or b""), hashlib.sha256).hexdigest()


def request_fingerprint(method: str, path: str, query: bytes, body: bytes, secret: bytes) -> str:
    """Method, path, query and body, keyed: the same request again has the same fingerprint."""
    parts = [b"request", method.upper().encode(), path.encode(), query, hashlib.sha256(body).digest()]
    return hmac.new(secret, b"\0".join(parts), hashlib.sha256).hexdigest()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._store: IdempotencyStore | None = None
        self._next_purge = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not applies(scope["method"], scope["path"]) or not _routed(scope):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        values = [value for name, value in headers if name.lower() == HEADER.lower().encode()]
        if not values:
            await self.app(scope, receive, send)
            return
        problem = key_problem(values)
        if problem is not None:
            await _send_json(send, 422, {"detail": [problem]})
            return
        messages, body, whole = await _read_body(receive)
        replaying = _replaying(messages, receive)
        if not whole:  # the client left before sending its body: nothing to answer
            await self.app(scope, replaying, send)
            return
        context: AppContext = scope["app"].state.kickoff
        secret = context.settings.session_secret.get_secret_value().encode()
        authorization = next((value for name, value in headers if name.lower() == b"authorization"), None)
        principal = principal_of(scope["path"], authorization, secret)
        fingerprint = request_fingerprint(
            scope["method"], scope["path"], scope.get("query_string", b""), body, secret
        )
        store = self._store_of(context)
        await self._answer(
            scope, replaying, send, context, store, (principal, values[0].decode(), fingerprint)
        )
        await self._purge_now_and_then(store)

    def _store_of(self, context: AppContext) -> IdempotencyStore:
        if self._store is None:
            ttl = timedelta(hours=context.settings.idempotency_key_hours)
            self._store = IdempotencyStore(context.database, ttl=ttl)
        return self._store

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        context: AppContext,
        store: IdempotencyStore,
        request: tuple[str, str, str],
    ) -> None:
        principal, key, fingerprint = request
        onboarding = onboarding_of(scope["path"])
        sealer = sealer_of(context.service.client.data_converter) if context.service else None
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + IN_FLIGHT_WAIT, 0.05
        while True:
            try:
                claim = await store.claim(principal, key, fingerprint, datetime.now(UTC))
                replay = await _readable(claim, onboarding, sealer) if isinstance(claim, Answered) else None
                if isinstance(claim, Answered) and replay is None:
                    # Sealed for an onboarding whose personal data was erased since: gone.
                    await store.release(claim.row)
                    continue
            except (SQLAlchemyError, OSError) as err:
                log.warning("idempotency.database_unavailable", error=type(err).__name__)
                reason = (
                    f"Kickoff's database did not answer, so the {HEADER} could not be checked and "
                    "nothing was done: try again shortly"
                )
                await _send_json(send, 503, {"detail": reason}, retry_after=True)
                return
            if isinstance(claim, Claimed):
                await self._run(scope, receive, send, store, claim.row, (onboarding, sealer))
                return
            if isinstance(claim, OtherRequest):
                log.info("idempotency.key_reused")
                hours = f"{store.ttl.total_seconds() / 3600:g}"
                await _send_json(send, 422, {"detail": [_reused(hours)]})
                return
            if isinstance(claim, Answered):
                assert replay is not None
                log.info("idempotency.replayed", status=claim.answer.status_code)
                await _send_replay(send, claim.answer, replay)
                return
            assert isinstance(claim, InFlight)
            if loop.time() >= deadline:
                log.info("idempotency.in_flight")
                reason = (
                    f"a request with this {HEADER} is still being answered: send it again in a "
                    "moment to get its answer"
                )
                await _send_json(send, 409, {"detail": reason}, retry_after=True)
                return
            await asyncio.sleep(min(pause, max(deadline - loop.time(), 0.0)))
            pause = min(pause * 2, 0.5)

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        store: IdempotencyStore,
        row: KeyRow,
        sealing: tuple[str | None, FieldSealer | None],
    ) -> None:
        """Run the request holding the key; remember its answer or release the key, then send it."""
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        whole = False
        passing = False  # too large, or not a plain answer: sent as it comes, not remembered

        async def capture(message: Message) -> None:
            nonlocal start, size, whole, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start" and start is None:
                start = message
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if not message.get("more_body", False):
                    whole = True
                    return
                if size <= MAX_REMEMBERED_BYTES:
                    return
                message = {"type": "http.response.body", "body": b"".join(chunks), "more_body": True}
                chunks.clear()
            passing = True
            await _shielded_release(store, row)
            if start is not None:
                await send(start)
            if chunks:
                await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            # Starlette's outermost layer turns it into a 500: a retry may run it again.
            await _shielded_release(store, row)
            raise
        if passing:
            return
        body = b"".join(chunks)
        if start is None or not whole:
            await _shielded_release(store, row)
            if start is not None:
                await send(start)
                await send({"type": "http.response.body", "body": body})
            return
        status_code: int = start["status"]
        if 200 <= status_code < 400 and not _no_store(start):
            await _remember(store, row, start, body, sealing)
        else:
            await _shielded_release(store, row)
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def _purge_now_and_then(self, store: IdempotencyStore) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_purge:
            return
        self._next_purge = loop.time() + PURGE_EVERY_SECONDS
        try:
            purged = await store.purge_expired(datetime.now(UTC))
        except (SQLAlchemyError, OSError) as err:
            log.warning("idempotency.purge_failed", error=type(err).__name__)
            return
        if purged:
            log.info("idempotency.purged", keys=purged)


async def _remember(
    store: IdempotencyStore,
    row: KeyRow,
    start: Message,
    body: bytes,
    sealing: tuple[str | None, FieldSealer | None],
) -> None:
    """Store the answer for retries; when that cannot be done, release the key instead."""
    onboarding, sealer = sealing
    headers = [
        (name.decode("latin-1").lower(), value.decode("latin-1"))
        for name, value in start.get("headers", [])
        if name.decode("latin-1").lower() in REMEMBERED_HEADERS or name.lower().startswith(b"x-kickoff-")
    ]
    try:
        stored = body
        if onboarding is not None and sealer is not None:
            stored = (await sealer.seal(onboarding, body.decode("utf-8"))).encode("ascii")
        if not await store.complete(row, StoredAnswer(start["status"], headers, stored)):
            log.warning("idempotency.claim_lost", status=start["status"])
        return
    except (ErasedError, UnknownKeyError, UnicodeDecodeError) as err:
        # Erased meanwhile (the erasure itself, or a race with it): not stored in clear.
        log.info("idempotency.answer_not_remembered", error=type(err).__name__)
    except (SQLAlchemyError, OSError) as err:
        log.warning("idempotency.answer_not_remembered", error=type(err).__name__)
    await _shielded_release(store, row)


def _no_store(start: Message) -> bool:
    """``Cache-Control: no-store``: an answer holding a secret shown once (a new token), which no
    store may keep; its key is released instead (a retry makes another)."""
    for name, value in start.get("headers", []):
        if name.lower() == b"cache-control" and b"no-store" in value.lower():
            return True
    return False


async def _shielded_release(store: IdempotencyStore, row: KeyRow) -> None:
    """Release the key even while the request is being cancelled; a failure only logs (the
    claim's lease then frees the key)."""
    with anyio.CancelScope(shield=True):
        try:
            await store.release(row)
        except (SQLAlchemyError, OSError) as err:
            log.warning("idempotency.release_failed", error=type(err).__name__)


async def _readable(claim: Answered, onboarding: str | None, sealer: FieldSealer | None) -> bytes | None:
    """The remembered body as it was sent, or None when it can no longer be opened."""
    body = claim.answer.body
    if not body.startswith(PREFIX.encode()):
        return body
    if onboarding is None or sealer is None:
        return None
    opened = await sealer.open(onboarding, body.decode("ascii"))
    if opened is None or opened in (ERASED, UNREADABLE):
        return None
    return opened.encode("utf-8")


def _reused(hours: str) -> dict[str, Any]:
    return {
        "type": "idempotency_key_reused",
        "loc": _LOC,
        "msg": (
            f"this {HEADER} was used for another request (a different method, path, query or body) "
            f"in the last {hours} hours: send a new key with each new request"
        ),
    }


async def _read_body(receive: Receive) -> tuple[list[Message], bytes, bool]:
    """Every message of the request's body, the body, and whether it arrived whole."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] == "http.disconnect":
            return messages, b"", False
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return messages, b"".join(chunks), True


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` for the app: the messages read already, then the server's."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def onboarding_of(path: str) -> str | None:
    """The onboarding a request's path names (``/onboardings/{onboarding_id}/…``), if any."""
    found = _ONBOARDING_PATH.match(path)
    return found.group(1) if found else None


async def _send_json(
    send: Send, status_code: int, content: Mapping[str, Any], *, retry_after: bool = False
) -> None:
    body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    await send({"type": "http.response.start", "status": status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_replay(send: Send, answer: StoredAnswer, body: bytes) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    headers += [(b"content-length", str(len(body)).encode()), (REPLAYED_HEADER.lower().encode(), b"true")]
    await send({"type": "http.response.start", "status": answer.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "A new key (a UUID) for each new request, the same key when retrying it: for "
        "KICKOFF_IDEMPOTENCY_KEY_HOURS (24 h) a retry gets the first answer again (with "
        f"`{REPLAYED_HEADER}: true`) and nothing is applied twice. The key with another request is "
        "422; while the first is still being answered, 409 with Retry-After. A refused (4xx) or "
        "failed (5xx) request does not use its key up."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
}


_ANSWERS = {
    "409": f"The {HEADER}'s first request is still being answered: send it again after Retry-After",
    "422": f"A malformed {HEADER}, or one used for another request",
}
"""The middleware's own answers, listed on an operation that does not list them already."""


def document_header(schema: dict[str, Any]) -> None:
    """Declare the optional header on every operation that honours it (once)."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or not applies(method, path):
                continue
            parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
            named = (p for p in parameters if p.get("in") == "header")
            if not any(str(p.get("name", "")).lower() == HEADER.lower() for p in named):
                parameters.append(dict(_PARAMETER))
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for code, description in _ANSWERS.items():
                responses.setdefault(code, {"description": description})
