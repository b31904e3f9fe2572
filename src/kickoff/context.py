"""What a request handler of the API or the board needs: the app's context and its service.

Shared by ``kickoff.api`` and ``kickoff.board`` as ``Annotated`` dependencies, so neither
package imports the other's routes to get at them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from temporalio.client import Client

from kickoff.db import Database
from kickoff.identity.throttle import FailureThrottle
from kickoff.pipelines import PipelineCatalog
from kickoff.service import OnboardingService
from kickoff.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    catalog: PipelineCatalog
    database: Database
    client: Client | None = None
    service: OnboardingService | None = field(default=None)
    # Failed sign-ins and Bearer credentials per client address (429 when too many).
    throttle: FailureThrottle = field(default_factory=FailureThrottle)


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.kickoff
    return context


Context = Annotated[AppContext, Depends(get_context)]


def get_service(context: Context) -> OnboardingService:
    if context.service is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "not connected to Temporal yet")
    return context.service


Service = Annotated[OnboardingService, Depends(get_service)]
