"""``GET /metrics``: Prometheus exposition of the API's metrics and the worker's."""

from __future__ import annotations

import ipaddress

import httpx
import structlog
from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import PlainTextResponse
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from kickoff.api.deps import Context
from kickoff.metrics import ApiMetrics, worker_up_exposition

router = APIRouter(tags=["ops"])
log = structlog.get_logger(__name__)

WORKER_FETCH_TIMEOUT_SECONDS = 2.0
"""Well inside Prometheus's default 10 s scrape timeout: a hung worker costs the
scrape its worker half, never the API's own metrics."""


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request, context: Context) -> Response:
    """The API's metrics in Prometheus text format, then the worker's (Temporal SDK and mail
    counters). Only for clients in KICKOFF_METRICS_NETWORKS (others get 404, as if absent)."""
    if not _internal(request, context.settings.metrics_networks):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not Found")
    parts = [ApiMetrics.for_app(request.app).exposition()]
    url = context.settings.worker_metrics_url
    if url:
        worker = await fetch_worker_metrics(url)
        parts.append(worker_up_exposition(worker is not None))
        if worker is not None:
            parts.append(worker)
    # The worker's exporter speaks text format 0.0.4; prometheus_client writes it too.
    return Response(b"".join(_terminated(part) for part in parts), media_type=CONTENT_TYPE_PLAIN_0_0_4)


async def fetch_worker_metrics(url: str) -> bytes | None:
    """The worker's exposition, or None when it cannot be had right now."""
    try:
        async with httpx.AsyncClient(timeout=WORKER_FETCH_TIMEOUT_SECONDS) as client:
            response = await client.get(url)
            response.raise_for_status()
    except httpx.HTTPError as exc:
        log.info("metrics.worker_unreachable", url=url, error=type(exc).__name__)
        return None
    return response.content


def _internal(request: Request, networks: list[str]) -> bool:
    if request.client is None:
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:  # e.g. "testclient"
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def _terminated(exposition: bytes) -> bytes:
    # Concatenated expositions must not glue one's last line to the next one's first.
    return exposition if exposition.endswith(b"\n") or not exposition else exposition + b"\n"
