"""KICKOFF_MAX_BODY_BYTES: a request body is counted while it arrives, and refused with 413 past it.

A pure ASGI middleware around everything that reads a body (the Idempotency-Key middleware, the
error handlers, the routes, the board's forms and ``POST /contracts``' signature check, which
needs the whole body): a ``Content-Length`` above the limit is answered at once, without passing
a byte of the body on; a body without one (chunked) is counted as its chunks are received and
cut off at the first chunk past the limit.

The 413 closes the connection, after a short linger: what the client is still sending is read
and dropped for at most ``LINGER_BYTES`` or ``LINGER_SECONDS`` (as nginx does), so a client that
sends its whole body before it reads the answer (most do) gets the 413 rather than a reset
connection when it overshot a little, and one that sends hundreds of megabytes is cut off.
A client that asked ``Expect: 100-continue`` is answered without reading anything.

Starlette's own limit (FastAPI's ``max_body_size``) answered an over-long ``Content-Length`` in
plain text, and kept the connection open, reading the rest of the body to find the next request:
the whole of 300 MB posted with a bogus signature went through the server (15 s).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping

from fastapi import HTTPException, status
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LINGER_BYTES = 4 * 1024 * 1024
"""How much more of a refused body is read (and dropped) before the connection is closed."""
LINGER_SECONDS = 5.0
"""How long at most a refused body is read before the connection is closed."""


class BodyTooLargeError(HTTPException):
    """Raised by ``receive`` once a body has passed its limit; every layer inside the middleware
    lets it through (FastAPI re-raises an HTTPException), and the middleware answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, too_large_reason(limit))
        self.limit = limit


def too_large_reason(limit: int) -> str:
    return f"the body is larger than the {limit} bytes this endpoint accepts"


class BodyLimitMiddleware:
    """Refuse a body above ``max_bytes`` (or above ``path_limits[path]``, when that is smaller)."""

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    def limit_for(self, path: str) -> int:
        """The stricter of the app's limit and the path's own."""
        return min(self.max_bytes, self.path_limits.get(path, self.max_bytes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = Headers(scope=scope)
        declared = _content_length(headers)
        # A client waiting for "100 Continue" sends no body unless it is asked to read it.
        linger = headers.get("expect", "").lower() != "100-continue"
        if declared is not None and declared > limit:
            await _refuse(receive, send, limit, linger)
            return

        received = 0
        exceeded = False
        started = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded, linger
            if exceeded:
                raise BodyTooLargeError(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    # Nothing to linger for when this was the body's last chunk.
                    linger = linger and message.get("more_body", False)
                    raise BodyTooLargeError(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the inner app's answer to a body it was not given: dropped
            if message["type"] == "http.response.start":
                if exceeded:
                    # Whatever a layer inside made of the cut-off body, the answer is the 413.
                    replaced = True
                    await _refuse(receive, send, limit, linger)
                    return
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLargeError:
            if started:
                raise
        if exceeded and not (started or replaced):
            await _refuse(receive, send, limit, linger)


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # the server refuses a malformed Content-Length before the app sees it


async def _refuse(receive: Receive, send: Send, limit: int, linger: bool) -> None:
    """Send the 413 (whole: the client can read it at once), linger, then end the response,
    which closes the connection: the rest of the body is never read."""
    body = json.dumps({"detail": too_large_reason(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status.HTTP_413_CONTENT_TOO_LARGE,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": True})
    if linger:
        await _drop_some(receive)
    await send({"type": "http.response.body", "body": b""})


async def _drop_some(receive: Receive) -> None:
    """Read and drop what the client is still sending, up to LINGER_BYTES or LINGER_SECONDS."""
    dropped = 0
    deadline = time.monotonic() + LINGER_SECONDS
    while dropped <= LINGER_BYTES:
        try:
            message = await asyncio.wait_for(receive(), timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return
        if message["type"] != "http.request":
            return  # the client has gone
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
