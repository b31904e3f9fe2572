"""The read model at scale, on the Temporal dev server: ``.venv/bin/python -m bench.read_model``.

Starts a Temporal dev server (in memory), an SMTP catcher, Kickoff's database (a throwaway
PostgreSQL server from Debian's package, started as tests/databases.py does; ``--sqlite``: the
embedded SQLite file), ``kickoff-admin migrate``, worker processes (``python -m kickoff.worker``)
and the API (uvicorn, as ``make run`` runs it) with the report cache off, so every report reads
SQL. It posts signed assist-se contracts to ``POST /contracts``, a bounded number at a time: half
deliver in six weeks (they wait in ``new``), half delivered two days ago (``onboarding`` at once:
open tasks and a welcome mail). Once every run has settled (the funnel counts each in its stage,
each wrote its own row, each welcome mail arrived or its run gave it up) it measures, one request
at a time, ``GET /tasks?status=open`` (first page), ``GET /board`` (signed in), both reports, how
soon a task marked done is gone from the task list, and the workers' resident memory.

A benchmark, not a test: numbers vary with the machine; compare runs on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import structlog
from sqlalchemy import Select, func, select

from bench.ingest import cpu_seconds
from kickoff.db import Database
from kickoff.db.schema import read_onboardings, read_tasks
from kickoff.devstack import DevServerPorts, dev_server_command, wait_for_port
from kickoff.identity import AccountStore
from kickoff.mailcatcher import MailCatcher, free_port
from kickoff.reports.compute import percentile
from kickoff.signature import sign
from kickoff.temporal import connect_when_ready, ensure_search_attributes

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PIPELINE = "assist-se"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
WELCOME = "Välkommen till Assist"
"""How the welcome mail's subject begins (tests/api/conftest.py SUBJECTS)."""
TASKS_P95_MS, BOARD_P95_MS, REPORT_P95_MS, VISIBLE_P99_MS, RSS_MIB = 300.0, 500.0, 300.0, 1000.0, 400.0
BENCH_ACCOUNT, BENCH_PASSWORD = "bench@kickoff.localhost", secrets.token_urlsafe(16)
"""The staff account the bench signs in to the board with (made in its throwaway database)."""
SETTLE_WITHIN, STALLED = 1800.0, 120.0
"""Seconds for every run to settle after ingest; a settling in which nothing moved (funnel, rows
written, mails arrived or given up) for ``STALLED`` seconds fails at once, saying what is missing."""

Call = Callable[[], Awaitable[httpx.Response]]


@dataclass
class Processes:
    """Child processes, each logging to its own file; stopped in reverse order."""

    logs: Path
    running: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.running.append((name, process))
        return process

    def check(self) -> None:
        for name, process in self.running:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} (log: {self.logs / name}.log)")

    def stop(self) -> None:
        for name, process in reversed(self.running):
            if process.poll() is None:
                process.send_signal(signal.SIGINT if name == "temporal" else signal.SIGTERM)
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` now (VmRSS in /proc/<pid>/status)."""
    found = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert found is not None, f"no VmRSS for pid {pid}"
    return int(found[1]) / 1024


async def until(what: str, check: Callable[[], Awaitable[bool]], within: float, procs: Processes) -> None:
    """Poll ``check`` (it paces itself) until it holds; fail after ``within`` s, or when a child died."""
    deadline = time.monotonic() + within
    while not await check():
        procs.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {within:.0f} s")


async def scalar(db: Database, query: Select[Any]) -> int:
    async with db.engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


# ---------------------------------------------------------------- ingest and settle


def contract(n: int, waiting: bool) -> bytes:
    """An assist-se contract: delivery in six weeks (``waiting``), or two days ago."""
    delivery = datetime.now(STOCKHOLM).date() + timedelta(days=42 if waiting else -2)
    body = {
        "contract_id": f"RM-{n:06d}",
        "pipeline": PIPELINE,
        "signed_at": datetime.now(UTC).isoformat(),
        "delivery_start": delivery.isoformat(),
        "customer": {"name": f"Bänkkund {n} AB", "org_number": "556000-0000"},
        "main_user": {"name": "Bo Bänk", "email": f"bo{n}@bank.example"},
        "licenses": 5,
        "language": "sv",
    }
    return json.dumps(body).encode()


async def ingest(http: httpx.AsyncClient, secret: str, count: int, concurrency: int) -> dict[str, bool]:
    """POST ``count`` signed contracts, ``concurrency`` at a time; onboarding id -> waiting."""
    started: dict[str, bool] = {}
    numbers = iter(range(count))

    async def post(n: int) -> None:
        waiting = n % 2 == 0
        body = contract(n, waiting)
        for attempt in range(5):
            signature = sign(secret, body, int(time.time()))
            headers = {"Content-Type": "application/json", "X-Kickoff-Signature": signature}
            with contextlib.suppress(httpx.TransportError):
                response = await http.post("/contracts", content=body, headers=headers)
                if response.status_code in (200, 202):
                    started[response.json()["id"]] = waiting
                    return
                if response.status_code < 500:
                    raise RuntimeError(f"POST /contracts answered {response.status_code}: {response.text}")
            await asyncio.sleep(0.5 * 2**attempt)  # a 5xx or a dropped connection: again
        raise RuntimeError(f"POST /contracts for contract {n} failed 5 times")

    async def poster() -> None:
        for n in numbers:
            await post(n)

    await asyncio.gather(*(poster() for _ in range(concurrency)))
    return started


async def settle(
    http: httpx.AsyncClient, db: Database, smtp: MailCatcher, started: dict[str, bool], procs: Processes
) -> set[str]:
    """Until the funnel counts every run in its stage, every run has written its own row (above
    the API's provisional revision 0) and every welcome mail has arrived or its run gave it up
    (delivery unknown: a staff task instead of the mail). Returns the runs that gave it up."""
    mailed = {oid for oid, waiting in started.items() if not waiting}
    expected = {"new": len(started) - len(mailed), "onboarding": len(mailed)}
    welcomed: set[str] = set()
    given_up: set[str] = set()
    read, moved = 0, time.monotonic()
    seen: dict[str, object] = {}
    written_query = select(func.count()).select_from(read_onboardings).where(read_onboardings.c.revision > 0)

    async def settled() -> bool:
        nonlocal read, moved
        await asyncio.sleep(1.0)
        response = await http.get("/reports/funnel", params={"pipeline": PIPELINE})
        response.raise_for_status()
        stages = {row["stage"]: row["count"] for row in response.json()["stages"] if row["count"]}
        written = await scalar(db, written_query)
        arrived = smtp.messages[read:]
        read += len(arrived)
        welcomed.update(m["X-Kickoff-Onboarding"] for m in arrived if m["Subject"].startswith(WELCOME))
        if stages == expected and written == len(started):  # ask the stragglers' runs, 50 at a time
            for oid in sorted(mailed - welcomed - given_up)[:50]:
                timeline = (await http.get(f"/onboardings/{oid}")).json().get("timeline", [])
                if any(e["event"] == "mail_failed" and e["detail"].startswith("welcome") for e in timeline):
                    given_up.add(oid)
        now = {
            "funnel": stages,
            "rows": written,
            "welcomes": len(mailed & welcomed),
            "given_up": len(given_up),
        }
        if now != seen:
            seen.update(now)
            moved = time.monotonic()
        elif time.monotonic() - moved > STALLED:
            raise TimeoutError(f"runs settling: nothing moved for {STALLED:.0f} s")
        return stages == expected and written == len(started) and mailed <= welcomed | given_up

    try:
        await until("runs settled", settled, SETTLE_WITHIN, procs)
    except TimeoutError as err:
        wanted = f"funnel {expected}, {len(started)} rows written by their run, {len(mailed)} welcomes"
        raise TimeoutError(f"{err}: wanted {wanted}; saw {seen}") from None
    return given_up


async def until_idle(pids: list[int], procs: Processes, within: float = 120) -> None:
    """Until each worker used under 2 % CPU over a second (mails recorded, writes done)."""

    async def idle() -> bool:
        before = [cpu_seconds(pid) for pid in pids]
        await asyncio.sleep(1.0)
        return all(cpu_seconds(pid) - used < 0.02 for pid, used in zip(pids, before, strict=True))

    await until("workers idle", idle, within, procs)


# ---------------------------------------------------------------- measuring


@dataclass
class Figure:
    name: str
    samples: list[float]
    limit: float
    at: int = 95
    """The target: p<at> at most ``limit`` ms."""

    def row(self) -> str:
        p = {q: percentile(self.samples, q) for q in (50, 95, 99)}
        cells = " | ".join("—" if v is None else f"{v:.1f}" for v in p.values())
        met = "yes" if (v := p[self.at]) is not None and v <= self.limit else "NO"
        return f"| {self.name} | {len(self.samples)} | {cells} | p{self.at} ≤ {self.limit:.0f} ms | {met} |"


async def timed(call: Call, count: int, warmup: int = 5) -> list[float]:
    """Milliseconds per request, one at a time, after ``warmup`` unmeasured ones."""
    samples: list[float] = []
    for n in range(warmup + count):
        began = time.perf_counter()
        response = await call()
        elapsed = 1000 * (time.perf_counter() - began)
        response.raise_for_status()  # a redirect (to the sign-in page) too
        if n >= warmup:
            samples.append(elapsed)
    return samples


async def sign_in(board: httpx.AsyncClient) -> None:
    """Sign in as tests/board does: the form's CSRF token, the bench's account, a 303 with the cookie."""
    form = await board.get("/board/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]*)"', form.text)
    assert token is not None, "no CSRF token on the sign-in page"
    credentials = {"email": BENCH_ACCOUNT, "password": BENCH_PASSWORD}
    answer = await board.post("/board/sign-in", data={"csrf_token": token[1], **credentials})
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in answered {answer.status_code}: {answer.text[:300]}")


async def task_visibility(http: httpx.AsyncClient, count: int, within: float = 30) -> list[float]:
    """Milliseconds from sending POST /tasks/{id}/done for the first open task of the first page
    until a GET of that page no longer lists it; ``count`` tasks, one after the other."""
    samples: list[float] = []
    page = await http.get("/tasks", params={"status": "open"})
    for _ in range(count):
        task = page.json()[0]["id"]
        began = time.perf_counter()
        (await http.post(f"/tasks/{task}/done")).raise_for_status()
        quoted = json.dumps(task).encode()
        while True:
            page = await http.get("/tasks", params={"status": "open"})
            page.raise_for_status()
            if quoted not in page.content:
                break
            if time.perf_counter() - began > within:
                raise TimeoutError(f"task {task} still listed {within} s after it was done")
        samples.append(1000 * (time.perf_counter() - began))
    return samples


# ---------------------------------------------------------------- the run


async def measure(args: argparse.Namespace, procs: Processes, url: str) -> None:
    # The in-process SMTP catcher logs each mail it takes: only its warnings here.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    data = procs.logs / "data"
    data.mkdir()
    ports = DevServerPorts(frontend=free_port(), ui=free_port(), http=free_port(), metrics=free_port())
    temporal = procs.spawn("temporal", dev_server_command(ports, None, headless=True))
    wait_for_port("127.0.0.1", ports.frontend, 60, temporal)
    address = f"127.0.0.1:{ports.frontend}"
    await ensure_search_attributes(await connect_when_ready(address))
    smtp = MailCatcher()
    smtp.start()
    secret, key = secrets.token_hex(16), secrets.token_hex(16)
    env = {
        **os.environ,
        "KICKOFF_TEMPORAL_ADDRESS": address,
        "KICKOFF_TASK_QUEUE": f"bench-{secrets.token_hex(4)}",
        "KICKOFF_SMTP_HOST": smtp.host,
        "KICKOFF_SMTP_PORT": str(smtp.port),
        "KICKOFF_DATA_DIR": str(data),
        "KICKOFF_DATABASE_URL": url,  # empty: the embedded SQLite file in the data folder
        "KICKOFF_PIPELINES_FILE": str(ROOT / "pipelines.yaml"),
        "KICKOFF_WEBHOOK_SECRET": secret,
        "KICKOFF_API_KEYS": key,
        "KICKOFF_REPORT_CACHE_SECONDS": "0",  # every report and board view reads SQL
        "KICKOFF_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
        "KICKOFF_WORKER_METRICS_ADDRESS": "",
        "KICKOFF_WORKER_METRICS_URL": "",
    }
    database = Database(url or f"sqlite+aiosqlite:///{data / 'kickoff.sqlite3'}")
    try:
        migrate = await asyncio.create_subprocess_exec(str(BIN / "kickoff-admin"), "migrate", env=env)
        if await migrate.wait() != 0:
            raise RuntimeError("kickoff-admin migrate failed")
        await AccountStore(database).create(BENCH_ACCOUNT, "staff", "Bänk", BENCH_PASSWORD)
        python = str(BIN / "python")
        health = [f"127.0.0.1:{free_port()}" for _ in range(args.workers)]  # each worker's /readyz
        worker = [python, "-m", "kickoff.worker"]
        workers = [
            procs.spawn(f"worker-{n}", worker, {**env, "KICKOFF_WORKER_HEALTH_ADDRESS": h})
            for n, h in enumerate(health, 1)
        ]
        api_port = free_port()
        uvicorn = [python, "-m", "uvicorn", "--factory", "kickoff.api:app_from_env", "--no-access-log"]
        procs.spawn("api", [*uvicorn, "--host", "127.0.0.1", "--port", str(api_port)], env)
        base, limits = f"http://127.0.0.1:{api_port}", httpx.Limits(max_connections=args.concurrency + 4)
        async with (
            httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http,
            httpx.AsyncClient(base_url=base, timeout=120) as board,
        ):
            http.headers["Authorization"] = f"Bearer {key}"

            async def ready() -> bool:
                await asyncio.sleep(0.5)
                with contextlib.suppress(httpx.TransportError):
                    answers = [await http.get(f"http://{at}/readyz") for at in [base[7:], *health]]
                    return all(answer.status_code == 200 for answer in answers)
                return False

            await until("API and workers ready", ready, 90, procs)
            began, load = time.monotonic(), os.getloadavg()[0]
            started = await ingest(http, secret, args.onboardings, args.concurrency)
            posted = time.monotonic() - began
            given_up = await settle(http, database, smtp, started, procs)
            settled = time.monotonic() - began
            await until_idle([w.pid for w in workers], procs)
            rss_ingest = [rss_mib(w.pid) for w in workers]
            open_tasks = await scalar(database, select(func.count()).select_from(read_tasks))

            first = await http.get("/tasks", params={"status": "open"})
            assert 'rel="next"' in first.headers.get("Link", ""), "the first page should link to a next one"
            await sign_in(board)
            report = {"pipeline": PIPELINE}
            reads: list[tuple[str, Call, float]] = [
                (f"GET /tasks?status=open (first page, {len(first.json())} tasks)",
                 lambda: http.get("/tasks", params={"status": "open"}), TASKS_P95_MS),
                ("GET /board (signed in)", lambda: board.get("/board", params=report), BOARD_P95_MS),
                ("GET /reports/stage-times", lambda: http.get("/reports/stage-times", params=report),
                 REPORT_P95_MS),
                ("GET /reports/funnel", lambda: http.get("/reports/funnel", params=report), REPORT_P95_MS),
            ]  # fmt: skip
            figures = [Figure(name, await timed(call, args.requests), limit) for name, call, limit in reads]
            visible = await task_visibility(http, args.actions)
            figures.append(Figure("task done → gone from GET /tasks", visible, VISIBLE_P99_MS, at=99))
            rss_after = [rss_mib(w.pid) for w in workers]
    finally:
        await database.dispose()
        procs.stop()  # API and workers before the SMTP catcher and the database they use
        smtp.stop()

    kind = "PostgreSQL (throwaway server, tests/databases.py)" if url else "SQLite (embedded default)"
    count, waiting = len(started), sum(started.values())
    print(f"\n{count} {PIPELINE} onboardings ({waiting} waiting in new, {count - waiting} in onboarding), "
          f"{open_tasks} open tasks; database: {kind}; {args.workers} worker process(es); report cache off\n"
          f"ingest: {count} POST /contracts in {posted:.0f} s ({count / posted:.0f}/s, "
          f"{args.concurrency} at a time); every run settled {settled:.0f} s after the first; "
          f"load average {load:.1f} before ingest, {os.getloadavg()[0]:.1f} at the end\n")  # fmt: skip
    print("| measurement | n | p50 ms | p95 ms | p99 ms | target | met |\n|---|---|---|---|---|---|---|")
    print("\n".join(figure.row() for figure in figures))
    print(f"| welcome mails never sent (their run gave up: delivery unknown) | {len(given_up)} of "
          f"{count - waiting} | | | | none | {'NO' if given_up else 'yes'} |\n")  # fmt: skip
    print("| worker | RSS after ingest | RSS after measurements | target | met |\n|---|---|---|---|---|")
    for n, rss in enumerate(zip(rss_ingest, rss_after, strict=True), 1):
        met = "yes" if max(rss) <= RSS_MIB else "NO"
        print(f"| worker {n} | {rss[0]:.0f} MiB | {rss[1]:.0f} MiB | ≤ {RSS_MIB:.0f} MiB | {met} |")


def _stop_on_term(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # `timeout` or Ctrl-C: unwind, so every child is stopped


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_term)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onboardings", type=int, default=10_000, help="contracts posted (default 10000)")
    parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite default, not PostgreSQL")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--concurrency", type=int, default=16, help="POST /contracts in flight (default 16)")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per read (default 200)")
    parser.add_argument("--actions", type=int, default=200, help="tasks marked done (default 200)")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="kickoff-bench-read-model-"))
    procs = Processes(logs)
    try:
        with contextlib.ExitStack() as stack:
            url = ""
            if not args.sqlite:
                from tests.databases import start_postgres  # pytest-postgresql, a dev dependency

                server = stack.enter_context(contextlib.contextmanager(start_postgres)())
                url = stack.enter_context(server.new_database())
            asyncio.run(measure(args, procs, url))
    except BaseException:
        procs.stop()
        print(f"bench.read_model failed; logs kept in {logs}", file=sys.stderr)
        raise
    shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
