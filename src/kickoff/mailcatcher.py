"""A local SMTP catcher for development and tests: keeps every mail it receives.

``python -m kickoff.mailcatcher`` listens on KICKOFF_SMTP_PORT and writes each
message to ``<KICKOFF_DATA_DIR>/mail/<time>-<n>.eml``.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import logging
import signal
import socket
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.controller import Controller

from kickoff.logging_setup import configure_logging
from kickoff.settings import get_settings

log = structlog.get_logger(__name__)


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        raw: bytes = envelope.original_content or envelope.content
        self.catcher.receive(raw, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class MailCatcher:
    """An aiosmtpd server on loopback; ``messages`` holds what arrived, in order."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, folder: Path | None = None) -> None:
        self.folder = folder
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._controller = Controller(_Handler(self), hostname=host, port=port or free_port(host))

    @property
    def host(self) -> str:
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def receive(self, raw: bytes, recipients: list[str]) -> None:
        message = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            number = next(self._counter)
        if self.folder is not None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            (self.folder / f"{stamp}-{number:04d}.eml").write_bytes(raw)
        log.info("mailcatcher.received", message_id=message["Message-ID"], recipients=len(recipients))

    def with_message_id(self, message_id: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["Message-ID"] == message_id]

    def for_onboarding(self, onboarding_id: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["X-Kickoff-Onboarding"] == onboarding_id]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for servers started by tests and tools)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


async def _serve() -> None:
    settings = get_settings()
    configure_logging(json=settings.log_json)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-connection chatter
    catcher = MailCatcher(host="127.0.0.1", port=settings.smtp_port, folder=settings.data_dir / "mail")
    catcher.start()
    log.info("mailcatcher.started", port=catcher.port, folder=str(catcher.folder))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    catcher.stop()


def main() -> None:
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
