"""``POST /contracts``: the contract-signing system's webhook."""

from __future__ import annotations

import time
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from kickoff.api.deps import Context, Service
from kickoff.api.errors import (
    AmbiguousJsonError,
    StrictRoute,
    loads_strict,
    not_decodable_reason,
    public_errors,
    unreadable_body,
)
from kickoff.api.responses import SIGNED, UNAVAILABLE, conflict, invalid, too_large
from kickoff.api.schemas import ContractAccepted, ContractIn
from kickoff.domain import Contract
from kickoff.logging_setup import describe_errors
from kickoff.metrics import record_onboarding_started
from kickoff.signature import SignatureError, verify

router = APIRouter(tags=["contracts"], route_class=StrictRoute)
log = structlog.get_logger(__name__)

CONTRACT_MAX_BYTES = 64 * 1024
"""A contract is a few hundred bytes; its longest lists (modules, dates) stay far below this.
The signature covers the whole body, so it is read before anything is checked: ``create_app``
gives this path this limit in ``kickoff.api.body_limit`` (or KICKOFF_MAX_BODY_BYTES, if smaller)."""


def contract_schemas() -> dict[str, Any]:
    """The Contract body and its nested models as OpenAPI component schemas.

    The route reads the raw body (the signature covers its bytes), so FastAPI
    cannot derive the schema itself; ``create_app`` adds these to components.
    """
    schema = ContractIn.model_json_schema(ref_template="#/components/schemas/{model}")
    nested: dict[str, Any] = schema.pop("$defs", {})
    return {"Contract": schema, **nested}


@router.post(
    "/contracts",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ContractAccepted,
    responses={
        200: {"model": ContractAccepted, "description": "The same contract again: no second run"},
        **SIGNED,
        **conflict(
            "The contract id was received before with different content, or its onboarding's "
            "personal data was erased (it is never started again)"
        ),
        **too_large(f"{CONTRACT_MAX_BYTES} bytes (a contract is a few hundred)"),
        **invalid(
            "A body that is not UTF-8 JSON, repeats a key, or is not a contract; an unknown "
            "pipeline, module or date"
        ),
        **UNAVAILABLE,
    },
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
    # A key twice is refused too: the signer's reader may take the first, json.loads the last.
    try:
        text = body.decode("utf-8")
        _refuse_ambiguous(text)
        # Validated with the API's bounds, then read as the domain's contract (the same fields).
        ContractIn.model_validate_json(text)
        contract = Contract.model_validate_json(text)
    except (UnicodeDecodeError, AmbiguousJsonError, ValidationError) as exc:
        refusal = (
            RequestValidationError(public_errors(exc.errors(include_url=False)))
            if isinstance(exc, ValidationError)
            else unreadable_body(not_decodable_reason(exc), loc=())
        )
        # Field paths and error types only: the values are personal data.
        log.warning("contract.invalid", fields=describe_errors(refusal.errors()))
        raise refusal from None

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


def _refuse_ambiguous(text: str) -> None:
    """``AmbiguousJsonError`` for a duplicated key or a lone surrogate; a body that is not JSON at
    all passes here, for pydantic to name its problem."""
    try:
        loads_strict(text)
    except AmbiguousJsonError:
        raise
    except (ValueError, RecursionError):
        return
