"""Annotated dependencies: the app context, the service, and the API-key check."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import Client

from kickoff.api.service import OnboardingService
from kickoff.pipelines import PipelineCatalog
from kickoff.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    catalog: PipelineCatalog
    client: Client | None = None
    service: OnboardingService | None = field(default=None)


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.kickoff
    return context


Context = Annotated[AppContext, Depends(get_context)]


def get_service(context: Context) -> OnboardingService:
    if context.service is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "not connected to Temporal yet")
    return context.service


Service = Annotated[OnboardingService, Depends(get_service)]

_bearer = HTTPBearer(auto_error=False, description="A key from KICKOFF_API_KEYS")


def require_api_key(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless ``Authorization: Bearer <key>`` carries a key from KICKOFF_API_KEYS."""
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "missing or unknown API key: send Authorization: Bearer <key>",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized
    offered = credentials.credentials.encode()
    # Compare against every key, in constant time, so timing reveals nothing.
    matches = [
        hmac.compare_digest(offered, key.get_secret_value().encode()) for key in context.settings.api_keys
    ]
    if not any(matches):
        raise unauthorized


ApiKey = Depends(require_api_key)
