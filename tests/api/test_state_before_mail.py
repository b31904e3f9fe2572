"""State never waits for mail, and a quick event never drops the work a stage owed (HTTP API)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from kickoff.api import create_app
from kickoff.mailcatcher import MailCatcher, free_port
from kickoff.worker import create_worker
from tests.conftest import Api, api_settings, serve_app
from tests.support import catalog, contract_payload, eventually, local_today

# "Hva vi trenger fra dere": the customer's to-dos the kick-off stage creates (both modules).
KICKOFF_STAGE_TODOS = [
    action.task.title
    for action in catalog().pipelines["pakkepilot-no"].stage("kickoff").on_enter
    if action.task is not None and action.task.owner == "customer"
]
KICKOFF_TASK = "Hold oppstartsmøte (30 min)"


@pytest.fixture(params=["smtp up", "smtp down"])
async def api_with_relay(
    request: pytest.FixtureRequest, dev_server: Client, task_queue: str, tmp_path: Path, smtp: MailCatcher
) -> AsyncIterator[tuple[Api, bool]]:
    """The API and a worker whose SMTP relay is reachable, or a port nothing listens on."""
    down = request.param == "smtp down"
    settings = api_settings(task_queue, tmp_path, smtp, **({"smtp_port": free_port()} if down else {}))
    async with (
        create_worker(dev_server, settings),
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield Api(http=http, settings=settings, client=dev_server), down


def _pakkepilot() -> dict[str, Any]:
    return contract_payload(
        pipeline="pakkepilot-no",
        language="nb",
        signed_at=datetime.now(UTC).isoformat(),
        delivery_start=local_today().isoformat(),
    )


async def test_a_kickoff_reported_right_after_the_contract_keeps_every_task_the_kickoff_stage_owed(
    api_with_relay: tuple[Api, bool], smtp: MailCatcher
) -> None:
    """pakkepilot-no: the kick-off is reported the moment the contract is in. The six customer
    to-dos and the kick-off task of the stage the run left are all there (the kick-off task done by
    the report); only that stage's welcome mail may be dropped, and with SMTP down it is, not sent
    late when the relay comes back."""
    api, smtp_down = api_with_relay
    created = await api.post_contract(_pakkepilot())
    assert created.status_code == 202, created.text
    oid = created.json()["id"]
    held = await api.http.post(f"/onboardings/{oid}/events/kickoff_held", json={}, headers=api.auth)
    assert held.status_code == 202, held.text
    assert held.json() == {"id": oid, "stage": "access"}

    state = await eventually(lambda: api.onboarding(oid), lambda s: s["stage"] == "access")
    assert len(KICKOFF_STAGE_TODOS) == 6
    todos = [t for t in state["tasks"] if t["title"] in KICKOFF_STAGE_TODOS]
    assert sorted(t["title"] for t in todos) == sorted(KICKOFF_STAGE_TODOS)
    assert all((t["owner"], t["status"]) == ("customer", "open") for t in todos)
    [kickoff] = [t for t in state["tasks"] if t["title"].startswith(KICKOFF_TASK)]
    assert kickoff["status"] == "done"
    if smtp_down:
        cancelled = await eventually(
            lambda: api.onboarding(oid),
            lambda s: any(e["event"] == "mail_cancelled" for e in s["timeline"]),
        )
        assert [e["detail"] for e in cancelled["timeline"] if e["event"] == "mail_cancelled"] == [
            "welcome: the run moved on"
        ]
        assert cancelled["emails"] == []
        assert smtp.for_onboarding(oid) == []


async def test_the_welcome_call_task_is_there_as_onboarding_begins_even_while_smtp_is_down(
    api_with_relay: tuple[Api, bool],
) -> None:
    """assist-se with its delivery started: the welcome-call task (listed after the welcome mail in
    pipelines.yaml) is created on entering onboarding, whether or not the relay takes the mail."""
    api, smtp_down = api_with_relay
    # Two days back: onboarding begins at 08:00 the day after delivery, which has passed at any
    # time of day (one day back, it lies ahead until 08:00 Stockholm time).
    payload = contract_payload(delivery_start=(local_today() - timedelta(days=2)).isoformat())
    created = await api.post_contract(payload)
    assert created.status_code == 202, created.text
    oid = created.json()["id"]
    state = await eventually(lambda: api.onboarding(oid), lambda s: s["stage"] == "onboarding")
    assert [t["title"] for t in state["tasks"] if t["kind"] == "call"] == [
        "Välkomstsamtal till huvudanvändaren"
    ]
    if smtp_down:
        assert state["emails"] == []
        assert state["next_step"] == "day 3 call task"  # the plan goes on while the mail retries
    tasks = await api.http.get("/tasks", params={"owner_role": "staff"}, headers=api.auth)
    assert oid in {t["onboarding_id"] for t in tasks.json() if t["kind"] == "call"}
