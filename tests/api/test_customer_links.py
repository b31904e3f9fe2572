"""The customer's personal link through the JSON API: revoking it and mailing a new one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest

from kickoff.crypto.fields import sealer_of
from kickoff.customer.links import CustomerLinks
from kickoff.db import Database
from kickoff.identity import AccountStore
from kickoff.identity.audit import AuditLog
from kickoff.identity.tokens import TokenStore
from tests.accounts import VIEWER
from tests.api.conftest import PAST_DELIVERY, Kickoff
from tests.customer_support import text_of, token_in
from tests.support import contract_payload, eventually

NEW_LINK_SUBJECT = "Er nya länk"


@pytest.fixture
async def database(kickoff: Kickoff) -> AsyncIterator[Database]:
    """The served app's own database (links, audit log, accounts)."""
    database = Database(kickoff.api.settings.database_url)
    yield database
    await database.dispose()


async def _token(kickoff: Kickoff, database: Database, oid: str) -> str:
    """The onboarding's live link token, as the mail activity gets it."""
    return await CustomerLinks(database, sealer_of(kickoff.api.client.data_converter)).ensure(oid)


async def _new_link_mails(kickoff: Kickoff, oid: str, count: int) -> list[EmailMessage]:
    async def probe() -> list[EmailMessage]:
        return [m for m in kickoff.smtp.for_onboarding(oid) if str(m["Subject"]).startswith(NEW_LINK_SUBJECT)]

    return await eventually(probe, lambda mails: len(mails) >= count)


async def _actions(database: Database, oid: str) -> list[str]:
    return [entry.action for entry in await AuditLog(database).entries(onboarding_id=oid)]


async def test_revoking_makes_the_old_link_answer_410(kickoff: Kickoff, database: Database) -> None:
    """Revoking makes the live link's page answer 410; revoking again says nothing was revoked."""
    oid = await kickoff.start()
    token = await _token(kickoff, database, oid)
    assert (await kickoff.http.get(f"/c/{token}")).status_code == 200
    revoked = await kickoff.post(f"/onboardings/{oid}/customer-link/revoke")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"id": oid, "revoked": True}
    assert (await kickoff.http.get(f"/c/{token}")).status_code == 410
    again = await kickoff.post(f"/onboardings/{oid}/customer-link/revoke")
    assert again.json() == {"id": oid, "revoked": False}
    assert (await _actions(database, oid)).count("customer_link_revoked") == 1


async def test_sending_mails_a_new_link_that_opens_while_the_old_one_is_gone(
    kickoff: Kickoff, database: Database
) -> None:
    """Sending mails the main user a new link in Swedish: the new one opens 200, the old one 410."""
    oid = await kickoff.start()
    old = await _token(kickoff, database, oid)
    sent = await kickoff.post(f"/onboardings/{oid}/customer-link")
    assert sent.status_code == 202, sent.text
    assert sent.json() == {"id": oid, "sent": True}
    [mail] = await _new_link_mails(kickoff, oid, 1)
    assert str(mail["To"]) == "orjan@are-halsa.example"
    assert "Hej Örjan Ängström" in text_of(mail)
    assert "boka" in text_of(mail)
    new = token_in(mail)
    assert new != old
    assert (await kickoff.http.get(f"/c/{new}")).status_code == 200
    assert (await kickoff.http.get(f"/c/{old}")).status_code == 410
    # Sending once more makes another link and another mail (its own Message-ID).
    assert (await kickoff.post(f"/onboardings/{oid}/customer-link")).status_code == 202
    mails = await _new_link_mails(kickoff, oid, 2)
    assert len({str(m["Message-ID"]) for m in mails}) == 2
    newest = next(token_in(m) for m in mails if token_in(m) != new)
    assert (await kickoff.http.get(f"/c/{newest}")).status_code == 200
    assert (await kickoff.http.get(f"/c/{new}")).status_code == 410
    assert (await _actions(database, oid)).count("customer_link_sent") == 2


async def test_unknown_onboardings_are_404_and_pipelines_without_a_page_409(kickoff: Kickoff) -> None:
    """Both routes answer 404 for an unknown onboarding, 409 for one whose pipeline has no customer page."""
    for path in ("/onboardings/SE-nope/customer-link", "/onboardings/SE-nope/customer-link/revoke"):
        response = await kickoff.post(path)
        assert response.status_code == 404, response.text
    submitted = await kickoff.submit(
        contract_payload(pipeline="kundprocess-se", delivery_start=PAST_DELIVERY)
    )
    assert submitted.status_code == 202, submitted.text
    oid = submitted.json()["id"]
    await kickoff.until(oid, lambda s: bool(s["timeline"]))
    for path in (f"/onboardings/{oid}/customer-link", f"/onboardings/{oid}/customer-link/revoke"):
        response = await kickoff.post(path)
        assert response.status_code == 409, response.text
        assert "no customer page" in response.json()["detail"]
    assert not [m for m in kickoff.smtp.for_onboarding(oid) if str(m["Subject"]).startswith(NEW_LINK_SUBJECT)]


async def test_a_viewer_cannot_revoke_or_send(kickoff: Kickoff, database: Database) -> None:
    """A viewer's personal token gets 403 on both routes and the link stays live."""
    oid = await kickoff.start()
    token = await _token(kickoff, database, oid)
    account = await AccountStore(database).by_email(VIEWER.email)
    assert account is not None
    bearer, _ = await TokenStore(database).create(account, "tests")
    viewer = {"Authorization": f"Bearer {bearer}"}
    for path in (f"/onboardings/{oid}/customer-link/revoke", f"/onboardings/{oid}/customer-link"):
        response = await kickoff.http.post(path, headers=viewer)
        assert response.status_code == 403, response.text
    assert (await kickoff.http.get(f"/c/{token}")).status_code == 200
