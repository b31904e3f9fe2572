"""The API stays truthful while no worker runs (a deploy, a crash): it never hangs or loses a contract."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from kickoff.api import create_app
from kickoff.service import runs as service_module
from kickoff.temporal import RETENTION, ensure_retention
from tests.api.conftest import PAST_DELIVERY
from tests.conftest import API_KEY, Api, api_settings, serve_app
from tests.support import contract_payload


@pytest.fixture
async def workerless(dev_server, tmp_path, smtp) -> AsyncIterator[Api]:
    """The API on a task queue no worker polls."""
    settings = api_settings(f"no-worker-{uuid.uuid4().hex}", tmp_path, smtp)
    async with (
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield Api(http=http, settings=settings, client=dev_server)


async def test_a_resent_contract_is_recognised_without_a_worker(workerless: Api) -> None:
    """Idempotency reads the run's start event: the same contract is 200, a changed one 409."""
    payload = contract_payload(delivery_start=PAST_DELIVERY)
    first = await workerless.post_contract(payload)
    assert first.status_code == 202, first.text
    again = await workerless.post_contract(payload)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    changed = await workerless.post_contract({**payload, "licenses": 99})
    assert changed.status_code == 409
    assert "licenses" in changed.json()["detail"]


async def test_reading_a_running_onboarding_without_a_worker_is_503_not_a_hang(workerless: Api) -> None:
    """A query nobody answers ends in a 503 with a reason within seconds."""
    created = await workerless.post_contract(contract_payload(delivery_start=PAST_DELIVERY))
    response = await workerless.http.get(
        f"/onboardings/{created.json()['id']}", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert response.status_code == 503
    assert "no worker answered" in response.json()["detail"]


async def test_retention_is_raised_so_closed_onboardings_stay_readable(dev_server) -> None:
    """ensure_retention raises the namespace's retention of closed runs, and is idempotent."""
    await ensure_retention(dev_server)
    await ensure_retention(dev_server)
    described = await dev_server.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=dev_server.namespace)
    )
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() >= RETENTION > timedelta(days=365)


async def test_an_action_no_worker_takes_is_503_not_a_hang(workerless: Api, monkeypatch) -> None:
    """A staff action waits a bounded time for a worker, then answers 503 saying it is unconfirmed."""
    monkeypatch.setattr(service_module, "UPDATE_TIMEOUT", timedelta(seconds=1))
    created = await workerless.post_contract(contract_payload(delivery_start=PAST_DELIVERY))
    assert created.status_code == 202, created.text
    response = await workerless.http.post(
        f"/onboardings/{created.json()['id']}/events/call_logged",
        json={"outcome": "answered"},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 503
    assert "not confirmed" in response.json()["detail"]
