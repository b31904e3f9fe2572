"""``/onboardings/{id}/personal-data``: erasure (GDPR art. 17) and access (art. 15)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse

from kickoff.api.deps import Admin, ApiKey, Service
from kickoff.api.errors import StrictRoute
from kickoff.api.responses import AUTHENTICATED, Responses, error, invalid, not_found
from kickoff.api.schemas import (
    DatabaseRowsPublic,
    ErasureAccepted,
    LedgerEntryPublic,
    PersonalDataErased,
    PersonalDataPublic,
    RunDataPublic,
)
from kickoff.identity.audit import audit
from kickoff.service import ErasedOnboardingError, privacy
from kickoff.service.privacy import ErasureReason, HeldData

router = APIRouter(
    prefix="/onboardings",
    tags=["privacy"],
    dependencies=[ApiKey],
    responses=AUTHENTICATED,
    route_class=StrictRoute,
)

_ERRORS: Responses = {**not_found("No such onboarding"), **invalid()}


@router.delete(
    "/{onboarding_id}/personal-data",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **_ERRORS,
        200: {"model": ErasureAccepted, "description": "Erased before: the first time is answered"},
        503: error("Temporal or Kickoff's database did not answer: nothing, or part, was done"),
    },
)
async def erase_personal_data(
    onboarding_id: str, service: Service, response: Response, who: Admin, reason: ErasureReason = "request"
) -> ErasureAccepted:
    """Erase the onboarding's personal data (GDPR art. 17): a running run is terminated first
    (the reason shows in the Temporal UI), its data key is destroyed, so no payload of its runs
    can be decoded again, and Kickoff's database keeps only stages, dates and outcomes. The
    history stays in Temporal as an audit. Repeating it is safe (200, with the first time)."""
    erasure = await privacy.erase(service, onboarding_id, reason)
    if erasure.first:
        await audit(service.database, who, "erasure", onboarding_id, reason=reason)
    else:
        response.status_code = status.HTTP_200_OK
    return ErasureAccepted(id=erasure.id, erased_at=erasure.erased_at)


@router.get(
    "/{onboarding_id}/personal-data",
    response_model=PersonalDataPublic,
    responses={
        **_ERRORS,
        410: {"model": PersonalDataErased, "description": "Erased: nothing of it is held any more"},
        503: error("A running run's worker or Kickoff's database did not answer: try again"),
    },
)
async def personal_data(
    onboarding_id: str, service: Service, who: Admin
) -> PersonalDataPublic | JSONResponse:
    """Everything Kickoff holds of the onboarding's people (GDPR art. 15), as JSON: the
    contract, each run's tasks, mails, timeline, checklist and records with who recorded them,
    and its rows in Kickoff's database. 410 once erased, saying when."""
    try:
        held = await privacy.held(service, onboarding_id)
    except ErasedOnboardingError as erased:
        gone = PersonalDataErased(
            id=onboarding_id,
            erased_at=erased.erased_at,
            detail=f"personal data erased at {erased.erased_at.isoformat()}: nothing of it is held",
        )
        return JSONResponse(gone.model_dump(mode="json"), status_code=status.HTTP_410_GONE)
    await audit(service.database, who, "personal_data_read", onboarding_id)
    return _public(held)


def _public(held: HeldData) -> PersonalDataPublic:
    return PersonalDataPublic(
        id=held.id,
        pipeline=held.pipeline,
        contract=held.contract,
        runs=[
            RunDataPublic(
                run_id=run.run_id,
                cycle=run.state.cycle,
                status=run.status,
                started_at=run.started_at,
                closed_at=run.closed_at,
                contract=run.state.contract,
                tasks=run.state.tasks,
                emails=run.state.emails,
                timeline=run.state.timeline,
                checklist=run.state.checklist,
                records=run.state.records,
                kickoff_outcome=run.state.kickoff_outcome,
            )
            for run in held.runs
        ],
        database=DatabaseRowsPublic(
            read_model=held.read_model,
            read_tasks=held.read_tasks,
            visits=held.visits,
            kickoff_outcomes=held.kickoff_outcomes,
            mail_ledger=[
                LedgerEntryPublic.model_validate(row, from_attributes=True) for row in held.mail_ledger
            ],
        ),
    )
