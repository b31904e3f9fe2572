"""Worker CPU per new onboarding under sustained ingest: ``.venv/bin/python -m bench.ingest``.

Starts a Temporal dev server (in memory), an SMTP catcher and one worker process
(``python -m kickoff.worker``, as production runs it), then starts onboardings at a
steady rate: assist-se contracts whose delivery has started, so each run enters
onboarding at once, creates its tasks and sends its welcome mail. It reads the
worker's CPU time (user + system, from /proc) before and after the measured batch,
and prints CPU per onboarding. ``--profile`` also runs py-spy on the worker
during the batch and prints where the worker's time went (``pip install py-spy``).

A benchmark, not a test: numbers vary with the machine; compare runs on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client

from kickoff.devstack import DevServerPorts, dev_server_command, wait_for_port
from kickoff.domain import Contract
from kickoff.mailcatcher import MailCatcher, free_port
from kickoff.pipelines import load_pipelines
from kickoff.service import OnboardingService
from kickoff.temporal import connect_when_ready, ensure_search_attributes

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def start_onboardings(
    client: Client, queue: str, count: int, rate: float, delivery_days: int = -1
) -> list[str]:
    # Started as the API starts them (the service: search attributes, summary, reuse policy).
    service = OnboardingService(client, load_pipelines(ROOT / "pipelines.yaml"), queue)
    delivery = (datetime.now(UTC) + timedelta(days=delivery_days)).date()
    ids: list[str] = []
    loop = asyncio.get_running_loop()
    began = loop.time()
    for n in range(count):
        contract = Contract.model_validate(
            {
                "contract_id": f"B-{uuid.uuid4().hex[:10]}",
                "signed_at": datetime.now(UTC).isoformat(),
                "delivery_start": delivery.isoformat(),
                "customer": {"name": f"Kund {n} AB", "org_number": "556000-0000"},
                "main_user": {"name": "Bo Bänk", "email": f"bo{n}@bank.example"},
                "licenses": 5,
                "language": "sv",
            }
        )
        oid = (await service.start(contract)).onboarding_id
        ids.append(oid)
        # A steady stream, not a burst: the n-th start waits for its moment.
        await asyncio.sleep(max(0.0, began + (n + 1) / rate - loop.time()))
    return ids


async def until_mailed(smtp: MailCatcher, ids: list[str], within: float) -> None:
    deadline = time.monotonic() + within
    waiting = set(ids)
    while waiting:
        waiting = {oid for oid in waiting if not smtp.for_onboarding(oid)}
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(waiting)} onboardings sent no welcome mail within {within} s")
        await asyncio.sleep(0.2)


async def quiet(client: Client, ids: list[str], within: float) -> None:
    """Until no run has a workflow task outstanding (server-side: costs the worker nothing)."""
    deadline = time.monotonic() + within
    for oid in ids:
        while True:
            description = await client.get_workflow_handle(oid).describe()
            if not description.raw_description.HasField("pending_workflow_task"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{oid} still has a workflow task after {within} s")
            await asyncio.sleep(0.05)


IDLE_LEAVES = ("_worker (concurrent/futures/thread.py", "EpollSelector.select", "select (selectors.py")
"""Leaf frames of threads that only wait (py-spy samples them as busy)."""
PLUMBING = ("threading.py", "runpy", "asyncio/", "concurrent/futures", "importlib._bootstrap", "worker.py:")
"""Frames every sample passes through: not where the time goes."""


def top_frames(raw: Path, limit: int = 20) -> list[tuple[float, str]]:
    """Inclusive share of the worker's busy samples per function, from py-spy's raw output."""
    inclusive: collections.Counter[str] = collections.Counter()
    busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if frames[-1].startswith(IDLE_LEAVES):
            continue
        busy += int(count)
        for frame in set(frames):
            if not any(part in frame for part in PLUMBING):
                inclusive[frame] += int(count)
    return [(100 * n / busy, frame) for frame, n in inclusive.most_common(limit)] if busy else []


async def run(
    count: int, warmup: int, rate: float, profile: bool, worker_src: str | None, waiting: bool
) -> None:
    # Delivery started yesterday: each run enters onboarding at once and mails its welcome.
    # With --waiting the delivery starts in a month: the run only enters `new` and waits.
    delivery_days = 30 if waiting else -1
    ports = DevServerPorts(frontend=free_port(), ui=free_port(), http=free_port(), metrics=free_port())
    temporal = subprocess.Popen(
        dev_server_command(ports, None, headless=True), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    smtp = MailCatcher()
    smtp.start()
    worker: subprocess.Popen[bytes] | None = None
    spy: subprocess.Popen[bytes] | None = None
    try:
        wait_for_port("127.0.0.1", ports.frontend, 60, temporal)
        address = f"127.0.0.1:{ports.frontend}"
        client = await connect_when_ready(address)
        await ensure_search_attributes(client)
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        scratch = Path(tempfile.mkdtemp(prefix="kickoff-bench-"))
        env = {
            **os.environ,
            "KICKOFF_TEMPORAL_ADDRESS": address,
            "KICKOFF_TASK_QUEUE": queue,
            "KICKOFF_SMTP_HOST": smtp.host,
            "KICKOFF_SMTP_PORT": str(smtp.port),
            "KICKOFF_DATA_DIR": str(scratch),
            "KICKOFF_PIPELINES_FILE": str(ROOT / "pipelines.yaml"),
            "KICKOFF_WORKER_METRICS_ADDRESS": "",
            "KICKOFF_LOG_JSON": "true",
            # To measure another release's worker: its src folder first on the path.
            **({"PYTHONPATH": worker_src} if worker_src else {}),
        }
        worker = subprocess.Popen(
            [str(BIN / "python"), "-m", "kickoff.worker"], env=env, stdout=subprocess.DEVNULL
        )
        warm = await start_onboardings(client, queue, warmup, rate, delivery_days)
        if not waiting:
            await until_mailed(smtp, warm, 120)
        await quiet(client, warm, 120)

        raw = scratch / "profile.txt"
        if profile:
            spy = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(worker.pid),
                    "--format",
                    "raw",
                    "-o",
                    str(raw),
                    "--rate",
                    "200",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await asyncio.sleep(1)
        before, began = cpu_seconds(worker.pid), time.monotonic()
        ids = await start_onboardings(client, queue, count, rate, delivery_days)
        if not waiting:
            await until_mailed(smtp, ids, 300)
        await quiet(client, ids, 300)
        used, wall = cpu_seconds(worker.pid) - before, time.monotonic() - began
        kind = "waiting for delivery" if waiting else "welcome mail at once"
        print("| onboardings | kind | rate /s | wall s | worker CPU s | worker CPU per onboarding |")
        print("|---|---|---|---|---|---|")
        print(f"| {count} | {kind} | {rate:g} | {wall:.1f} | {used:.2f} | {1000 * used / count:.1f} ms |")
        if spy is not None:
            spy.send_signal(2)
            spy.wait(timeout=30)
            print("\nworker profile (inclusive share of its busy samples):")
            for share, frame in top_frames(raw):
                print(f"  {share:5.1f} %  {frame}")
    finally:
        for process in (spy, worker):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
        smtp.stop()
        temporal.terminate()
        temporal.wait(timeout=30)


def _stop_on_term(signum: int, frame: object) -> None:
    # `timeout` or Ctrl-C: unwind, so the finally clauses stop the server and the worker.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_term)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="onboardings measured (default 400)")
    parser.add_argument("--warmup", type=int, default=30, help="onboardings before measuring")
    parser.add_argument("--rate", type=float, default=20.0, help="starts per second (default 20)")
    parser.add_argument("--profile", action="store_true", help="py-spy the worker while measuring")
    parser.add_argument("--worker-src", help="run the worker from this src folder (another release)")
    parser.add_argument("--waiting", action="store_true", help="delivery in a month: no mail at start")
    args = parser.parse_args()
    asyncio.run(run(args.count, args.warmup, args.rate, args.profile, args.worker_src, args.waiting))


if __name__ == "__main__":
    main()
