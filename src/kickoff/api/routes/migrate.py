"""Placeholder: filled in by issue 14's migrate work."""

from __future__ import annotations

from fastapi import APIRouter

from kickoff.api.deps import ApiKey
from kickoff.api.errors import StrictRoute
from kickoff.api.responses import AUTHENTICATED

router = APIRouter(
    prefix="/pipelines",
    tags=["pipelines"],
    dependencies=[ApiKey],
    responses=AUTHENTICATED,
    route_class=StrictRoute,
)
