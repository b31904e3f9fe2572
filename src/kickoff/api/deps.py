"""The API-key check; the app context and the service come from ``kickoff.context``."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kickoff.context import AppContext, Context, Service, get_context

__all__ = ["ApiKey", "AppContext", "Context", "Service", "get_context", "require_api_key"]


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
