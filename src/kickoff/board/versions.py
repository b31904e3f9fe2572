"""The board's Pipelines page: per pipeline the versions its running onboardings follow (counted
by visibility) and the current one; admins get the dry run and the migration of the onboardings
on an older version to the current one (optionally only those in some stages), and a results
page that says per onboarding what changed, or why it cannot adopt the new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request, Response, status

from kickoff.board.auth import AdminForm, Session, SignedIn
from kickoff.board.pages import SERVICE_ERRORS, error_page, page
from kickoff.context import Context, Service
from kickoff.engine.migration import describe
from kickoff.identity.audit import audit
from kickoff.pipelines import Pipeline
from kickoff.service import OnboardingService
from kickoff.service.migration import MigrationReport, MigrationResult, VersionCount, move, versions_in_use

router = APIRouter(include_in_schema=False)

PipelineId = Annotated[str, Path(alias="pipeline_id")]
OUTCOME_LABELS = {
    "can_adopt": "can adopt",
    "cannot_adopt": "cannot adopt",
    "migrated": "migrated",
    "refused": "refused",
    "failed": "failed",
}


@dataclass(frozen=True)
class PipelineVersions:
    pipeline: Pipeline
    current: str
    versions: list[VersionCount]
    """The current version first (its count may be 0), then the older ones in use."""

    @property
    def older(self) -> list[VersionCount]:
        """Versions other than the current one that running onboardings follow."""
        return [v for v in self.versions if not v.current and v.count]

    @property
    def running(self) -> int:
        return sum(v.count for v in self.versions)


@dataclass(frozen=True)
class ResultLine:
    result: MigrationResult
    label: str
    changes: list[str]


@dataclass(frozen=True)
class Results:
    report: MigrationReport
    pipeline: Pipeline
    lines: list[ResultLine]
    stages: list[str]

    @property
    def summary(self) -> str:
        counts = ", ".join(f"{n} {OUTCOME_LABELS.get(k, k)}" for k, n in sorted(self.report.counts.items()))
        return counts or "no running onboarding matched"


async def _sections(context: Context, service: OnboardingService) -> list[PipelineVersions]:
    catalog = context.catalog
    sections = []
    for pipeline in catalog.pipelines.values():
        current = catalog.version(pipeline.id)
        counted = await versions_in_use(service.client, service.scope, pipeline.id, current)
        sections.append(PipelineVersions(pipeline, current, counted))
    return sections


async def _page(
    request: Request,
    context: Context,
    service: OnboardingService,
    session: Session,
    results: Results | None = None,
    code: int = status.HTTP_200_OK,
    problem: str | None = None,
) -> Response:
    sections = await _sections(context, service)
    return page(
        request,
        "versions.html",
        session,
        {"sections": sections, "results": results, "labels": OUTCOME_LABELS},
        code,
        error=problem,
    )


@router.get("/board/pipelines")
async def versions(request: Request, context: Context, service: Service, session: SignedIn) -> Response:
    """Per pipeline: its current version and the versions its running onboardings follow."""
    return await _page(request, context, service, session)


@router.post("/board/pipelines/{pipeline_id}/migrate")
async def migrate(
    request: Request,
    context: Context,
    service: Service,
    session: AdminForm,
    pipeline_id: PipelineId,
    from_version: Annotated[str, Form()],
    dry_run: Annotated[str, Form()] = "true",
    stages: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """A dry run (``dry_run=true``) or the migration of the onboardings on ``from_version`` (in
    ``stages`` when any are ticked) to the pipeline's current version; the results page follows."""
    chosen = [stage for stage in stages or [] if stage]
    only_looking = dry_run != "false"
    try:
        report = await move(
            service.client,
            service.scope,
            context.catalog,
            pipeline_id,
            from_version=from_version,
            to_version=None,  # the current one
            stages=chosen or None,
            dry_run=only_looking,
            by=session.by,
            now=datetime.now(UTC),
        )
    except SERVICE_ERRORS as err:
        return error_page(request, session, err, "Nothing was moved")
    if not only_looking:
        for result in report.results:
            await audit(
                context.database,
                session.principal,
                "pipeline_migration",
                result.onboarding_id,
                pipeline=pipeline_id,
                from_version=from_version,
                to_version=report.to_version,
                outcome=result.outcome,
                reason=result.reason,
            )
    pipeline = context.catalog.pipelines[pipeline_id]
    lines = [
        ResultLine(
            result,
            OUTCOME_LABELS.get(result.outcome, result.outcome),
            describe(result.impact, pipeline.timezone) if result.impact is not None else [],
        )
        for result in report.results
    ]
    return await _page(request, context, service, session, Results(report, pipeline, lines, chosen))
