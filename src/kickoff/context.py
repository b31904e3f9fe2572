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


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.kickoff
    return context


Context = Annotated[AppContext, Depends(get_context)]


def get_service(context: Context) -> OnboardingService:
    if context.service is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "not connected to Temporal yet")
    return context.service


Service = Annotated[OnboardingService, Depends(get_service)]
