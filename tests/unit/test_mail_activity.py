"""The mail activity over real SMTP: UTF-8 rendering, Message-ID idempotency, and the ledger's crash rules."""

from __future__ import annotations

import asyncio
import uuid
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from kickoff.activities import MailActivities, SmtpConfig
from kickoff.domain import SendMailInput
from kickoff.mailcatcher import MailCatcher, free_port
from tests.support import eventually

CUSTOMER = "Åre Hälsa & Söner AB"
USER = "Örjan Ängström"
SUBJECT = "Välkommen till Assist, {{ customer.name }}!"
BODY = "Hej {{ main_user.name }},\n\nVälkommen! Ärende {{ onboarding_id }} gäller {{ customer.name }}.\n"
MAIL_FROM = "Kickoff <kickoff@test.example>"


def mail_input(**overrides: object) -> SendMailInput:
    """A welcome mail with Swedish names and a fresh Message-ID (the catcher is shared by the session)."""
    values: dict[str, object] = {
        "onboarding_id": "SE-C-1001",
        "message_id": f"<{uuid.uuid4().hex}@kickoff.test>",
        "to": "orjan@are-halsa.example",
        "subject_template": SUBJECT,
        "body_template": BODY,
        "context": {
            "onboarding_id": "SE-C-1001",
            "customer": {"name": CUSTOMER},
            "main_user": {"name": USER},
        },
    }
    values.update(overrides)
    return SendMailInput.model_validate(values)


async def arrived(smtp: MailCatcher, message_id: str) -> list[EmailMessage]:
    """The messages with ``message_id`` once at least one is there."""

    async def probe() -> list[EmailMessage]:
        return smtp.with_message_id(message_id)

    return await eventually(probe, bool, within=10)


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


async def test_mail_arrives_once_with_utf8_subject_and_body(
    env: ActivityEnvironment, mail_activities: MailActivities, smtp: MailCatcher
) -> None:
    """The rendered mail reaches SMTP once; å, ä, ö in names survive in the decoded Subject and body."""
    request = mail_input()
    result = await env.run(mail_activities.send_mail, request)
    assert (result.message_id, result.delivered) == (request.message_id, True)

    (message,) = await arrived(smtp, request.message_id)
    assert message["Message-ID"] == request.message_id
    assert message["X-Kickoff-Onboarding"] == "SE-C-1001"
    assert message["To"] == "orjan@are-halsa.example"
    assert str(message["Subject"]) == f"Välkommen till Assist, {CUSTOMER}!"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    assert plain is not None
    assert plain.get_content_charset() == "utf-8"
    body = plain.get_content().replace("\r\n", "\n")
    assert body == f"Hej {USER},\n\nVälkommen! Ärende SE-C-1001 gäller {CUSTOMER}.\n"
    entry = await mail_activities.ledger.get(request.message_id)
    assert entry is not None
    assert entry.state == "sent"


async def test_second_send_with_same_message_id_delivers_nothing(
    env: ActivityEnvironment, mail_activities: MailActivities, smtp: MailCatcher
) -> None:
    """A retry with a Message-ID already sent returns delivered=False and sends no second mail."""
    request = mail_input()
    first = await env.run(mail_activities.send_mail, request)
    await arrived(smtp, request.message_id)

    second = await env.run(mail_activities.send_mail, request)
    assert first.delivered is True
    assert (second.message_id, second.delivered) == (request.message_id, False)
    # The catcher stores a message before it answers DATA, so nothing can be in flight here.
    assert len(smtp.with_message_id(request.message_id)) == 1


async def test_a_bare_claim_left_by_a_crash_is_taken_over_and_sent_once(
    env: ActivityEnvironment, mail_activities: MailActivities, smtp: MailCatcher
) -> None:
    """A worker that died holding only a claim (before DATA) sent nothing: the retry sends."""
    request = mail_input()
    assert await mail_activities.ledger.claim(request.message_id, "crashed-attempt") is None

    result = await env.run(mail_activities.send_mail, request)
    assert result.delivered is True
    assert len(await arrived(smtp, request.message_id)) == 1
    entry = await mail_activities.ledger.get(request.message_id)
    assert entry is not None
    assert entry.state == "sent"
    # The crashed attempt, had it lived on, could no longer start DATA.
    assert await mail_activities.ledger.start_data(request.message_id, "crashed-attempt") is False


async def test_a_crash_inside_data_stops_the_send(
    env: ActivityEnvironment, mail_activities: MailActivities, smtp: MailCatcher
) -> None:
    """A row left at 'data_started' means delivery is unknown: non-retryable MailDeliveryUnknown, no mail."""
    request = mail_input()
    assert await mail_activities.ledger.claim(request.message_id, "crashed-attempt") is None
    assert await mail_activities.ledger.start_data(request.message_id, "crashed-attempt") is True

    with pytest.raises(ApplicationError) as caught:
        await env.run(mail_activities.send_mail, request)
    assert caught.value.type == "MailDeliveryUnknown"
    assert caught.value.non_retryable is True
    assert smtp.with_message_id(request.message_id) == []
    entry = await mail_activities.ledger.get(request.message_id)
    assert entry is not None
    assert entry.state == "data_started"


async def test_smtp_down_releases_the_claim_so_a_retry_sends_once(
    env: ActivityEnvironment, mail_activities: MailActivities, smtp: MailCatcher
) -> None:
    """When SMTP refuses the connection the claim is released, and the retry after recovery sends once."""
    request = mail_input()
    down = MailActivities(
        SmtpConfig(host=smtp.host, port=free_port(smtp.host), mail_from=MAIL_FROM, timeout_seconds=5),
        mail_activities.ledger,
    )
    with pytest.raises(ApplicationError) as refused:
        await env.run(down.send_mail, request)
    assert refused.value.type == "SmtpNotDelivered"
    assert not refused.value.non_retryable  # Temporal retries until SMTP is back
    assert request.to not in str(refused.value)  # no address in history or logs
    assert await mail_activities.ledger.get(request.message_id) is None
    assert smtp.with_message_id(request.message_id) == []

    retry = await env.run(mail_activities.send_mail, request)
    assert retry.delivered is True
    assert len(await arrived(smtp, request.message_id)) == 1
    again = await env.run(mail_activities.send_mail, request)
    assert again.delivered is False
    assert len(smtp.with_message_id(request.message_id)) == 1


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Hej {{ contact_person }}", BODY),
        (SUBJECT, "Hej {{ main_user.phone }}\n"),
        (SUBJECT, "Hej {{ main_user.name }\n"),
    ],
    ids=["unknown-variable-in-subject", "unknown-attribute-in-body", "syntax-error-in-body"],
)
async def test_template_that_cannot_render_fails_without_ledger_row(
    env: ActivityEnvironment, mail_activities: MailActivities, smtp: MailCatcher, subject: str, body: str
) -> None:
    """A template that does not render is a non-retryable TemplateError; nothing is claimed or sent."""
    request = mail_input(subject_template=subject, body_template=body)
    with pytest.raises(ApplicationError) as caught:
        await env.run(mail_activities.send_mail, request)
    assert caught.value.type == "TemplateError"
    assert caught.value.non_retryable is True
    assert await mail_activities.ledger.get(request.message_id) is None
    assert smtp.with_message_id(request.message_id) == []


@pytest.mark.parametrize(
    ("earlier_attempt", "delivered", "arrivals"),
    [("mark_sent", False, 0), ("mark_failed", True, 1)],
    ids=["earlier-attempt-sent-it", "earlier-attempt-was-refused"],
)
async def test_a_retry_waits_for_a_live_earlier_attempt_and_follows_its_outcome(
    env: ActivityEnvironment,
    mail_activities: MailActivities,
    smtp: MailCatcher,
    earlier_attempt: str,
    delivered: bool,
    arrivals: int,
) -> None:
    """A retry meeting an earlier attempt inside DATA waits: "sent" means send nothing, a refused
    DATA ("failed") means send once."""
    mail = mail_input()
    ledger = mail_activities.ledger
    assert await ledger.claim(mail.message_id, "earlier") is None
    assert await ledger.start_data(mail.message_id, "earlier") is True

    async def earlier_attempt_ends() -> None:
        await asyncio.sleep(0.3)
        if earlier_attempt == "mark_sent":
            await ledger.mark_sent(mail.message_id)
        else:
            await ledger.mark_failed(mail.message_id, "earlier")

    ending = asyncio.create_task(earlier_attempt_ends())
    result = await env.run(mail_activities.send_mail, mail)
    await ending
    assert result.delivered is delivered
    if arrivals:
        assert len(await arrived(smtp, mail.message_id)) == arrivals
    assert len(smtp.with_message_id(mail.message_id)) == arrivals


class _RefusingHandler:
    """An SMTP server that rejects every recipient with a permanent 550."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        return "550 5.1.1 no such mailbox"


async def test_a_permanent_smtp_refusal_is_not_retried_and_names_no_address(
    env: ActivityEnvironment, mail_activities: MailActivities
) -> None:
    """A 5xx refusal fails the attempt for good (the workflow gives staff a task) and leaves no claim."""
    refusing = Controller(_RefusingHandler(), hostname="127.0.0.1", port=free_port())
    refusing.start()
    try:
        request = mail_input()
        activities = MailActivities(
            SmtpConfig(host="127.0.0.1", port=refusing.port, mail_from=MAIL_FROM), mail_activities.ledger
        )
        with pytest.raises(ApplicationError) as refused:
            await env.run(activities.send_mail, request)
    finally:
        refusing.stop()
    assert (refused.value.type, refused.value.non_retryable) == ("SmtpNotDelivered", True)
    assert request.to not in str(refused.value)
    assert await mail_activities.ledger.get(request.message_id) is None


class _SlowRelay:
    """An SMTP relay that takes its time over RCPT, so an attempt can be cancelled before DATA."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        await asyncio.sleep(10)
        return "250 OK"


async def test_an_attempt_cancelled_before_data_releases_its_claim(mail_activities: MailActivities) -> None:
    """Cancelled mid-conversation but before DATA, nothing was sent: the claim goes, a retry may send."""
    relay = Controller(_SlowRelay(), hostname="127.0.0.1", port=free_port())
    relay.start()
    env = ActivityEnvironment()
    request = mail_input()
    slow = MailActivities(
        SmtpConfig(host="127.0.0.1", port=relay.port, mail_from=MAIL_FROM), mail_activities.ledger
    )
    try:
        attempt = asyncio.create_task(env.run(slow.send_mail, request))
        await eventually(lambda: mail_activities.ledger.get(request.message_id), lambda e: e is not None)
        env.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
    finally:
        relay.stop()
    assert await mail_activities.ledger.get(request.message_id) is None


class _SlowData:
    """An SMTP relay that takes its time to accept DATA, and says when DATA has begun."""

    def __init__(self) -> None:
        self.begun = asyncio.Event()
        self.accepted = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook
        self.begun.set()
        await asyncio.sleep(1)
        self.accepted += 1
        return "250 OK"


async def test_an_attempt_cancelled_during_data_finishes_the_handover_and_records_it(
    mail_activities: MailActivities,
) -> None:
    """Cut off mid-DATA nobody could know whether the mail arrived: the handover is finished
    instead, the ledger says "sent", and the activity reports the delivery."""
    handler = _SlowData()
    relay = Controller(handler, hostname="127.0.0.1", port=free_port())
    relay.start()
    env = ActivityEnvironment()
    request = mail_input()
    slow = MailActivities(
        SmtpConfig(host="127.0.0.1", port=relay.port, mail_from=MAIL_FROM), mail_activities.ledger
    )
    try:
        attempt = asyncio.create_task(env.run(slow.send_mail, request))
        # The relay runs in its own thread and event loop: poll its flag with a deadline.
        await eventually(lambda: _async(handler.begun.is_set()), bool)
        env.cancel()
        result = await attempt
    finally:
        relay.stop()
    assert result.delivered is True
    assert handler.accepted == 1
    entry = await mail_activities.ledger.get(request.message_id)
    assert entry is not None
    assert entry.state == "sent"


async def _async(value: bool) -> bool:
    return value


async def test_a_cancellation_while_data_started_is_written_leaves_the_mail_sendable(
    env: ActivityEnvironment, mail_activities: MailActivities, smtp: MailCatcher
) -> None:
    """Cancelled (its local try's timeout, say) while "DATA started" is being written: the write
    lands, but DATA never began. The row goes to failed, so the retry sends the mail once,
    instead of giving it up as one that may not have arrived."""
    request = mail_input()
    ledger = mail_activities.ledger
    original = ledger.start_data

    async def slow_start_data(message_id: str, claimant: str) -> bool:
        await asyncio.sleep(0.3)  # the write is in flight when the cancellation lands
        return await original(message_id, claimant)

    ledger.start_data = slow_start_data  # type: ignore[method-assign]
    try:
        attempt = asyncio.create_task(env.run(mail_activities.send_mail, request))
        await asyncio.sleep(0.15)
        env.cancel()
        with pytest.raises(BaseException):  # noqa: B017, PT011 -- the cancellation, however the SDK wraps it
            await attempt
    finally:
        ledger.start_data = original  # type: ignore[method-assign]
    entry = await ledger.get(request.message_id)
    assert entry is not None
    assert entry.state == "failed"
    assert not [
        m for m in smtp.for_onboarding(request.onboarding_id) if m["Message-ID"] == request.message_id
    ]

    result = await ActivityEnvironment().run(mail_activities.send_mail, request)
    assert result.message_id == request.message_id
    assert len(await arrived(smtp, request.message_id)) == 1
    assert (await ledger.get(request.message_id)).state == "sent"  # type: ignore[union-attr]
