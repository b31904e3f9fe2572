"""``POST /contracts``: the contract-signing system's webhook."""

from __future__ import annotations

import time
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from kickoff.api.deps import Context, Service
from kickoff.api.errors import not_decodable_reason, public_errors, unreadable_body
from kickoff.api.schemas import ContractAccepted
from kickoff.domain import Contract
from kickoff.logging_setup import describe_errors
from kickoff.metrics import record_onboarding_started
from kickoff.signature import SignatureError, verify

router = APIRouter(tags=["contracts"])
log = structlog.get_logger(__name__)

CONTRACT_MAX_BYTES = 64 * 1024
"""A contract is a few hundred bytes; its longest lists (modules, dates) stay far below this."""


def contract_schemas() -> dict[str, Any]:
    """The Contract body and its nested models as OpenAPI component schemas.

    The route reads the raw body (the signature covers its bytes), so FastAPI
    cannot derive the schema itself; ``create_app`` adds these to components.
    """
    schema = Contract.model_json_schema(ref_template="#/components/schemas/{model}")
    nested: dict[str, Any] = schema.pop("$defs", {})
    return {"Contract": schema, **nested}


@router.post(
    "/contracts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ContractAccepted,
    responses={
        200: {"model": ContractAccepted, "description": "The same contract again: no second run"},
        401: {"description": "Missing, wrong or stale signature"},
        409: {"description": "The contract id was received before with different content"},
        413: {"description": "The body is larger than a contract can be"},
        422: {"description": "A body that is not UTF-8 JSON, an invalid contract, or an unknown pipeline"},
    },
    # The signature covers the whole body, so it is read before anything is checked: keep it small.
    max_body_size=CONTRACT_MAX_BYTES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Contract"}}},
        }
    },
)
async def receive_contract(
    request: Request,
    response: Response,
    context: Context,
    service: Service,
    signature: Annotated[str | None, Header(alias="X-Kickoff-Signature")] = None,
) -> ContractAccepted:
    """Start the onboarding run of a signed contract (idempotent per contract id)."""
    # The signature covers the raw bytes, so verify before parsing anything.
    body = await request.body()
    settings = context.settings
    try:
        verify(
            signature,
            settings.webhook_secret.get_secret_value(),
            body,
            now=time.time(),
            tolerance=settings.webhook_tolerance_seconds,
        )
    except SignatureError as exc:
        log.warning("contract.rejected_signature", reason=str(exc))
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    # Past the signature, the body is the sender's: one that is not UTF-8, not JSON or not a
    # contract is a 422 naming the problem and never repeating it (pydantic's error held the
    # raw bytes, which FastAPI could not encode: a 500 whose logged traceback held the body).
    try:
        contract = Contract.model_validate_json(body.decode("utf-8"))
    except (UnicodeDecodeError, ValidationError) as exc:
        invalid = (
            unreadable_body(not_decodable_reason(exc), loc=())
            if isinstance(exc, UnicodeDecodeError)
            else RequestValidationError(public_errors(exc.errors(include_url=False)))
        )
        # Field paths and error types only: the values are personal data.
        log.warning("contract.invalid", fields=describe_errors(invalid.errors()))
        raise invalid from None

    result = await service.start(contract)
    structlog.contextvars.bind_contextvars(onboarding_id=result.onboarding_id)
    log.info("contract.accepted", created=result.created, pipeline=result.pipeline)
    if result.created:
        record_onboarding_started(request.app, result.pipeline)
    else:
        response.status_code = status.HTTP_200_OK
    return ContractAccepted(
        id=result.onboarding_id,
        pipeline=result.pipeline,
        stage=result.stage,
        url=f"{settings.public_url.rstrip('/')}/onboardings/{result.onboarding_id}",
    )
