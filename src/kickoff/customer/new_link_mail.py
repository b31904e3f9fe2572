"""Staff's "send a new link": the customer's live link revoked, a new one made and mailed to the
contract's main user; and revoking a link on its own. The board and the API both call these.

The mail goes through ``BookingMailWorkflow`` (durable, retried, sent at most once per
Message-ID), not through the onboarding's run, which may have completed. Its Message-ID and
workflow id name the new link's creation time, so resending makes a new mail while a retried
request for the same link starts nothing new. The mail activity fills ``{{ customer_page }}``
with the live link's URL (``customer_link=True``): the token never leaves Kickoff's database
and the worker, not even into this workflow's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from temporalio.service import RPCError

from kickoff.crypto.data_keys import ErasedError
from kickoff.customer.access import links_of, page_closed, page_language
from kickoff.customer.links import CustomerLink
from kickoff.customer.mail_out import hand_over
from kickoff.db import Database
from kickoff.db.bookings import BookingStore
from kickoff.domain import OnboardingState, SendMailInput
from kickoff.engine.messages import mail_look
from kickoff.pipelines import Pipeline
from kickoff.service import ConflictError, NotFoundError, OnboardingService, UnavailableError

TEMPLATE = "customer_new_link"
"""How the mail is named in logs and metrics."""

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "sv": (
        "Er nya länk till er onboardingsida",
        "Hej {{ main_user.name }},\n\n"
        "här är er nya personliga länk till sidan där ni följer er onboarding"
        "{% if booking %} och bokar ert uppstartsmöte{% endif %}:\n\n"
        "{{ customer_page }}\n\n"
        "Den tidigare länken fungerar inte längre. Dela inte länken: den som har den kan se sidan.\n\n"
        "Med vänliga hälsningar\n{{ team }}\n",
    ),
    "nb": (
        "Deres nye lenke til onboardingsiden",
        "Hei {{ main_user.name }},\n\n"
        "her er deres nye personlige lenke til siden der dere følger onboardingen"
        "{% if booking %} og booker oppstartsmøtet{% endif %}:\n\n"
        "{{ customer_page }}\n\n"
        "Den forrige lenken virker ikke lenger. Ikke del lenken: alle som har den, kan se siden.\n\n"
        "Vennlig hilsen\n{{ team }}\n",
    ),
    "fi": (
        "Uusi linkki käyttöönottosivullenne",
        "Hei {{ main_user.name }},\n\n"
        "tässä on uusi henkilökohtainen linkki sivulle, jolla seuraatte käyttöönottoanne"
        "{% if booking %} ja varaatte aloituspalaverin{% endif %}:\n\n"
        "{{ customer_page }}\n\n"
        "Aiempi linkki ei enää toimi. Älkää jakako linkkiä: kuka tahansa, jolla se on, näkee sivun.\n\n"
        "Ystävällisin terveisin\n{{ team }}\n",
    ),
    "en": (
        "Your new link to your onboarding page",
        "Hello {{ main_user.name }},\n\n"
        "here is your new personal link to the page where you follow your onboarding"
        "{% if booking %} and book your kick-off meeting{% endif %}:\n\n"
        "{{ customer_page }}\n\n"
        "The previous link no longer works. Please do not share it: anyone who has it can see the page.\n\n"
        "Kind regards\n{{ team }}\n",
    ),
}
"""Subject and body (Jinja2, plain text) per language; the mail's HTML part is made from the body."""


@dataclass(frozen=True)
class Sent:
    link: CustomerLink
    """The new live link (its creation time; never its token)."""
    revoked: bool
    """Whether a live link was revoked first."""
    to: str


def texts_in(language: str) -> tuple[str, str]:
    """The mail's subject and body in ``language``, English for a language without texts."""
    return TEXTS.get(language, TEXTS["en"])


async def with_customer_page(service: OnboardingService, oid: str) -> tuple[OnboardingState, Pipeline]:
    """The onboarding's state and pipeline; 404 for an unknown onboarding, 409 when its pipeline
    has no customer page (so it has no link to revoke or send)."""
    state = await service.state(oid)
    pipeline = service.catalog.get(state.pipeline)
    if pipeline is None:
        raise NotFoundError(f"pipeline {state.pipeline!r} of onboarding {oid} is no longer in pipelines.yaml")
    if pipeline.customer_page is None:
        raise ConflictError(f"pipeline {pipeline.id} has no customer page: onboarding {oid} has no link")
    return state, pipeline


async def revoke(service: OnboardingService, database: Database, oid: str, by: str) -> bool:
    """Revoke the onboarding's live link (its page then answers 410); False if it had none."""
    await with_customer_page(service, oid)
    return await links_of(service, database).revoke(oid, by)


def mail_input(state: OnboardingState, pipeline: Pipeline, link: CustomerLink) -> SendMailInput:
    """The mail carrying ``link`` to the main user, in the contract's language if offered."""
    language = page_language(pipeline, state)
    subject, body = texts_in(language)
    stamp = link_stamp(link)
    domain = pipeline.team.email.rsplit("@", 1)[1]
    return SendMailInput(
        onboarding_id=state.id,
        message_id=f"<{state.id}.{TEMPLATE}.{stamp}@{domain}>",
        to=state.contract.main_user.email,
        subject_template=subject,
        body_template=body,
        context={
            "main_user": {"name": state.contract.main_user.name},
            "customer": {"name": state.contract.customer.name},
            "onboarding_id": state.id,
            "team": pipeline.team.name or pipeline.name,
            "booking": pipeline.booking is not None,
        },
        look=mail_look(pipeline, language),
        customer_link=True,
    )


def link_stamp(link: CustomerLink) -> str:
    """The link's creation time in microseconds: unique per link of an onboarding."""
    return str(int(link.created_at.timestamp() * 1_000_000))


def mail_workflow_id(oid: str, link: CustomerLink) -> str:
    return f"{oid}.{TEMPLATE}.{link_stamp(link)}"


async def send_new_link(
    service: OnboardingService, database: Database, oid: str, by: str, link_weeks: int, now: datetime
) -> Sent:
    """Revoke the live link, make a new one and hand its mail to ``BookingMailWorkflow``.

    409 when the onboarding's page is closed for good (ended more than ``link_weeks`` ago: a
    new link would open nothing) or its personal data was erased."""
    state, pipeline = await with_customer_page(service, oid)
    booking = await BookingStore(database).live_for(oid)
    if page_closed(state, booking, now, link_weeks):
        raise ConflictError(
            f"onboarding {oid} ended more than {link_weeks} weeks ago: its customer page is closed, "
            "so a new link would not open it"
        )
    links = links_of(service, database)
    revoked = await links.revoke(oid, by)
    try:
        await links.ensure(oid)
    except (LookupError, ErasedError):
        raise ConflictError(f"onboarding {oid}'s personal data was erased: no link can be made") from None
    link = await links.live(oid)
    if link is None:  # revoked by someone else this very moment
        raise ConflictError("the new link was revoked at once by someone else: try again")
    try:
        # A retried request for this link finds its mail handed over already.
        mail = mail_input(state, pipeline, link)
        await hand_over(service, oid, [mail], mail_workflow_id(oid, link), "new customer link mail")
    except RPCError:
        raise UnavailableError(
            "Temporal did not take the mail: the new link is made (the old one revoked) but not "
            "mailed yet; send again shortly"
        ) from None
    return Sent(link=link, revoked=revoked, to=state.contract.main_user.email)
