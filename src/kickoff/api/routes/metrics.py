"""``GET /metrics``: Prometheus exposition of the API's metrics and the worker's."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["ops"])
