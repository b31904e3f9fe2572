"""The customer's personal link in mail: refused at load time where a pipeline has no page, asked
for only in customer mails, and filled by the mail activity from the links table (real SQLite,
real SMTP on loopback): the same link in every mail, and still at most one send per Message-ID."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.crypto import DataKeys
from kickoff.crypto.fields import FieldSealer
from kickoff.customer.links import CustomerLinks
from kickoff.db import Database
from kickoff.db.schema import customer_links
from kickoff.domain import SendMailInput
from kickoff.engine.messages import Work, describe_mail
from kickoff.mailcatcher import MailCatcher
from kickoff.pipelines.actions import Action, MailSpec, NotifySpec
from kickoff.pipelines.checks.context import Context
from kickoff.pipelines.checks.templates import template_vars
from kickoff.pipelines.customer import CustomerPage
from tests.databases import migrated_sqlite
from tests.support import eventually
from tests.unit.engine.support import STOCKHOLM, local, start

MAIL_FROM = "Kickoff <kickoff@test.example>"
PUBLIC_URL = "https://kickoff.example/"
CUSTOMER = "Åre Hälsa & Söner AB"
ADDRESS = "orjan@are-halsa.example"
PAGE_URL = re.compile(r"https://kickoff\.example/c/([A-Za-z0-9_-]{43})")
BODY = (
    "Hej {{ main_user.name }},\n\n"
    "Boka ert uppstartsmöte för {{ customer.name }} på er egen sida:\n{{ customer_page }}\n"
)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """One migrated SQLite file for the ledger and the links, as a worker has."""
    db = migrated_sqlite(tmp_path / "kickoff.sqlite3")
    yield db
    await db.dispose()


@pytest.fixture
def links(database: Database, data_keys: DataKeys) -> CustomerLinks:
    """The links store with the tests' real data keys: tokens are sealed per onboarding."""
    return CustomerLinks(database, FieldSealer(data_keys))


@pytest.fixture
def mail(database: Database, links: CustomerLinks, smtp: MailCatcher) -> MailActivities:
    return MailActivities(
        SmtpConfig(smtp.host, smtp.port, MAIL_FROM, claim_wait_seconds=1),
        MailLedger(database),
        links=links,
        public_url=PUBLIC_URL,
    )


@pytest.fixture
def onboarding() -> str:
    """A fresh onboarding id: the data keys and the catcher are shared by the session."""
    return f"SE-C-{uuid.uuid4().hex[:8]}"


def customer_mail(onboarding: str, **overrides: object) -> SendMailInput:
    values: dict[str, object] = {
        "onboarding_id": onboarding,
        "message_id": f"<{uuid.uuid4().hex}@kickoff.test>",
        "to": ADDRESS,
        "subject_template": "Boka ert uppstartsmöte, {{ customer.name }}",
        "body_template": BODY,
        "context": {"customer": {"name": CUSTOMER}, "main_user": {"name": "Örjan Ängström"}},
        "customer_link": True,
    }
    values.update(overrides)
    return SendMailInput.model_validate(values)


async def send(activities: MailActivities, request: SendMailInput) -> bool:
    result = await ActivityEnvironment().run(activities.send_mail, request)
    assert result.message_id == request.message_id
    return result.delivered


async def arrived(smtp: MailCatcher, message_id: str) -> EmailMessage:
    async def probe() -> list[EmailMessage]:
        return smtp.with_message_id(message_id)

    [message] = await eventually(probe, bool, within=10)
    return message


def text_of(message: EmailMessage) -> str:
    plain = message.get_body(("plain",))
    assert plain is not None
    content = plain.get_content()
    assert isinstance(content, str)
    return content


def token_in(message: EmailMessage) -> str:
    found = PAGE_URL.findall(text_of(message))
    assert len(found) == 1, found
    token: str = found[0]
    return token


async def link_rows(database: Database, onboarding: str) -> int:
    query = select(func.count()).where(customer_links.c.onboarding_id == onboarding)
    async with database.engine.connect() as db:
        return int((await db.execute(query)).scalar_one())


async def test_a_customer_mail_carries_the_page_of_the_onboardings_live_link(
    mail: MailActivities, links: CustomerLinks, smtp: MailCatcher, onboarding: str
) -> None:
    """The activity makes the link, and both parts carry {public_url}/c/{token}, whose token
    resolves to this onboarding; the activity's input is left as it was."""
    request = customer_mail(onboarding)
    assert await send(mail, request) is True
    message = await arrived(smtp, request.message_id)
    token = token_in(message)
    link = await links.resolve(token)
    assert link is not None
    assert (link.onboarding_id, link.revoked_at) == (onboarding, None)
    html = message.get_body(("html",))
    assert html is not None
    assert f'class="button-link" href="https://kickoff.example/c/{token}"' in html.get_content()
    assert "customer_page" not in request.context


async def test_two_mails_for_one_onboarding_carry_the_same_link(
    mail: MailActivities, database: Database, smtp: MailCatcher, onboarding: str
) -> None:
    """The welcome mail and a later reminder (different Message-IDs) carry one and the same link,
    and the table holds one link for the onboarding."""
    welcome, reminder = customer_mail(onboarding), customer_mail(onboarding, subject_template="Påminnelse")
    assert await send(mail, welcome) is True
    assert await send(mail, reminder) is True
    first = token_in(await arrived(smtp, welcome.message_id))
    second = token_in(await arrived(smtp, reminder.message_id))
    assert first == second
    assert await link_rows(database, onboarding) == 1


async def test_a_retry_of_a_sent_message_id_sends_nothing_more(
    mail: MailActivities, database: Database, smtp: MailCatcher, onboarding: str
) -> None:
    """A retry after the mail went out looks the link up again (the same one) but sends no
    second mail: the ledger still decides."""
    request = customer_mail(onboarding)
    assert await send(mail, request) is True
    await arrived(smtp, request.message_id)
    assert await send(mail, request) is False
    assert len(smtp.with_message_id(request.message_id)) == 1
    assert await link_rows(database, onboarding) == 1


async def test_a_revoked_link_is_replaced_by_a_new_one_in_the_next_mail(
    mail: MailActivities, links: CustomerLinks, smtp: MailCatcher, onboarding: str
) -> None:
    """After staff revoke the link, the next mail carries a new one, and the old stays dead."""
    before, after = customer_mail(onboarding), customer_mail(onboarding)
    await send(mail, before)
    old = token_in(await arrived(smtp, before.message_id))
    assert await links.revoke(onboarding, by="staff@assist.example") is True
    await send(mail, after)
    new = token_in(await arrived(smtp, after.message_id))
    assert new != old
    revoked = await links.resolve(old)
    assert revoked is not None
    assert revoked.revoked_at is not None


async def test_a_mail_that_asks_for_no_link_sees_none_and_makes_none(
    mail: MailActivities, links: CustomerLinks, smtp: MailCatcher, onboarding: str
) -> None:
    """Without customer_link (a mail to the team) ``customer_page`` is None and no link is made."""
    body = "{% if customer_page %}Sida: {{ customer_page }}{% else %}Ingen sida{% endif %}\n"
    request = customer_mail(onboarding, body_template=body, customer_link=False)
    assert await send(mail, request) is True
    assert text_of(await arrived(smtp, request.message_id)).strip() == "Ingen sida"
    assert await links.live(onboarding) is None


@pytest.mark.parametrize("link_before", [True, False], ids=["link-made-before", "no-link-yet"])
async def test_an_erased_onboarding_fails_for_good_and_the_reason_names_nobody(
    mail: MailActivities, data_keys: DataKeys, smtp: MailCatcher, onboarding: str, link_before: bool
) -> None:
    """Once the onboarding's key is erased its link can neither be read nor made: a non-retryable
    CustomerLinkUnavailable, nothing claimed or sent, and no name, address or token in the reason."""
    personal = [CUSTOMER, "Örjan", ADDRESS]
    if link_before:
        earlier = customer_mail(onboarding)
        await send(mail, earlier)
        personal.append(token_in(await arrived(smtp, earlier.message_id)))
    await data_keys.erase(onboarding)
    request = customer_mail(onboarding)
    with pytest.raises(ApplicationError) as refused:
        await send(mail, request)
    assert (refused.value.type, refused.value.non_retryable) == ("CustomerLinkUnavailable", True)
    reason = str(refused.value)
    assert [value for value in personal if value in reason] == []
    assert refused.value.__cause__ is None
    assert await mail.ledger.get(request.message_id) is None
    assert smtp.with_message_id(request.message_id) == []


def test_describe_mail_asks_for_the_link_only_in_customer_mails_of_pipelines_with_a_page() -> None:
    """``customer_link`` is set for a mail to the main user of a pipeline with a customer page,
    not for a team notification, and not where the pipeline has no page."""
    run = start("assist-se", local(STOCKHOLM, date(2031, 9, 24), 10))
    now = local(STOCKHOLM, date(2031, 10, 2), 8)
    with_page = run.pipeline.model_copy(update={"customer_page": CustomerPage(plan=("onboarding",))})
    without = run.pipeline.model_copy(update={"customer_page": None})
    welcome = Work(Action(mail=MailSpec(template="welcome", to="main_user")), ("onboarding", 1), "w", now)
    to_team = Work(Action(mail=MailSpec(template="welcome", to="team")), ("onboarding", 1), "t", now)
    notify = Work(Action(notify=NotifySpec(subject="Ny", text="Ny kund")), ("onboarding", 1), "n", now)
    assert describe_mail(run.state, with_page, welcome).input.customer_link is True
    assert describe_mail(run.state, with_page, to_team).input.customer_link is False
    assert describe_mail(run.state, with_page, notify).input.customer_link is False
    assert describe_mail(run.state, without, welcome).input.customer_link is False


@pytest.mark.parametrize(
    ("source", "has_page", "problem"),
    [
        ("Er sida: {{ customer_page }}", False, "uses customer_page, but the pipeline has no customer page"),
        ("{% if customer_page %}{{ customer_page }}{% endif %}", False, "uses customer_page"),
        ("Er sida: {{ customer_page }}", True, None),
        ("{{ booking.title }} {{ booking.starts }}–{{ booking.ends }}", False, None),
    ],
    ids=["page-without-section", "page-guarded-without-section", "page-with-section", "booking"],
)
def test_a_template_may_use_customer_page_only_where_the_pipeline_has_one(
    source: str, has_page: bool, problem: str | None
) -> None:
    """The loader refuses a template naming ``customer_page`` in a pipeline without a
    ``customer_page:`` section (it would always be empty), and allows ``booking``."""
    pipeline = start("assist-se", local(STOCKHOLM, date(2031, 9, 24), 10)).pipeline
    page = CustomerPage(plan=("onboarding",)) if has_page else None
    pipeline = pipeline.model_copy(update={"customer_page": page})
    ctx = Context.of(("pipelines", "assist-se"), "assist-se", pipeline)
    found = [message for _, message in template_vars(ctx, ("templates", "welcome", "sv", "body"), source)]
    if problem is None:
        assert found == []
    else:
        [message] = found
        assert problem in message
