"""The ID token's validation (``RelyingParty.validate_id_token``) against the real provider's
discovery document and published keys, with tokens minted here: signed with the provider's own
key (so only the claim under test is wrong), with another key, tampered, unsigned, or HMAC'd."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from kickoff.identity.sso import RelyingParty, SsoError
from kickoff.mailcatcher import free_port
from tests.oidc.fixture import CLIENT_ID, CLIENT_SECRET, OidcProvider, running_provider

NONCE = "the-nonce-of-this-sign-in"


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[OidcProvider]:
    async with running_provider(free_port(), "http://127.0.0.1:9/board/sso/callback") as running:
        yield running


@pytest.fixture
def party(provider: OidcProvider) -> RelyingParty:
    return RelyingParty(provider.issuer, CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1:9/board/sso/callback")


def claims_of(provider: OidcProvider, **changes: Any) -> dict[str, Any]:
    """An ID token's claims for alice as the provider issues them; a change to None drops the claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": provider.issuer,
        "sub": "alice",
        "aud": CLIENT_ID,
        "exp": now + 600,
        "iat": now,
        "nonce": NONCE,
        "email": "alice@assist.example",
        "groups": ["kickoff-staff"],
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def mint(
    provider: OidcProvider,
    key: Any = None,
    alg: str = "RS256",
    kid: str | None = "kickoff-test-1",
    **changes: Any,
) -> str:
    header: dict[str, Any] = {"alg": alg}
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(header, claims_of(provider, **changes), key or provider.signing_key, algorithms=[alg])


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_token_signed_by_the_provider_is_accepted(
    provider: OidcProvider, party: RelyingParty
) -> None:
    """The baseline: a token as the provider issues it verifies against its JWKS."""
    claims = await party.validate_id_token(mint(provider), NONCE)
    assert (claims["sub"], claims["email"], claims["groups"]) == (
        "alice",
        "alice@assist.example",
        ["kickoff-staff"],
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": int(time.time()) - 3600}, "The ID token has expired"),
        ({"exp": int(time.time()) - 61}, "The ID token has expired"),  # just beyond the clock skew allowed
        ({"iat": int(time.time()) + 3600}, "iat is not valid"),  # issued in the future
        ({"iss": "http://127.0.0.1:9"}, "iss is not valid"),
        ({"aud": "another-client"}, "aud is not valid"),
        ({"aud": [CLIENT_ID, "another-client"]}, r"issued to another application \(azp\)"),
        ({"aud": [CLIENT_ID, "another-client"], "azp": "another-client"}, r"another application \(azp\)"),
        ({"nonce": "another-sign-in"}, r"belongs to another sign-in \(nonce\)"),
        ({"nonce": None}, "lacks nonce"),
        ({"exp": None}, "lacks exp"),
        ({"sub": None}, "lacks sub"),
        ({"exp": "tomorrow"}, "exp is not valid"),
    ],
)
async def test_a_claim_that_does_not_hold_refuses_the_token(
    provider: OidcProvider, party: RelyingParty, changes: dict[str, Any], reason: str
) -> None:
    """Properly signed, but one claim wrong: refused, saying which."""
    with pytest.raises(SsoError, match=reason):
        await party.validate_id_token(mint(provider, **changes), NONCE)


async def test_clock_skew_within_a_minute_is_allowed(provider: OidcProvider, party: RelyingParty) -> None:
    """A token that expired 30 s ago by Kickoff's clock still passes (the clocks may differ)."""
    now = int(time.time())
    await party.validate_id_token(mint(provider, exp=now - 30, iat=now - 630), NONCE)


async def test_several_audiences_need_kickoff_as_the_authorized_party(
    provider: OidcProvider, party: RelyingParty
) -> None:
    """aud with another client is accepted only when azp names Kickoff."""
    token = mint(provider, aud=[CLIENT_ID, "another-client"], azp=CLIENT_ID)
    assert (await party.validate_id_token(token, NONCE))["azp"] == CLIENT_ID


async def test_a_token_signed_by_another_key_is_forged(provider: OidcProvider, party: RelyingParty) -> None:
    """Another RSA key under the provider's key id: the signature does not verify."""
    other = RSAKey.generate_key(2048)
    with pytest.raises(SsoError, match="signature does not verify"):
        await party.validate_id_token(mint(provider, key=other), NONCE)


async def test_a_tampered_payload_is_forged(provider: OidcProvider, party: RelyingParty) -> None:
    """The provider's signature over other claims: alice made admin after signing."""
    header, _, signature = mint(provider).split(".")
    payload = b64(claims_of(provider, groups=["kickoff-staff", "kickoff-admins"]))
    with pytest.raises(SsoError, match="signature does not verify"):
        await party.validate_id_token(f"{header}.{payload}.{signature}", NONCE)


async def test_a_key_the_provider_does_not_publish_is_refused(
    provider: OidcProvider, party: RelyingParty
) -> None:
    """A key id the JWKS does not have: refused (after the keys were fetched again)."""
    with pytest.raises(SsoError, match="a key the identity provider does not publish"):
        await party.validate_id_token(mint(provider, key=RSAKey.generate_key(2048), kid="rogue"), NONCE)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_an_unsigned_token_is_never_accepted(
    provider: OidcProvider, party: RelyingParty, alg: str
) -> None:
    """alg none: refused whatever the claims."""
    token = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims_of(provider))}."
    with pytest.raises(SsoError, match=r"not signed \(alg none\)"):
        await party.validate_id_token(token, NONCE)


async def test_hmac_with_the_client_secret_is_refused_when_the_provider_does_not_offer_it(
    provider: OidcProvider, party: RelyingParty
) -> None:
    """The provider signs with RS256 only: an HS256 token made with the client secret (which
    Kickoff's operators know) is refused, and so is one HMAC'd with the public key."""
    secret = OctKey.import_key(CLIENT_SECRET)
    with pytest.raises(SsoError, match="signed with 'HS256', which the identity provider does not sign"):
        await party.validate_id_token(mint(provider, key=secret, alg="HS256", kid=None), NONCE)
    # The classic algorithm confusion, by hand (joserfc will not make an HMAC key of a public key).
    signing_input = f"{b64({'alg': 'HS256', 'kid': 'kickoff-test-1'})}.{b64(claims_of(provider))}"
    mac = hmac.new(provider.signing_key.as_pem(private=False), signing_input.encode(), hashlib.sha256)
    confused = f"{signing_input}.{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"
    with pytest.raises(SsoError, match="'HS256'"):
        await party.validate_id_token(confused, NONCE)


async def test_not_a_jws_is_refused(party: RelyingParty) -> None:
    """Garbage, or an encrypted token (five parts), is no signed ID token."""
    for token in ("not-a-token", "a.b.c.d.e", ""):
        with pytest.raises(SsoError):
            await party.validate_id_token(token, NONCE)


# ---------------------------------------------------------------- providers unlike this one


class FakeProvider:
    """A discovery document and a JWKS (``keys`` may change between calls), counting the JWKS fetches."""

    def __init__(self, document: dict[str, Any], keys: list[dict[str, Any]]) -> None:
        self.document, self.keys, self.fetches = document, keys, 0
        self.transport = httpx.MockTransport(self.answer)

    def answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json=self.document)
        if request.url.path == "/jwks":
            self.fetches += 1
            return httpx.Response(200, json={"keys": self.keys})
        return httpx.Response(404)


def fake_provider(document: dict[str, Any], keys: list[dict[str, Any]]) -> httpx.MockTransport:
    return FakeProvider(document, keys).transport


ISSUER = "https://login.example.com/tenant/v2.0"


def document(**changes: Any) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": "https://login.example.com/authorize",
        "token_endpoint": "https://login.example.com/token",
        "jwks_uri": "https://login.example.com/jwks",
        "id_token_signing_alg_values_supported": ["RS256"],
    } | changes


def minted(key: Any, alg: str = "RS256", **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "s",
        "aud": CLIENT_ID,
        "exp": now + 60,
        "iat": now,
        "nonce": NONCE,
    } | changes
    header = {"alg": alg} | ({"kid": key.kid} if alg.startswith("RS") else {})
    return jwt.encode(header, claims, key, algorithms=[alg])


async def test_hmac_is_accepted_when_the_provider_offers_it() -> None:
    """A provider that names HS256 signs with the client secret: that verifies, another secret not."""
    transport = fake_provider(document(id_token_signing_alg_values_supported=["RS256", "HS256"]), [])
    party = RelyingParty(ISSUER, CLIENT_ID, CLIENT_SECRET, "https://kickoff.example/cb", transport=transport)
    claims = await party.validate_id_token(minted(OctKey.import_key(CLIENT_SECRET), "HS256"), NONCE)
    assert claims["sub"] == "s"
    with pytest.raises(SsoError, match="signature does not verify"):
        await party.validate_id_token(minted(OctKey.import_key("x" * 40), "HS256"), NONCE)


async def test_a_rotated_key_is_fetched_but_not_more_than_once_a_minute() -> None:
    """A token under a key id not seen yet fetches the JWKS again, at most once a minute."""
    old, new = RSAKey.generate_key(2048, auto_kid=True), RSAKey.generate_key(2048, auto_kid=True)
    keys = [old.as_dict(private=False)]
    fake = FakeProvider(document(), keys)
    clock = [1_000.0]
    party = RelyingParty(
        ISSUER,
        CLIENT_ID,
        CLIENT_SECRET,
        "https://kickoff.example/cb",
        transport=fake.transport,
        clock=lambda: clock[0],
    )
    now = int(clock[0])
    await party.validate_id_token(minted(old, exp=now + 60, iat=now), NONCE)
    keys.append(new.as_dict(private=False))  # the provider rotates
    with pytest.raises(SsoError, match="does not publish"):
        await party.validate_id_token(minted(new, exp=now + 60, iat=now), NONCE)
    clock[0] += 61
    now = int(clock[0])
    assert (await party.validate_id_token(minted(new, exp=now + 60, iat=now), NONCE))["sub"] == "s"
    assert fake.fetches == 2


async def test_a_discovery_document_of_another_issuer_is_refused() -> None:
    """The document must name the issuer Kickoff was configured with (Discovery 4.3)."""
    transport = fake_provider(document(issuer="https://evil.example.com"), [])
    party = RelyingParty(ISSUER, CLIENT_ID, CLIENT_SECRET, "https://kickoff.example/cb", transport=transport)
    with pytest.raises(SsoError, match=r"names issuer 'https://evil\.example\.com'"):
        await party.metadata()


async def test_a_provider_offering_only_none_is_refused() -> None:
    """alg none in the document is dropped: with nothing else, no token can be accepted."""
    transport = fake_provider(document(id_token_signing_alg_values_supported=["none"]), [])
    party = RelyingParty(ISSUER, CLIENT_ID, CLIENT_SECRET, "https://kickoff.example/cb", transport=transport)
    with pytest.raises(SsoError, match="no algorithm Kickoff accepts"):
        await party.metadata()


async def test_an_unreachable_provider_is_said_so() -> None:
    """No answer from the provider: SsoError saying what could not be read (the board shows it)."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    party = RelyingParty(
        ISSUER, CLIENT_ID, CLIENT_SECRET, "https://kickoff.example/cb", transport=httpx.MockTransport(refuse)
    )
    with pytest.raises(
        SsoError, match=r"Could not read the identity provider's discovery document \(ConnectError\)"
    ):
        await party.metadata()
