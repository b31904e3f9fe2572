"""GET /metrics: the API's request and onboarding metrics, then the worker's own and Temporal's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from temporalio.client import Client

from kickoff.mailcatcher import MailCatcher, free_port
from kickoff.metrics import ApiMetrics, record_onboarding_started
from kickoff.temporal import connect
from kickoff.worker import worker_runtime
from tests.api.conftest import PAST_DELIVERY, Kickoff
from tests.observability.conftest import served_kickoff
from tests.support import contract_payload, eventually

Families = dict[str, Metric]


async def scrape(kickoff: Kickoff) -> Families:
    """GET /metrics without credentials, parsed; fails on a family exposed twice."""
    response = await kickoff.http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    names = [family.name for family in families]
    assert len(names) == len(set(names)), "a metric family appears twice"
    return dict(zip(names, families, strict=True))


def samples(families: Families, sample: str, **labels: str) -> list[Sample]:
    """The samples named ``sample`` (``…_total``, ``…_bucket``) whose labels include ``labels``."""
    return [
        s
        for family in families.values()
        for s in family.samples
        if s.name == sample and labels.items() <= s.labels.items()
    ]


def total(families: Families, sample: str, **labels: str) -> float:
    return sum(s.value for s in samples(families, sample, **labels))


@pytest.fixture
async def metered(
    dev_server_address: str, dev_server: Client, smtp: MailCatcher, tmp_path: Path
) -> AsyncIterator[Kickoff]:
    """The app, and a worker whose Temporal runtime serves Prometheus metrics on a port of its own
    that the app's settings point at."""
    port = free_port()
    worker_client = await connect(
        dev_server_address,
        runtime=worker_runtime(f"127.0.0.1:{port}"),
        data_converter=dev_server.data_converter,
    )
    async with served_kickoff(
        dev_server, worker_client, smtp, tmp_path, worker_metrics_url=f"http://127.0.0.1:{port}/metrics"
    ) as kickoff:
        yield kickoff


async def test_metrics_count_requests_mails_and_show_temporal_sdk_metrics(metered: Kickoff) -> None:
    """After a run's welcome mail, /metrics has request counts and latencies per route template,
    the mail counter from the worker, and the Temporal SDK's worker metrics."""
    task_queue = metered.api.settings.task_queue
    oid = await metered.start()
    families = await scrape(metered)

    requests = "kickoff_http_requests_total"
    assert total(families, requests, method="POST", route="/contracts", status="202") >= 1
    latency = "kickoff_http_request_duration_seconds"
    route = {"method": "GET", "route": "/onboardings/{onboarding_id}", "status": "200"}
    assert total(families, f"{latency}_count", **route) >= 1
    assert samples(families, f"{latency}_bucket", **route, le="+Inf")
    # Route templates, never raw paths: one series per route, not per onboarding.
    assert not [s for s in samples(families, requests) if oid in s.labels["route"]]

    assert total(families, "kickoff_worker_metrics_up") == 1
    # Temporal's exporter writes counters without _total; the parser adds it to sample names.
    mails = {"task_queue": task_queue, "activity_type": "send_mail", "stage": "onboarding"}
    assert total(families, "kickoff_mails_sent_total", **mails) >= 1
    assert "kickoff_mails_failed" not in families  # created on first use: nothing failed

    assert total(families, "temporal_workflow_task_execution_latency_count", task_queue=task_queue) >= 1
    # A mail goes out as a local activity first (in the workflow's worker).
    activity = {"task_queue": task_queue, "activity_type": "send_mail"}
    assert total(families, "temporal_local_activity_execution_latency_count", **activity) >= 1
    assert total(families, "temporal_request_total") >= 1
    transitions = {"task_queue": task_queue, "pipeline": "assist-se", "stage": "onboarding"}
    assert total(families, "kickoff_stage_transitions_total", **transitions) >= 1


def test_each_app_counts_onboardings_started_in_its_own_registry() -> None:
    """record_onboarding_started counts per pipeline in the given app's registry; another app in the
    same process (as in the test suite) keeps its own counts."""
    first, second = FastAPI(), FastAPI()
    record_onboarding_started(first, "assist-se")
    record_onboarding_started(first, "assist-se")
    record_onboarding_started(second, "pakkepilot-no")

    def started(app: FastAPI, pipeline: str) -> float:
        text = ApiMetrics.for_app(app).exposition().decode()
        families = {family.name: family for family in text_string_to_metric_families(text)}
        return total(families, "kickoff_onboardings_started_total", pipeline=pipeline)

    assert (started(first, "assist-se"), started(first, "pakkepilot-no")) == (2, 0)
    assert (started(second, "assist-se"), started(second, "pakkepilot-no")) == (0, 1)


async def test_metrics_count_onboardings_started_per_pipeline(metered: Kickoff) -> None:
    """A contract that starts a run counts one onboarding started for its pipeline; the same contract
    again (200) does not count."""
    payload = contract_payload(delivery_start=PAST_DELIVERY)
    assert (await metered.submit(payload)).status_code == 202
    assert (await metered.submit(payload)).status_code == 200

    families = await scrape(metered)
    assert total(families, "kickoff_onboardings_started_total", pipeline="assist-se") == 1


async def test_failed_mail_attempts_are_counted_by_error_kind(
    dev_server_address: str, dev_server: Client, smtp: MailCatcher, tmp_path: Path
) -> None:
    """With SMTP down, each failed attempt of the welcome mail counts in kickoff_mails_failed,
    labelled with the error kind and whether Temporal may retry it."""
    port = free_port()
    worker_client = await connect(
        dev_server_address,
        runtime=worker_runtime(f"127.0.0.1:{port}"),
        data_converter=dev_server.data_converter,
    )
    async with served_kickoff(
        dev_server,
        worker_client,
        smtp,
        tmp_path,
        smtp_port=free_port(),  # nothing listens there
        worker_metrics_url=f"http://127.0.0.1:{port}/metrics",
    ) as kickoff:
        response = await kickoff.submit(contract_payload(delivery_start=PAST_DELIVERY))
        assert response.status_code == 202, response.text

        failed = {"error": "SmtpNotDelivered", "retryable": "true", "stage": "onboarding"}
        families = await eventually(
            lambda: scrape(kickoff),
            lambda f: total(f, "kickoff_mails_failed_total", **failed) >= 1,
        )
        assert "kickoff_mails_sent" not in families


@pytest.mark.parametrize(
    ("worker_url", "up"),
    [
        pytest.param(f"http://127.0.0.1:{free_port()}/metrics", 0, id="worker-unreachable"),
        pytest.param(None, None, id="no-worker-url"),
    ],
)
async def test_metrics_without_the_workers_still_serve_the_apis_own(
    worker_url: str | None, up: int | None, dev_server: Client, smtp: MailCatcher, tmp_path: Path
) -> None:
    """When the worker's metrics cannot be fetched, /metrics still answers with the API's metrics and
    kickoff_worker_metrics_up 0; without a worker URL configured there is no such gauge."""
    async with served_kickoff(
        dev_server, dev_server, smtp, tmp_path, worker_metrics_url=worker_url
    ) as kickoff:
        assert (await kickoff.http.get("/healthz")).status_code == 200
        assert (await kickoff.http.get("/no/such/page")).status_code == 404
        families = await scrape(kickoff)

    assert total(families, "kickoff_http_requests_total", method="GET", route="/healthz", status="200") == 1
    assert total(families, "kickoff_http_requests_total", route="unmatched", status="404") == 1
    if up is None:
        assert "kickoff_worker_metrics_up" not in families
    else:
        assert total(families, "kickoff_worker_metrics_up") == up
    assert not [name for name in families if name.startswith("temporal_")]
