"""Fixtures for the log and metrics tests: captured JSON logs, and the app plus a worker of their own."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from temporalio.client import Client

from kickoff.api import create_app
from kickoff.logging_setup import configure_logging
from kickoff.mailcatcher import MailCatcher
from kickoff.worker import create_worker
from tests.api.conftest import Kickoff
from tests.conftest import Api, api_settings, serve_app


class CapturedLogs:
    """What the process logged through Kickoff's JSON logging while the fixture was active."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def lines(self) -> list[str]:
        return [line for line in self._stream.getvalue().splitlines() if line.strip()]

    def records(self) -> list[dict[str, Any]]:
        """Every line parsed as JSON (fails the test on a line that is not one JSON object)."""
        records = []
        for line in self.lines():
            record = json.loads(line)
            assert isinstance(record, dict), line
            records.append(record)
        return records


@pytest.fixture
def json_logs() -> Iterator[CapturedLogs]:
    """``configure_logging(json=True)``, the production set-up, writing into a buffer.

    The previous logging set-up is restored afterwards so that later tests see
    the process as they would have without this one.
    """
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_structlog = structlog.get_config() if structlog.is_configured() else None
    # The in-process SMTP catcher stands in for the production relay: its aiosmtpd logger
    # prints each RCPT address at INFO. Quiet it as `python -m kickoff.mailcatcher` does;
    # it is not the system under test.
    smtp_log = logging.getLogger("mail.log")
    saved_smtp_level = smtp_log.level
    smtp_log.setLevel(logging.WARNING)
    stream = io.StringIO()
    configure_logging(json=True, stream=stream)
    # Cached loggers would keep this configuration after the restore below.
    structlog.configure(cache_logger_on_first_use=False)
    try:
        yield CapturedLogs(stream)
    finally:
        smtp_log.setLevel(saved_smtp_level)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        if saved_structlog is None:
            structlog.reset_defaults()
        else:
            structlog.configure(**saved_structlog)


@asynccontextmanager
async def served_kickoff(
    api_client: Client, worker_client: Client, smtp: MailCatcher, tmp_path: Path, **overrides: Any
) -> AsyncIterator[Kickoff]:
    """The app (on ``api_client``) and a worker (on ``worker_client``) on a fresh task queue;
    the onboardings started through the helper are terminated afterwards."""
    settings = api_settings(f"obs-{uuid.uuid4().hex}", tmp_path, smtp, **overrides)
    async with (
        create_worker(worker_client, settings),
        serve_app(create_app(client=api_client, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        kickoff = Kickoff(Api(http=http, settings=settings, client=api_client), smtp)
        try:
            yield kickoff
        finally:
            await kickoff.terminate_started()
