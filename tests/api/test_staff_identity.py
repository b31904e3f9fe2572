"""Staff identity over real HTTP: personal tokens act as their account with its role, every
action names its person on the timeline and in the audit log, tasks go to people, and failed
authentication is throttled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from kickoff.api import create_app
from kickoff.db import Database
from kickoff.identity import Account, AccountStore
from kickoff.identity.tokens import TokenStore
from kickoff.mailcatcher import MailCatcher
from kickoff.worker import create_worker
from tests.accounts import ADMIN, ADVISOR, STAFF, VIEWER, StaffAccount
from tests.api.conftest import Kickoff
from tests.conftest import API_KEY, api_settings, serve_app


@pytest.fixture
async def database(kickoff: Kickoff) -> AsyncIterator[Database]:
    """The served app's own database (where tests/accounts.py put the accounts)."""
    database = Database(kickoff.api.settings.database_url)
    yield database
    await database.dispose()


async def _account(database: Database, who: StaffAccount) -> Account:
    found = await AccountStore(database).by_email(who.email)
    assert found is not None
    return found


async def _bearer(database: Database, who: StaffAccount) -> dict[str, str]:
    text, _ = await TokenStore(database).create(await _account(database, who), "tests")
    return {"Authorization": f"Bearer {text}"}


async def test_a_personal_token_acts_as_its_account_on_the_timeline_and_in_the_audit_log(
    kickoff: Kickoff, database: Database
) -> None:
    oid = await kickoff.start()
    staff = await _bearer(database, STAFF)
    called = await kickoff.http.post(f"/onboardings/{oid}/calls", json={"outcome": "answered"}, headers=staff)
    assert called.status_code == 202, called.text
    state = await kickoff.until(oid, lambda s: any(e["event"] == "call_logged" for e in s["timeline"]))
    [entry] = [e for e in state["timeline"] if e["event"] == "call_logged"]
    assert entry["by"] == STAFF.email
    me = await kickoff.http.get("/me", headers=staff)
    assert (me.status_code, me.json()["email"], me.json()["role"]) == (200, STAFF.email, "staff")

    admin = await _bearer(database, ADMIN)
    audit = await kickoff.http.get("/audit", params={"onboarding": oid}, headers=admin)
    assert audit.status_code == 200, audit.text
    assert [(e["actor"], e["action"], e["detail"]) for e in audit.json()] == [
        (STAFF.email, "event", {"event": "call_logged"})
    ]
    by_user = await kickoff.http.get("/audit", params={"user": STAFF.email, "onboarding": oid}, headers=admin)
    assert [e["action"] for e in by_user.json()] == ["event"]
    # A service key is named by its fingerprint, never by the key itself.
    await kickoff.http.post(
        f"/onboardings/{oid}/calls", json={"outcome": "no_answer"}, headers=kickoff.api.auth
    )
    newest = (await kickoff.http.get("/audit", params={"onboarding": oid}, headers=admin)).json()[0]
    assert newest["actor"].startswith("service key ")
    assert API_KEY not in newest["actor"]


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status"),
    [
        pytest.param(VIEWER, "GET", "/tasks", None, 200, id="viewer-reads"),
        pytest.param(
            VIEWER, "POST", "/onboardings/{oid}/calls", {"outcome": "answered"}, 403, id="viewer-acts"
        ),
        pytest.param(STAFF, "GET", "/audit", None, 403, id="staff-reads-audit"),
        pytest.param(STAFF, "DELETE", "/onboardings/{oid}/personal-data", None, 403, id="staff-erases"),
        pytest.param(STAFF, "GET", "/onboardings/{oid}/personal-data", None, 403, id="staff-exports"),
        pytest.param(STAFF, "GET", "/accounts", None, 403, id="staff-lists-accounts"),
        pytest.param(ADMIN, "GET", "/accounts", None, 200, id="admin-lists-accounts"),
    ],
)
async def test_each_role_may_do_what_it_allows_and_gets_403_with_a_reason_otherwise(
    kickoff: Kickoff,
    database: Database,
    who: StaffAccount,
    method: str,
    path: str,
    body: object,
    status: int,
) -> None:
    oid = await kickoff.start() if "{oid}" in path else ""
    response = await kickoff.http.request(
        method, path.format(oid=oid), json=body, headers=await _bearer(database, who)
    )
    assert response.status_code == status, response.text
    if status == 403:
        assert f"your account is {who.role}" in response.json()["detail"]
    if oid:
        # Nothing was done: the onboarding still has its customer and no call logged by the refusal.
        state = await kickoff.state(oid)
        assert "call_logged" not in [e["event"] for e in state["timeline"]]


async def test_a_revoked_token_or_a_disabled_account_stops_working_at_once(
    kickoff: Kickoff, database: Database
) -> None:
    accounts = AccountStore(database)
    temp = await accounts.create("temp.api@assist.example", "staff")
    text, info = await TokenStore(database).create(temp, "temporary")
    headers = {"Authorization": f"Bearer {text}"}
    assert (await kickoff.http.get("/tasks", headers=headers)).status_code == 200
    admin = await _bearer(database, ADMIN)
    disabled = await kickoff.http.patch(f"/accounts/{temp.id}", json={"disabled": True}, headers=admin)
    assert (disabled.status_code, disabled.json()["disabled"]) == (200, True)
    refused = await kickoff.http.get("/tasks", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    await kickoff.http.patch(f"/accounts/{temp.id}", json={"disabled": False}, headers=admin)
    assert (await kickoff.http.get("/tasks", headers=headers)).status_code == 200
    revoked = await kickoff.http.delete(f"/tokens/{info.id}", headers=headers)
    assert revoked.status_code == 204
    assert (await kickoff.http.get("/tasks", headers=headers)).status_code == 401
    assert (
        await kickoff.http.patch("/accounts/nobody", json={"disabled": True}, headers=admin)
    ).status_code == 404


async def test_tokens_are_made_listed_and_revoked_by_their_owner(
    kickoff: Kickoff, database: Database
) -> None:
    staff = await _bearer(database, ADVISOR)
    made = await kickoff.http.post("/tokens", json={"name": "laptop"}, headers=staff)
    assert made.status_code == 201, made.text
    token = made.json()
    assert token["token"].startswith(f"kt_{token['id']}_")
    listed = await kickoff.http.get("/tokens", headers=staff)
    assert "token" not in listed.json()[-1]  # shown once, never again
    assert token["id"] in [t["id"] for t in listed.json()]
    other = await _bearer(database, STAFF)
    assert (await kickoff.http.delete(f"/tokens/{token['id']}", headers=other)).status_code == 404
    # A service key has no account, so no personal tokens: valid credentials that may not do this.
    assert (
        await kickoff.http.post("/tokens", json={"name": "x"}, headers=kickoff.api.auth)
    ).status_code == 403


async def test_accounts_are_created_by_admins_once_per_address(kickoff: Kickoff, database: Database) -> None:
    admin = await _bearer(database, ADMIN)
    body = {"email": "new.person@assist.example", "role": "staff", "name": "New Person", "password": "x" * 12}
    made = await kickoff.http.post("/accounts", json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert "password" not in made.json()
    again = await kickoff.http.post("/accounts", json=body, headers=admin)
    assert again.status_code == 409
    assert "exists already" in again.json()["detail"]
    short = await kickoff.http.post(
        "/accounts", json={**body, "email": "b@assist.example", "password": "short"}, headers=admin
    )
    assert short.status_code == 422


async def test_a_task_is_assigned_to_a_person_and_listed_as_theirs(
    kickoff: Kickoff, database: Database
) -> None:
    oid = await kickoff.start()
    state = await kickoff.state(oid)
    task = next(t["id"] for t in state["tasks"] if t["done_at"] is None)
    staff = await _bearer(database, STAFF)
    assigned = await kickoff.http.post(f"/tasks/{task}/assign", json={"user": "me"}, headers=staff)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json() == {"id": task, "onboarding_id": oid, "assignee": STAFF.email}
    mine = await kickoff.http.get("/tasks", params={"assignee": "me"}, headers=staff)
    assert [(t["id"], t["assignee"]) for t in mine.json()] == [(task, STAFF.email)]
    theirs = await kickoff.http.get("/tasks", params={"assignee": ADVISOR.email}, headers=staff)
    assert task not in [t["id"] for t in theirs.json()]
    handed = await kickoff.http.post(f"/tasks/{task}/assign", json={"user": ADVISOR.email}, headers=staff)
    assert handed.json()["assignee"] == ADVISOR.email
    assert (await kickoff.http.get("/tasks", params={"assignee": "me"}, headers=staff)).json() == []
    for user, status, reason in (
        (VIEWER.email, 422, "cannot take work"),
        ("nobody@assist.example", 422, "no account"),
    ):
        refused = await kickoff.http.post(f"/tasks/{task}/assign", json={"user": user}, headers=staff)
        assert refused.status_code == status
        assert reason in str(refused.json()["detail"])
    unknown = await kickoff.http.post(f"/tasks/{oid}.1.999/assign", json={"user": "me"}, headers=staff)
    assert unknown.status_code == 404
    me_as_service = await kickoff.http.get("/tasks", params={"assignee": "me"}, headers=kickoff.api.auth)
    assert me_as_service.status_code == 422
    owner = await kickoff.http.put(f"/onboardings/{oid}/owner", json={"user": "me"}, headers=staff)
    assert (owner.status_code, owner.json()["owner"]) == (200, STAFF.email)


async def test_wrong_bearer_credentials_from_one_address_are_throttled_with_retry_after(
    dev_server: Client, smtp: MailCatcher, tmp_path: Path
) -> None:
    """After 3 wrong credentials in a minute (the limit set here) the address gets 429 with
    Retry-After for whatever it sends, a right key included, until the window has room."""
    settings = api_settings("throttle", tmp_path, smtp, auth_failures_per_minute=3)
    async with (
        create_worker(dev_server, settings),
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        for _ in range(3):
            assert (await http.get("/tasks", headers={"Authorization": "Bearer guess"})).status_code == 401
        throttled = await http.get("/tasks", headers={"Authorization": f"Bearer {API_KEY}"})
        assert throttled.status_code == 429
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert "too many failed authentications" in throttled.json()["detail"]
