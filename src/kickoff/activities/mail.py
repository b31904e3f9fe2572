"""The mail activity: render a pipeline's Jinja2 template and send it over SMTP, at most once.

Every mail is ``multipart/alternative``: the rendered plain text, and the same text as HTML in
the pipeline's look (``mail_html``); a mail with a calendar invitation carries it as iMIP.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from functools import lru_cache

import aiosmtplib
import icalendar
import jinja2
import structlog
from jinja2.sandbox import SandboxedEnvironment
from temporalio import activity
from temporalio.exceptions import ApplicationError

from kickoff.activities.ledger import LedgerEntry, MailLedger, new_claimant
from kickoff.activities.mail_html import render_html
from kickoff.crypto.data_keys import ErasedError
from kickoff.customer.links import CustomerLinks, page_url
from kickoff.domain import CalendarInvite, MailLook, SendMailInput, SendMailResult
from kickoff.metrics import MAILS_ALREADY_SENT, MAILS_FAILED, MAILS_SENT, count_mail

log = structlog.get_logger(__name__)


@dataclass
class _Progress:
    data_started: bool = False


@dataclass(frozen=True)
class _Handover:
    message_id: str
    claimant: str
    progress: _Progress


class _ClaimLostError(Exception):
    """Another attempt took this attempt's claim over before DATA."""


def _permanent(exc: Exception) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refusal.code >= 500 for refusal in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500


_templates = SandboxedEnvironment(
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    mail_from: str
    timeout_seconds: float = 20.0
    claim_wait_seconds: float | None = None
    """How long a retry waits for an earlier attempt's claim to resolve
    (default: the SMTP timeout plus a margin, so a slow attempt can finish)."""

    @property
    def claim_wait(self) -> float:
        return self.claim_wait_seconds if self.claim_wait_seconds is not None else self.timeout_seconds + 5


HEARTBEAT_EVERY = 1.0
"""Heartbeats let Temporal notice a dead worker within the heartbeat timeout
instead of waiting out the whole start-to-close timeout."""


@asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    if activity.info().is_local:
        # A local activity runs inside the workflow's worker: Temporal takes no heartbeats from
        # it (the workflow task's own timeout notices a dead worker).
        yield
        return

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_EVERY)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


@lru_cache(maxsize=512)
def _compiled(source: str) -> jinja2.Template:
    # A pipeline has a few dozen templates and every mail renders one: compile each once.
    return _templates.from_string(source)


class InvalidInvitationError(ValueError):
    """The calendar invitation is no iCalendar object, or its METHOD contradicts the mail's."""


def _invitation(invite: CalendarInvite) -> bytes:
    """The invitation as RFC 5545 wants it on the wire: CRLF lines, folded at 75 octets, with
    a METHOD that matches the part's ``method`` parameter (RFC 6047 section 2.4)."""
    try:
        calendar = icalendar.Calendar.from_ical(invite.ics)
    except ValueError:
        # icalendar's message quotes the offending line, which may hold a name: not in history.
        raise InvalidInvitationError("the calendar invitation is not valid iCalendar") from None
    if not isinstance(calendar, icalendar.Calendar):
        raise InvalidInvitationError("the calendar invitation is not a VCALENDAR object")
    method = calendar.get("METHOD")
    if method is None:
        calendar.add("METHOD", invite.method)
    elif str(method).upper() != invite.method:
        raise InvalidInvitationError(
            f"the calendar invitation says METHOD:{str(method).upper()!r}, the mail {invite.method!r}"
        )
    ical: bytes = calendar.to_ical()
    return ical


def _add_invitation(message: EmailMessage, invite: CalendarInvite) -> None:
    """Add ``invite`` to a message whose alternatives are in place.

    The shape Google Calendar's own invitations have, which Outlook, Gmail and Apple Mail all
    accept: the iMIP part (RFC 6047) inside the multipart/alternative, where Outlook/Exchange
    and Gmail look for it to offer Accept/Decline, and the same object once more as an
    attachment, invite.ics, for clients that only offer a file to open (Apple Mail on some
    versions, webmail without a calendar). The whole message is then multipart/mixed. The
    attachment is application/ics, not text/calendar, so that no client takes it for a second
    iMIP message. Bytes and base64, so that the CRLF line ends RFC 5545 requires survive."""
    ics = _invitation(invite)
    params = {"method": invite.method, "charset": "utf-8"}
    message.add_alternative(ics, maintype="text", subtype="calendar", cte="base64", params=params)
    message.add_attachment(
        ics, maintype="application", subtype="ics", filename="invite.ics", params={"name": "invite.ics"}
    )


def render_message(input: SendMailInput, mail_from: str, *, customer_page: str | None = None) -> EmailMessage:
    """Build the UTF-8 message; non-ASCII subjects are RFC 2047-encoded by the email package.

    ``customer_page`` (the customer's personal page, or None) is what templates see as
    ``customer_page``; the input's own context is not changed."""
    context = {**input.context, "customer_page": customer_page}
    subject = " ".join(_compiled(input.subject_template).render(context).split())
    body = _compiled(input.body_template).render(context)
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = input.to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = input.message_id
    message["X-Kickoff-Onboarding"] = input.onboarding_id
    # Quoted-printable keeps the message 7-bit: any relay accepts it, no 8BITMIME needed.
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    # The HTML says what the text says (mail_html dresses the text; it adds no words of its
    # own but a button label and the footer). Clients show the last alternative they can
    # display; an invitation goes after the HTML, as in RFC 6047's examples.
    html = render_html(body, input.look or MailLook(), subject=subject, customer_page=customer_page)
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if input.calendar is not None:
        _add_invitation(message, input.calendar)
    return message


class MailActivities:
    """Activities that send mail; built with real SMTP settings and a ledger.

    ``links`` and ``public_url`` fill a customer mail's ``customer_page`` (without ``links``,
    as in tests that need no customer page, it stays None)."""

    def __init__(
        self,
        smtp: SmtpConfig,
        ledger: MailLedger,
        links: CustomerLinks | None = None,
        public_url: str = "",
    ) -> None:
        self.smtp = smtp
        self.ledger = ledger
        self.links = links
        self.public_url = public_url

    @activity.defn(name="send_mail")
    async def send_mail(self, input: SendMailInput) -> SendMailResult:
        """Send one mail unless its Message-ID was already sent (see ``ledger`` for why)."""
        # The worker's interceptor binds onboarding_id, run_id, activity and attempt.
        with structlog.contextvars.bound_contextvars(message_id=input.message_id):
            try:
                async with _heartbeating():
                    result = await self._send(input)
            except ApplicationError as err:
                count_mail(
                    MAILS_FAILED,
                    input,
                    error=err.type or "ApplicationError",
                    retryable=str(not err.non_retryable).lower(),
                )
                raise
            except Exception as exc:
                # Anything else (the ledger's disk, say) is retried by Temporal.
                count_mail(MAILS_FAILED, input, error=type(exc).__name__, retryable="true")
                raise
            count_mail(MAILS_SENT if result.delivered else MAILS_ALREADY_SENT, input)
            return result

    async def _customer_page(self, input: SendMailInput) -> str | None:
        """The customer's personal page for a customer mail (the same link on every retry and
        every mail while it is live: ``ensure`` makes one only when there is none)."""
        if not input.customer_link:
            return None
        if self.links is None:
            log.warning("mail.customer_link_unavailable", reason="this worker has no customer links")
            return None
        try:
            token = await self.links.ensure(input.onboarding_id)
        except (LookupError, ErasedError):
            # Erased (the link's key is gone): no retry will bring it back. The reason is
            # fixed text: the exception's own words stay out of Temporal's history.
            raise ApplicationError(
                "the customer's personal link cannot be read or made (the onboarding's personal "
                "data was erased?)",
                type="CustomerLinkUnavailable",
                non_retryable=True,
            ) from None
        return page_url(self.public_url, token)

    async def _send(self, input: SendMailInput) -> SendMailResult:
        customer_page = await self._customer_page(input)
        try:
            message = render_message(input, self.smtp.mail_from, customer_page=customer_page)
        except jinja2.TemplateError as exc:
            raise ApplicationError(
                f"mail template failed to render: {exc}", type="TemplateError", non_retryable=True
            ) from exc
        except InvalidInvitationError as exc:
            raise ApplicationError(str(exc), type="CalendarInvalid", non_retryable=True) from None

        claimant = new_claimant()
        existing = await self._claim(input.message_id, claimant)
        if existing is not None and existing.state == "sent":
            log.info("mail.already_sent", reason="an earlier attempt delivered this Message-ID")
            return SendMailResult(message_id=input.message_id, delivered=False)
        if existing is not None:
            log.warning("mail.delivery_unknown", data_started_at=existing.updated_at.isoformat())
            raise ApplicationError(
                "an earlier attempt died while handing the mail to SMTP (during DATA); whether "
                "it was delivered is unknown, so it is not sent again",
                type="MailDeliveryUnknown",
                non_retryable=True,
            )

        progress = _Progress()
        try:
            await self._deliver(message, input.to, _Handover(input.message_id, claimant, progress))
        except asyncio.CancelledError:
            # Cancelled (the run moved on, the worker stops): before DATA nothing was sent.
            if not progress.data_started:
                await asyncio.shield(self.ledger.release(input.message_id, claimant))
            raise
        except _ClaimLostError:
            # A later attempt took the claim over (this one looked dead): that one sends.
            log.warning("mail.claim_taken_over")
            raise ApplicationError(
                "a later attempt took this mail over before DATA; this attempt sent nothing",
                type="MailClaimTakenOver",
            ) from None
        except Exception as exc:
            # SMTP errors quote the recipient's address; failures are stored in
            # Temporal's history and logged by the SDK, so only the kind travels.
            error = type(exc).__name__
            if progress.data_started and not isinstance(exc, aiosmtplib.SMTPDataError):
                # Broke off during DATA: the server may have the mail. The ledger stays at
                # data_started; the retry resolves it (see _claim) and never sends blindly.
                log.warning("mail.delivery_uncertain", error=error)
                raise ApplicationError(
                    f"SMTP conversation broke off during DATA ({error})", type="SmtpDeliveryUncertain"
                ) from None
            if progress.data_started:  # the server refused the message: nothing delivered
                await self.ledger.mark_failed(input.message_id, claimant)
            else:
                await self.ledger.release(input.message_id, claimant)
            log.warning("mail.not_delivered", error=error)
            # A 5xx reply is permanent (e.g. an address the relay rejects): retrying
            # for a day would only delay the staff task that replaces the mail.
            raise ApplicationError(
                f"SMTP did not accept the mail ({error})",
                type="SmtpNotDelivered",
                non_retryable=_permanent(exc),
            ) from None
        # Shielded: once SMTP has the mail, a cancellation must not skip the record.
        await asyncio.shield(self._record_sent(input.message_id))
        log.info("mail.sent")
        return SendMailResult(message_id=input.message_id, delivered=True)

    async def _deliver(self, message: EmailMessage, recipient: str, handover: _Handover) -> None:
        """One SMTP conversation, step by step, so that a failure before DATA is known
        to have delivered nothing (the claim can then be released)."""
        client = aiosmtplib.SMTP(
            hostname=self.smtp.host, port=self.smtp.port, timeout=self.smtp.timeout_seconds
        )
        await client.connect()
        try:
            await client.mail(parseaddr(self.smtp.mail_from)[1])
            await client.rcpt(recipient)
            # asyncio.wait_for (inside aiosmtplib, Python 3.11) can swallow a
            # cancellation that lands as a step completes: check before DATA.
            if activity.is_cancelled():
                raise asyncio.CancelledError
            await self._start_data(handover)
            sending = asyncio.ensure_future(client.data(message.as_bytes(policy=email.policy.SMTP)))
            try:
                await asyncio.shield(sending)
            except asyncio.CancelledError:
                # Cut off mid-DATA the server may or may not keep the mail, and nobody
                # could tell. Finish the handover instead: the mail is then known sent.
                await sending
        except BaseException:
            client.close()
            raise
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()

    async def _start_data(self, handover: _Handover) -> None:
        """Make "DATA started" durable before DATA, or learn that the claim was taken over.

        The write is shielded: a cancellation cannot leave us not knowing whether it landed."""
        write = asyncio.ensure_future(self.ledger.start_data(handover.message_id, handover.claimant))
        try:
            holds_claim = await asyncio.shield(write)
        except asyncio.CancelledError:
            if await write:
                # The row says "DATA started" but DATA never began: nothing was sent. Undo it
                # (failed: a retry may claim and send), or the retry would give the mail up
                # as "may not have arrived" (bench/read_model.py: 47 of 5,000 under load).
                await asyncio.shield(self.ledger.mark_failed(handover.message_id, handover.claimant))
            raise
        if not holds_claim:
            raise _ClaimLostError
        handover.progress.data_started = True

    async def _claim(self, message_id: str, claimant: str) -> LedgerEntry | None:
        """Claim the Message-ID; if an earlier attempt is in DATA, give it time to finish.

        An earlier attempt may only look dead (a heartbeat missed under load) and
        still be talking to SMTP: its row then turns into "sent" (nothing to do) or
        "failed" (we may send). Only a row that stays at data_started is "unknown".
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.smtp.claim_wait
        while True:
            # A cancellation must not leave our claim behind without us knowing: let the
            # write finish and undo our own claim (it sent nothing).
            attempt = asyncio.ensure_future(self.ledger.claim(message_id, claimant))
            try:
                existing = await asyncio.shield(attempt)
            except asyncio.CancelledError:
                if await attempt is None:
                    await self.ledger.release(message_id, claimant)
                raise
            if existing is None or existing.state == "sent" or loop.time() >= deadline:
                return existing
            await asyncio.sleep(0.5)

    async def _record_sent(self, message_id: str) -> None:
        # The window this whole design is about: the SMTP server has the mail,
        # Temporal does not know yet. The ledger row closes it.
        await self.ledger.mark_sent(message_id)
