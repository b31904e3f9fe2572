"""Reports over all onboardings of a pipeline: the funnel and time in stage."""

from __future__ import annotations

from fastapi import APIRouter

from kickoff.api.deps import ApiKey

router = APIRouter(prefix="/reports", tags=["reports"], dependencies=[ApiKey])
