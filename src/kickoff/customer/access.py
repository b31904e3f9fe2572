"""Who may see a customer page: the holder of a live link to an onboarding that is running or
ended less than ``KICKOFF_CUSTOMER_LINK_WEEKS`` ago. Everything else gets a page saying how to
get a new link, and guessing is throttled per client address.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import structlog
from sqlalchemy.exc import SQLAlchemyError

from kickoff.crypto.fields import sealer_of
from kickoff.customer.links import CustomerLink, CustomerLinks
from kickoff.db import Database
from kickoff.db.bookings import BookingRow, BookingStore
from kickoff.domain import CUSTOMER, OnboardingState
from kickoff.identity.audit import AuditLog
from kickoff.pipelines import Pipeline
from kickoff.service import ErasedOnboardingError, NotFoundError, OnboardingService

log = structlog.get_logger(__name__)

GoneReason = Literal["unknown", "revoked", "expired"]
THROTTLE_KIND = "customer-link"
"""The throttle's bucket for links that do not open a page (``kickoff.identity.throttle``)."""


class LinkRefusedError(Exception):
    """The link opens no page; ``pipeline`` (when known) says whom to ask for a new one."""

    def __init__(self, reason: GoneReason, pipeline: Pipeline | None = None, language: str = "en") -> None:
        super().__init__(reason)
        self.reason: GoneReason = reason
        self.pipeline = pipeline
        self.language = language


@dataclass(frozen=True)
class Opened:
    """A link that opens its page, with what the page is made from."""

    link: CustomerLink
    state: OnboardingState
    pipeline: Pipeline
    language: str
    booking: BookingRow | None


def page_language(pipeline: Pipeline, state: OnboardingState) -> str:
    """The contract's language if the pipeline offers it, else the pipeline's default."""
    chosen = state.contract.language
    return chosen if chosen in pipeline.languages else pipeline.default_language


def ended_at(state: OnboardingState, booking: BookingRow | None) -> datetime | None:
    """When the onboarding ended for its customer: its last stage entry, or the booked meeting
    if that is later (a page stays open until the meeting is held, and some weeks after)."""
    if state.status == "running":
        return None
    end = state.stage_entered_at
    if booking is not None and booking.live and booking.ends_at > end:
        end = booking.ends_at
    return end


def page_closed(state: OnboardingState, booking: BookingRow | None, now: datetime, weeks: int) -> bool:
    """Whether the onboarding's page has closed for good: ended more than ``weeks`` ago."""
    end = ended_at(state, booking)
    return end is not None and now > end + timedelta(weeks=weeks)


def links_of(service: OnboardingService, database: Database) -> CustomerLinks:
    """The customer links, sealed with the data keys of the service's Temporal client."""
    return CustomerLinks(database, sealer_of(service.client.data_converter))


def csrf_token(secret: str, link: CustomerLink) -> str:
    """The forms' CSRF token: bound to the link, so a page elsewhere cannot post for it."""
    return hmac.new(secret.encode(), f"customer-page:{link.token_hash}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, link: CustomerLink, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(csrf_token(secret, link), offered)


class CustomerAccess:
    def __init__(
        self,
        service: OnboardingService,
        database: Database,
        links: CustomerLinks,
        bookings: BookingStore,
        link_weeks: int,
    ) -> None:
        self.service = service
        self.database = database
        self.links = links
        self.bookings = bookings
        self.link_weeks = link_weeks

    async def open(self, token: str, now: datetime) -> Opened:
        """The page ``token`` opens, or ``LinkRefusedError`` saying why not."""
        link = await self.links.resolve(token)
        if link is None:
            raise LinkRefusedError("unknown")
        try:
            state = await self.service.state(link.onboarding_id)
        except ErasedOnboardingError:
            raise LinkRefusedError("expired") from None
        except NotFoundError:
            raise LinkRefusedError("unknown") from None
        pipeline = self.service.catalog.get(state.pipeline)
        if pipeline is None:
            raise LinkRefusedError("expired")
        language = page_language(pipeline, state)
        if link.revoked_at is not None:
            raise LinkRefusedError("revoked", pipeline, language)
        booking = await self.bookings.live_for(link.onboarding_id)
        if page_closed(state, booking, now, self.link_weeks):
            raise LinkRefusedError("expired", pipeline, language)
        await self.links.touch(link, now)
        return Opened(link=link, state=state, pipeline=pipeline, language=language, booking=booking)

    async def record(self, opened: Opened, action: str, **detail: object) -> None:
        """Note what the customer did in the audit log, as the customer (best effort: the action
        is done; the run's timeline also says the customer did it)."""
        try:
            await AuditLog(self.database).record(CUSTOMER, action, opened.state.id, dict(detail))
        except (SQLAlchemyError, OSError) as err:
            log.error("audit.write_failed", action=action, error=type(err).__name__)
