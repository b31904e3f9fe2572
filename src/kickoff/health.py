"""Readiness checks for the API and the worker, and the worker's small health endpoint.

Liveness ("the process answers") and readiness ("it can do its work now") are asked
separately, so an orchestrator restarts a hung process but only holds traffic back from
one whose database or Temporal is away. Readiness asks two things of the world, each
bounded by a short timeout so a probe never hangs: Kickoff's database answers and is at
the newest migration, and Temporal answers. The answers name the failing part and
nothing else (no URLs, no error texts that might carry them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import TracebackType
from typing import Literal, Self

import structlog
from pydantic import BaseModel
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from kickoff.db import Database
from kickoff.db.migrate import is_migrated

log = structlog.get_logger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
"""Per check: well inside a probe's own timeout (compose gives it 5 s)."""

DatabaseState = Literal["ok", "not_migrated", "unreachable"]
TemporalState = Literal["ok", "unreachable"]
WorkerState = Literal["running", "starting", "stopping"]


class Readiness(BaseModel):
    """What ``/readyz`` answers: ready only when every part is ok."""

    status: Literal["ready", "not_ready"]
    database: DatabaseState
    temporal: TemporalState


class WorkerReadiness(Readiness):
    """The worker's ``/readyz``: the API's checks, and whether it is polling its task queue."""

    worker: WorkerState


async def database_state(database: Database, within: float = CHECK_TIMEOUT_SECONDS) -> DatabaseState:
    """ok when the database answers at the newest migration (``kickoff-admin migrate`` ran)."""
    try:
        migrated = await asyncio.wait_for(is_migrated(database), within)
    except Exception as exc:
        # Connection refused, bad credentials, no such database, a timeout: all "unreachable".
        # The type only: a driver's message can quote the URL it was given.
        log.warning("readiness.database_unreachable", error=type(exc).__name__)
        return "unreachable"
    return "ok" if migrated else "not_migrated"


async def temporal_state(client: Client | None, within: float = CHECK_TIMEOUT_SECONDS) -> TemporalState:
    """ok when Temporal's frontend answers GetSystemInfo: the call the SDK itself makes on
    connecting, so it works on every cluster, Temporal Cloud included, with the client's
    own TLS and API key."""
    if client is None:
        return "unreachable"
    try:
        await asyncio.wait_for(
            client.workflow_service.get_system_info(
                GetSystemInfoRequest(), timeout=timedelta(seconds=within)
            ),
            within + 0.5,
        )
    except Exception as exc:
        log.warning("readiness.temporal_unreachable", error=type(exc).__name__)
        return "unreachable"
    return "ok"


async def readiness(database: Database, client: Client | None) -> Readiness:
    """Both checks, concurrently: the answer comes within one timeout, not two."""
    db, temporal = await asyncio.gather(database_state(database), temporal_state(client))
    ready = db == "ok" and temporal == "ok"
    return Readiness(status="ready" if ready else "not_ready", database=db, temporal=temporal)


async def worker_readiness(database: Database, client: Client | None, worker: WorkerState) -> WorkerReadiness:
    checked = await readiness(database, client)
    ready = checked.status == "ready" and worker == "running"
    return WorkerReadiness(
        status="ready" if ready else "not_ready",
        database=checked.database,
        temporal=checked.temporal,
        worker=worker,
    )


def parse_address(address: str, setting: str) -> tuple[str, int]:
    """``host:port`` (``[::]:9465`` for IPv6; port 0: any free one) into its parts; a clear
    error naming ``setting``."""
    host, sep, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{setting} must be host:port (e.g. 0.0.0.0:9465), not {address!r}")
    return host, int(port)


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
_READ_TIMEOUT_SECONDS = 5.0


class HealthServer:
    """``GET /healthz`` (the process answers) and ``GET /readyz`` (``ready()`` says ready)
    over plain HTTP/1.0-style exchanges: one request per connection, JSON bodies.

    Tiny on purpose: a probe needs a status code and a reason, not a web framework, and
    an asyncio server shares the worker's event loop without touching its signal handling.
    """

    def __init__(self, address: str, ready: Callable[[], Awaitable[Readiness]]) -> None:
        self.host, self.port = parse_address(address, "KICKOFF_WORKER_HEALTH_ADDRESS")
        self._ready = ready
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        # A port already taken fails here, at start-up, like the metrics port does.
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]  # the real one when 0 was asked for
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), _READ_TIMEOUT_SECONDS)
            while (await asyncio.wait_for(reader.readline(), _READ_TIMEOUT_SECONDS)).strip():
                pass  # headers: nothing in them matters here
            status, body, extra = await self._answer(request_line)
            payload = json.dumps(body).encode()
            head = [
                f"HTTP/1.1 {status} {_REASONS[status]}",
                "Content-Type: application/json",
                f"Content-Length: {len(payload)}",
                "Cache-Control: no-store",
                "Connection: close",
                *extra,
            ]
            writer.write("\r\n".join(head).encode() + b"\r\n\r\n" + payload)
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError, asyncio.IncompleteReadError):
            pass  # a client that goes away or sends garbage gets nothing
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, request_line: bytes) -> tuple[int, dict[str, object], list[str]]:
        method, path, _version = request_line.decode("latin-1").split(" ", 2)
        path = path.split("?", 1)[0]
        if path not in ("/healthz", "/readyz"):
            return 404, {"detail": "not found: try /healthz or /readyz"}, []
        if method != "GET":
            return 405, {"detail": "only GET"}, ["Allow: GET"]
        if path == "/healthz":
            return 200, {"status": "ok"}, []
        checked = await self._ready()
        return (200 if checked.status == "ready" else 503), checked.model_dump(), []
