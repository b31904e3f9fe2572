"""The customer's personal link, for integrations: revoke it, or send the customer a new one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, status
from pydantic import BaseModel

from kickoff.api.deps import Acting, ApiKey, Context, Service
from kickoff.api.errors import StrictRoute
from kickoff.api.responses import AUTHENTICATED, UNAVAILABLE, Responses, conflict, invalid, not_found
from kickoff.customer import new_link_mail
from kickoff.identity.audit import audit

router = APIRouter(
    prefix="/onboardings",
    tags=["customer links"],
    dependencies=[ApiKey],
    responses={**AUTHENTICATED, **UNAVAILABLE},
    route_class=StrictRoute,
)

_ERRORS: Responses = {
    **not_found("No such onboarding"),
    **conflict("The onboarding's pipeline has no customer page, or its personal data was erased"),
    **invalid(),
}


class CustomerLinkRevoked(BaseModel):
    id: str
    revoked: bool
    """False when the onboarding had no live link (nothing was changed)."""


class CustomerLinkSent(BaseModel):
    id: str
    sent: Literal[True] = True


@router.post("/{onboarding_id}/customer-link/revoke", responses=_ERRORS)
async def revoke_customer_link(
    onboarding_id: str, service: Service, context: Context, who: Acting
) -> CustomerLinkRevoked:
    """Revoke the customer's personal link: its page answers 410 saying how to get a new one.
    The next mail to the customer carries a new link (or send one: ``POST .../customer-link``)."""
    revoked = await new_link_mail.revoke(service, context.database, onboarding_id, who.actor)
    if revoked:
        await audit(context.database, who, "customer_link_revoked", onboarding_id)
    return CustomerLinkRevoked(id=onboarding_id, revoked=revoked)


@router.post(
    "/{onboarding_id}/customer-link",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **_ERRORS,
        **conflict(
            "The pipeline has no customer page, the personal data was erased, or the onboarding "
            "ended so long ago that its page is closed"
        ),
    },
)
async def send_customer_link(
    onboarding_id: str, service: Service, context: Context, who: Acting
) -> CustomerLinkSent:
    """Send the contract's main user a new personal link (any live one is revoked first): the
    mail is handed to a workflow that sends it, in the contract's language, retrying SMTP."""
    sent = await new_link_mail.send_new_link(
        service,
        context.database,
        onboarding_id,
        who.actor,
        context.settings.customer_link_weeks,
        datetime.now(UTC),
    )
    await audit(context.database, who, "customer_link_sent", onboarding_id, revoked=sent.revoked)
    return CustomerLinkSent(id=onboarding_id)
