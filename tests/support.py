"""Helpers shared by the tests: contracts, pipelines, and waiting with a deadline."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from kickoff.domain import Contract, OnboardingInput, onboarding_id
from kickoff.pipelines import PipelineCatalog, load_pipelines

ROOT = Path(__file__).resolve().parent.parent
PIPELINES_FILE = ROOT / "pipelines.yaml"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
T = TypeVar("T")


def catalog() -> PipelineCatalog:
    return load_pipelines(PIPELINES_FILE)


def sthlm(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Stockholm wall-clock moment as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).astimezone(UTC)


def contract_payload(contract_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contract_id": contract_id or f"C-{uuid.uuid4().hex[:10]}",
        "pipeline": "assist-se",
        "signed_at": "2026-11-20T10:00:00+01:00",
        "delivery_start": "2026-11-20",
        "customer": {"name": "Åre Hälsa & Söner AB", "org_number": "556677-8899"},
        "main_user": {"name": "Örjan Ängström", "email": "orjan@are-halsa.example"},
        "licenses": 12,
        "language": "sv",
    }
    body.update(overrides)
    return body


def make_contract(**overrides: Any) -> Contract:
    return Contract.model_validate(contract_payload(**overrides))


def onboarding_input(contract: Contract, pipelines: PipelineCatalog | None = None) -> OnboardingInput:
    pipelines = pipelines or catalog()
    pipeline = pipelines.pipelines[contract.pipeline]
    return OnboardingInput(
        onboarding_id=onboarding_id(pipeline.id_prefix, contract.contract_id),
        contract=contract,
        pipeline=pipeline,
        pipeline_version=pipelines.version(contract.pipeline),
    )


async def eventually(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], bool],
    *,
    within: float = 20.0,
    interval: float = 0.1,
) -> T:
    """Poll ``probe`` until ``check`` holds or ``within`` seconds pass (then fail loudly)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: T | None = None
    while True:
        last = await probe()
        if check(last):
            return last
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {last!r}")
        await asyncio.sleep(interval)


def day(d: date) -> str:
    return d.isoformat()
