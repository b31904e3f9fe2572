"""Moving running onboardings to the pipeline version this deployment runs now (admin only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from kickoff.api.deps import Admin, ApiKey, Context, Service
from kickoff.api.errors import StrictRoute
from kickoff.api.responses import AUTHENTICATED, UNAVAILABLE, conflict, invalid, not_found, too_large
from kickoff.identity.audit import audit
from kickoff.service.migration import ONBOARDING, STAGE, VERSION, MigrationReport, move

router = APIRouter(
    prefix="/pipelines",
    tags=["pipelines"],
    dependencies=[ApiKey],
    responses=AUTHENTICATED,
    route_class=StrictRoute,
)

Version = Annotated[str, Field(pattern=VERSION.pattern, examples=["3f9a1c0b7d2e"])]


class MigrationRequest(BaseModel):
    """Which running onboardings to move, from which version to which, and whether only to look."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    from_version: Version
    """The version the onboardings follow now (``KickoffPipelineVersion``)."""
    to_version: Version
    """The pipeline's current version (``GET /pipelines/{id}``); any other is refused (409)."""
    stages: list[Annotated[str, Field(pattern=STAGE.pattern)]] | None = Field(default=None, max_length=50)
    """Only onboardings in these stages (default: in any)."""
    onboardings: list[Annotated[str, Field(pattern=ONBOARDING.pattern)]] | None = Field(
        default=None, max_length=1000
    )
    """Only these onboardings (default: every one on ``from_version``)."""
    dry_run: bool
    """True: only say what adopting would change for each; false: move them."""


@router.post(
    "/{pipeline_id}/migrate",
    responses={
        **UNAVAILABLE,
        **not_found("No such pipeline"),
        **conflict("to_version is not the pipeline's current version (the answer names it)"),
        **invalid(),
        **too_large(),
    },
)
async def migrate(
    pipeline_id: str, body: MigrationRequest, context: Context, service: Service, who: Admin
) -> MigrationReport:
    """Move the running onboardings of a pipeline on ``from_version`` to its current version, or
    with ``dry_run`` say what that would change for each (steps added, removed or moved, templates
    and stages changed) and whether it can adopt it. Each onboarding answers ``migrated``,
    ``refused`` (with the reason: its stage is gone, a step or mail would happen again) or
    ``failed``; a dry run ``can_adopt`` or ``cannot_adopt``. Steps performed and mails sent are
    never repeated; each migrated onboarding's timeline and ``KickoffPipelineVersion`` show it."""
    report = await move(
        service.client,
        service.scope,
        context.catalog,
        pipeline_id,
        from_version=body.from_version,
        to_version=body.to_version,
        stages=body.stages,
        onboardings=body.onboardings,
        dry_run=body.dry_run,
        by=who.by(),
        now=datetime.now(UTC),
    )
    if not report.dry_run:
        for result in report.results:
            await audit(
                context.database,
                who,
                "pipeline_migration",
                result.onboarding_id,
                pipeline=pipeline_id,
                from_version=body.from_version,
                to_version=body.to_version,
                outcome=result.outcome,
                reason=result.reason,
            )
    return report
