"""The board's side of erasure (GDPR art. 17): the erase form's choices and checks, and the page
of an onboarding whose personal data was erased (what may be kept, never a payload)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from fastapi import Request, Response, status

from kickoff.board.auth import Session
from kickoff.board.pages import page, status_of
from kickoff.board.views import OUTCOME_LABELS, local
from kickoff.pipelines import PipelineCatalog
from kickoff.service import OnboardingService, UnprocessableError, privacy
from kickoff.service.privacy import ErasureReason, KeptOnboarding

REASON_LABELS: dict[ErasureReason, str] = {
    "request": "The person asked for erasure",
    "no_longer_needed": "No longer needed for its purpose",
    "objection": "The person objected to the processing",
    "unlawful": "It was processed unlawfully",
}
"""The form's reasons: a choice rather than free text, which could itself hold personal data."""
CONFIRM = "erase"
"""What the confirmation checkbox sends when ticked."""


def reason_choices() -> list[tuple[str, str]]:
    return [(reason, REASON_LABELS[reason]) for reason in get_args(ErasureReason)]


def checked_reason(confirm: str | None, reason: str | None) -> ErasureReason:
    """The form's reason once the confirmation is ticked; UnprocessableError saying what is missing."""
    if confirm != CONFIRM:
        raise UnprocessableError("tick the confirmation: erasure cannot be undone")
    for known in get_args(ErasureReason):
        if reason == known:
            chosen: ErasureReason = known
            return chosen
    raise UnprocessableError("choose why the personal data is erased")


@dataclass(frozen=True)
class VisitRow:
    cycle: int
    stage: str
    entered: str
    left: str


@dataclass(frozen=True)
class ErasedView:
    kept: KeptOnboarding
    pipeline_name: str
    erased: str
    started: str
    closed: str
    stage_entered: str
    visits: list[VisitRow]
    outcomes: list[tuple[int, str, str]]
    """(cycle, outcome and segment, recorded at)"""


def erased_view(kept: KeptOnboarding, catalog: PipelineCatalog) -> ErasedView:
    pipeline = catalog.get(kept.pipeline) if kept.pipeline else None
    timezone = pipeline.timezone if pipeline else "UTC"
    labels = {stage.id: stage.label for stage in pipeline.stages} if pipeline else {}

    def at(moment: datetime | None) -> str:
        return local(moment, timezone)

    return ErasedView(
        kept=kept,
        pipeline_name=pipeline.name if pipeline else (kept.pipeline or "unknown pipeline"),
        erased=at(kept.personal_data_erased_at),
        started=at(kept.started_at),
        closed=at(kept.closed_at),
        stage_entered=at(kept.stage_entered_at),
        visits=[
            VisitRow(v.cycle, labels.get(v.stage, v.stage), at(v.entered_at), at(v.left_at))
            for v in kept.visits
        ],
        outcomes=[
            (
                o.cycle,
                OUTCOME_LABELS.get(o.outcome, o.outcome) + (f", segment {o.segment}" if o.segment else ""),
                at(o.recorded_at),
            )
            for o in kept.kickoff_outcomes
        ],
    )


async def erased_page(
    request: Request,
    catalog: PipelineCatalog,
    service: OnboardingService,
    session: Session,
    oid: str,
    erased_at: datetime,
    refused: Exception | None = None,
) -> Response:
    """The page of an erased onboarding; with ``refused``, why an action on it was not done."""
    kept = await privacy.kept(service, oid, erased_at)
    code = status.HTTP_200_OK
    if refused is not None:
        code = status_of(refused, status.HTTP_409_CONFLICT)
    return page(
        request,
        "erased.html",
        session,
        {"view": erased_view(kept, catalog)},
        code,
        error=f"Not done: {refused}" if refused else None,
    )
