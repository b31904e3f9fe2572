"""Single sign-on to the board through a real OpenID provider (``oidc-provider`` on Node): httpx
follows the redirects from the board to the provider's login page and back, as a browser does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
from temporalio.client import Client

from kickoff.board.sso import BAD_STATE, PENDING_COOKIE
from kickoff.db import Database
from kickoff.identity.accounts import AccountStore
from kickoff.identity.audit import AuditLog
from kickoff.mailcatcher import MailCatcher, free_port
from tests.board.support import BoardServer, alert, served_board, text_of
from tests.oidc.fixture import CLIENT_ID, CLIENT_SECRET, OidcProvider, oidc_installed, running_provider

__all__ = ["oidc_installed"]  # the session fixture, used by this module's own

SESSION_COOKIE = "kickoff_board"
ROLES = "kickoff-staff=staff, kickoff-admins=admin"


@dataclass
class Sso:
    board: BoardServer
    provider: OidcProvider
    accounts: AccountStore
    audit: AuditLog

    def browser(self) -> httpx.AsyncClient:
        """A fresh browser: its own cookies (the board's and the provider's), redirects followed."""
        return httpx.AsyncClient(base_url=self.board.base_url, follow_redirects=True, timeout=30)

    @property
    def callback(self) -> str:
        return f"{self.board.base_url}/board/sso/callback"


@pytest.fixture(scope="module")
async def sso(
    dev_server: Client, smtp: MailCatcher, tmp_path_factory: pytest.TempPathFactory, oidc_installed: None
) -> AsyncIterator[Sso]:
    """The board with single sign-on to a provider of its own; the provider registers the
    board's callback, so it starts once the board's port is known."""
    port = free_port()
    async with served_board(
        dev_server,
        smtp,
        tmp_path_factory.mktemp("sso"),
        session_cookie_secure=False,
        oidc_issuer=f"http://127.0.0.1:{port}",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_scopes="openid email profile groups",
        oidc_roles=ROLES,
    ) as board:
        # uvicorn picks the board's port as it starts, after the settings were made; the redirect
        # URI is built from public_url at each sign-in, so this is the one the provider registers.
        board.api.settings.public_url = board.base_url
        async with running_provider(port, f"{board.base_url}/board/sso/callback") as provider:
            database = Database(board.api.settings.database_url)
            try:
                yield Sso(board, provider, AccountStore(database), AuditLog(database))
            finally:
                await database.dispose()


async def at_provider(http: httpx.AsyncClient, next_url: str | None = None) -> httpx.Response:
    """Click "Sign in with single sign-on": the provider's login page."""
    page = await http.get("/board/sso/start", params={"next": next_url} if next_url else None)
    assert page.status_code == 200, page.text
    assert "Sign in to the test identity provider" in page.text, page.text
    return page


def form_action(page: httpx.Response, name: str) -> str:
    found = re.search(rf'action="([^"]*/{name})"', page.text)
    assert found, f"no {name} form on {page.url}"
    return urljoin(str(page.url), found.group(1))


async def sign_in_as(http: httpx.AsyncClient, login: str, next_url: str | None = None) -> httpx.Response:
    """Sign in at the provider as ``login`` and follow its answer back to the board."""
    page = await at_provider(http, next_url)
    return await http.post(form_action(page, "login"), data={"login": login})


async def answer_for(http: httpx.AsyncClient, sso: Sso, login: str) -> str:
    """Sign in at the provider as ``login``, but stop before the board's callback: its URL."""
    page = await at_provider(http)
    response = await http.post(form_action(page, "login"), data={"login": login}, follow_redirects=False)
    while True:
        assert response.is_redirect, response.text
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(sso.callback):
            return location
        response = await http.get(location, follow_redirects=False)


def refusal(page: httpx.Response) -> str:
    """The reason the sign-in page shows after a refused single sign-on."""
    assert urlsplit(str(page.url)).path == "/board/sign-in", page.url
    reason = alert(page.text)
    assert reason, text_of(page.text)
    return reason


async def test_alice_signs_in_with_pkce_and_gets_the_role_her_group_maps_to(sso: Sso) -> None:
    """The authorization-code flow with PKCE: alice (group kickoff-staff) gets a staff account
    and a board session, and the board shows her; the sign-in is in the audit log."""
    async with sso.browser() as http:
        login = await at_provider(http)
        page = await http.post(form_action(login, "login"), data={"login": "alice"})
        assert page.status_code == 200
        assert urlsplit(str(page.url)).path == "/board"
        assert "Alice Andersson" in text_of(page.text)
        assert http.cookies.get(SESSION_COOKIE)
        assert http.cookies.get(PENDING_COOKIE) is None  # used once, then gone
        # What the board asked the provider for: a code, with an S256 challenge and a nonce.
        asked = next(r for r in login.history if r.request.url.path == "/auth").request.url.params
        assert asked["response_type"] == "code"
        assert asked["code_challenge_method"] == "S256"
        assert len(asked["code_challenge"]) == 43
        assert asked["nonce"]
        assert asked["state"]
        assert asked["redirect_uri"] == sso.callback
        assert asked["client_id"] == CLIENT_ID

    account = await sso.accounts.by_email("alice@assist.example")
    assert account is not None
    assert (account.role, account.sso, account.name) == ("staff", True, "Alice Andersson")
    entries = await sso.audit.entries(account_id=account.id)
    assert [(e.action, e.actor, e.detail) for e in entries][:1] == [
        ("sign_in", "alice@assist.example", {"method": "sso"})
    ]


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("/board/tasks", "/board/tasks"),
        ("https://evil.example/board", "/board"),
        ("//evil.example", "/board"),
    ],
)
async def test_signing_in_again_finds_the_same_account_and_goes_where_asked(
    sso: Sso, next_url: str, lands_on: str
) -> None:
    """A second single sign-on finds the linked account (no second one), and lands on ``next``
    when it is a board page, on the board otherwise."""
    for _ in range(2):
        async with sso.browser() as http:
            page = await sign_in_as(http, "alice", next_url)
            assert urlsplit(str(page.url)).path == lands_on
            assert http.cookies.get(SESSION_COOKIE)
    alices = [a for a in await sso.accounts.all() if a.email == "alice@assist.example"]
    assert len(alices) == 1


async def test_an_account_an_admin_made_is_linked_at_its_first_sign_in(sso: Sso) -> None:
    """bob is in no mapped group, but an admin made him an account: he signs in, keeping his role."""
    made = await sso.accounts.create("bob@elsewhere.example", "viewer")
    async with sso.browser() as http:
        page = await sign_in_as(http, "bob")
        assert urlsplit(str(page.url)).path == "/board"
        assert http.cookies.get(SESSION_COOKIE)
    account = await sso.accounts.get(made.id)
    assert account is not None
    assert (account.role, account.sso, account.name) == ("viewer", True, "Bob Berg")


async def test_an_unknown_user_is_refused_and_told_to_ask_an_admin(sso: Sso) -> None:
    """No group maps to a role and no account has the address: refused, no account made."""
    async with sso.browser() as http:
        reason = refusal(await sign_in_as(http, "dora"))
        assert http.cookies.get(SESSION_COOKIE) is None
    assert reason == "No Kickoff account for this sign-in: ask an admin for access."
    assert await sso.accounts.by_email("dora@elsewhere.example") is None


async def test_a_disabled_account_is_refused(sso: Sso) -> None:
    """carl's group maps to staff, but an admin disabled his account: no session."""
    made = await sso.accounts.create("carl@assist.example", "staff")
    await sso.accounts.set_disabled(made.id, True)
    async with sso.browser() as http:
        reason = refusal(await sign_in_as(http, "carl"))
        assert http.cookies.get(SESSION_COOKIE) is None
    assert reason == "This account is disabled: ask an admin."


@pytest.mark.parametrize("how", ["another state", "another browser", "no state"])
async def test_an_answer_that_is_not_this_browsers_sign_in_is_refused(sso: Sso, how: str) -> None:
    """The provider's answer with a state not matching the browser's cookie (changed, sent to a
    browser that started no sign-in, or missing): refused, no session."""
    async with sso.browser() as http, sso.browser() as other:
        callback = await answer_for(http, sso, "alice")
        parts = urlsplit(callback)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        assert query["code"]
        assert query["state"]
        if how == "another state":
            query["state"] = "x" + query["state"][1:]
        elif how == "no state":
            del query["state"]
        browser = other if how == "another browser" else http
        page = await browser.get(urlunsplit(parts._replace(query=urlencode(query))))
        assert refusal(page) == BAD_STATE
        assert browser.cookies.get(SESSION_COOKIE) is None


async def test_a_code_from_another_sign_in_is_refused_by_pkce(sso: Sso) -> None:
    """An attacker's code (from a sign-in of theirs) slipped into a victim's own sign-in: the
    state matches the victim's cookie, but the code was bound to another PKCE challenge, so the
    provider refuses to exchange it with the victim's verifier. No session."""
    async with sso.browser() as attacker, sso.browser() as victim:
        stolen = parse_qs(urlsplit(await answer_for(attacker, sso, "alice")).query)["code"][0]
        started = await victim.get("/board/sso/start", follow_redirects=False)
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        page = await victim.get("/board/sso/callback", params={"code": stolen, "state": state})
        assert refusal(page) == (
            "The identity provider did not accept the sign-in (invalid_grant): please sign in again."
        )
        assert victim.cookies.get(SESSION_COOKIE) is None


async def test_a_made_up_code_is_refused(sso: Sso) -> None:
    """The right state with a code the provider never issued: its token endpoint refuses it."""
    async with sso.browser() as http:
        callback = urlsplit(await answer_for(http, sso, "alice"))
        query = {name: values[0] for name, values in parse_qs(callback.query).items()} | {"code": "made-up"}
        page = await http.get(urlunsplit(callback._replace(query=urlencode(query))))
        assert "did not accept the sign-in (invalid_grant)" in refusal(page)
        assert http.cookies.get(SESSION_COOKIE) is None


async def test_the_providers_refusal_is_shown(sso: Sso) -> None:
    """Cancel at the provider (error=access_denied): the board says so, with the provider's words."""
    async with sso.browser() as http:
        page = await at_provider(http)
        reason = refusal(await http.post(form_action(page, "abort")))
        assert http.cookies.get(SESSION_COOKIE) is None
    assert reason == (
        "The identity provider did not let you sign in to Kickoff (access denied). "
        "It said: The user cancelled the sign-in."
    )


async def test_an_error_link_from_elsewhere_does_not_show_its_text(sso: Sso) -> None:
    """Anyone can link to the callback with an error and any text: without this browser's sign-in
    the board shows its own words only."""
    async with sso.browser() as http:
        text = "Your account is locked: call +1 555 0100"
        page = await http.get(
            "/board/sso/callback", params={"error": "access_denied", "error_description": text}
        )
        reason = refusal(page)
    assert reason == "The identity provider did not let you sign in to Kickoff (access denied)."


@pytest.mark.parametrize(
    ("login", "reason"),
    [
        ("erin", "The ID token has expired: please sign in again."),
        ("mallory", "The ID token's signature does not verify: it was not issued by the identity provider."),
        ("frank", "The ID token's signature does not verify: it was not issued by the identity provider."),
        ("uma", "The identity provider has not verified the e-mail address uma@assist.example."),
    ],
)
async def test_an_id_token_that_does_not_hold_is_refused(sso: Sso, login: str, reason: str) -> None:
    """The provider's token endpoint answers with an expired ID token, one whose payload was
    changed after signing (adding kickoff-admins), one signed by a key it does not publish, or
    one with an unverified address: refused, no session, no account."""
    async with sso.browser() as http:
        assert refusal(await sign_in_as(http, login)) == reason
        assert http.cookies.get(SESSION_COOKIE) is None
    assert all(not a.email.startswith(f"{login}@") for a in await sso.accounts.all())


async def test_the_sign_in_cookie_is_http_only_lax_and_short_lived(sso: Sso) -> None:
    """/board/sso/start sends the browser to the provider and keeps the state, nonce and
    verifier in a signed cookie: HttpOnly, SameSite=Lax, sent to /board/sso only, 10 minutes."""
    async with httpx.AsyncClient(base_url=sso.board.base_url) as http:
        response = await http.get("/board/sso/start")
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{sso.provider.issuer}/auth?")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{PENDING_COOKIE}="))
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].strip().lower() == "samesite=lax"
    assert attributes["path"].strip() == "Path=/board/sso"
    assert attributes["max-age"].strip() == "Max-Age=600"


@pytest.mark.parametrize("path", ["/board/sso/start", "/board/sso/callback?code=x&state=y"])
async def test_without_an_issuer_there_is_no_single_sign_on(board: BoardServer, path: str) -> None:
    """KICKOFF_OIDC_ISSUER unset (the board of the other tests): 404, saying so."""
    async with httpx.AsyncClient(base_url=board.base_url) as http:
        response = await http.get(path)
    assert response.status_code == 404
    assert "KICKOFF_OIDC_ISSUER is not set" in text_of(response.text)
