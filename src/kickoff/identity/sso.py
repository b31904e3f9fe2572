"""Single sign-on with OpenID Connect: Kickoff as a relying party of the company's identity
provider (Entra ID, Google Workspace, Okta, …).

The authorization-code flow with PKCE (S256) through Authlib's httpx client. The ID token is
checked with joserfc: its signature against the provider's published keys (JWKS), with only
the algorithms the provider's discovery document names (never ``none``; HMAC with the client
secret only when the provider offers it), then ``iss``, ``aud`` (and ``azp``), ``exp``,
``iat`` and the nonce of this very sign-in. The discovery document is kept for an hour; the
keys are fetched again when a token names a key not seen yet (a provider rotating its keys),
at most once a minute.

What the board needs from a token is an ``SsoIdentity``; which role it gives is the pure
``role_for`` (the claim→role mapping of KICKOFF_OIDC_ROLES), so it is unit-tested alone.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import ssl
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import authlib.deprecate  # type: ignore[import-untyped]
import httpx
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey

from kickoff.identity.roles import Role, allows, parse_role
from kickoff.settings import Settings

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 package and warns that its httpx fallback is deprecated;
    # Kickoff uses httpx (the same AsyncClient API) everywhere. Imported after authlib.deprecate,
    # whose own "always" filter would otherwise come first.
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError  # type: ignore[import-untyped]

CALLBACK_PATH = "/board/sso/callback"
DISCOVERY_PATH = "/.well-known/openid-configuration"
METADATA_TTL = 3600.0
"""Seconds the discovery document and the keys are used before they are fetched again."""
KEYS_REFETCH_INTERVAL = 60.0
"""An unknown key id fetches the keys again at most this often: a stream of forged tokens
naming random keys must not become a stream of requests to the provider."""
CLOCK_SKEW = 60
"""Seconds of difference between the provider's clock and Kickoff's that ``exp`` and ``iat`` allow."""
HTTP_TIMEOUT = 10.0

ASYMMETRIC_ALGS: dict[str, type[Key]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), RSAKey),
    **dict.fromkeys(("ES256", "ES384", "ES512"), ECKey),
    "EdDSA": OKPKey,
    "Ed25519": OKPKey,
}
HMAC_ALGS = ("HS256", "HS384", "HS512")


@functools.cache
def _tls() -> ssl.SSLContext:
    # Made once: loading the trusted certificates for each short-lived client costs ~0.1 s.
    return httpx.create_ssl_context()


class SsoError(Exception):
    """A single sign-on that cannot go on; the message says why, for the person signing in."""


# ---------------------------------------------------------------- the mapping (pure)


def parse_role_mapping(text: str) -> dict[str, Role]:
    """``"kickoff-staff=staff, kickoff-admins=admin, @assist.example=viewer"`` as a mapping.

    A key is a value of the role claim (a group's name or id, an app role), compared exactly;
    one starting with ``@`` is an e-mail domain, compared without case. ValueError names the
    entry that is not ``value=role`` or whose role is unknown."""
    mapping: dict[str, Role] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        value, equals, role = entry.rpartition("=")
        value = value.strip()
        if not equals or not value or value == "@":
            raise ValueError(f"KICKOFF_OIDC_ROLES: {entry!r} is not value=role (e.g. kickoff-staff=staff)")
        try:
            chosen = parse_role(role)
        except ValueError as err:
            raise ValueError(f"KICKOFF_OIDC_ROLES: {entry!r}: {err}") from None
        mapping[value.lower() if value.startswith("@") else value] = chosen
    return mapping


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """The values of claim ``name``: a list of strings, or one string, or nothing."""
    value = claims.get(name)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def email_domain(claims: Mapping[str, Any]) -> str | None:
    """The domain of the token's e-mail address, unless the provider said it is not verified."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is False:
        return None
    return email.rpartition("@")[2].strip().lower() or None


def role_for(
    claims: Mapping[str, Any], mapping: Mapping[str, Role], role_claim: str = "groups"
) -> Role | None:
    """The highest role that any value of the role claim, or the e-mail address's domain
    (``@domain``), maps to; None when nothing maps (then only an account an admin made may
    sign in)."""
    keys = claim_values(claims, role_claim)
    domain = email_domain(claims)
    if domain is not None:
        keys.append(f"@{domain}")
    best: Role | None = None
    for key in keys:
        role = mapping.get(key)
        if role is not None and (best is None or allows(role, best)):
            best = role
    return best


# ---------------------------------------------------------------- the provider's metadata


@dataclass(frozen=True)
class ProviderMetadata:
    """What Kickoff uses of the provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    id_token_algs: tuple[str, ...]
    """The ID token's algorithms the provider names and Kickoff accepts: never ``none``."""
    token_auth_method: str
    """How the client authenticates at the token endpoint (client_secret_basic or _post)."""

    @classmethod
    def from_discovery(cls, document: Mapping[str, Any], configured_issuer: str) -> ProviderMetadata:
        """Read a discovery document; SsoError when it is not the configured issuer's or lacks
        what the code flow needs."""
        issuer = document.get("issuer")
        # OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for
        # (a trailing slash aside), or another provider could stand in for it.
        if not isinstance(issuer, str) or issuer.rstrip("/") != configured_issuer.rstrip("/"):
            raise SsoError(
                f"The identity provider's discovery document names issuer {issuer!r}, "
                f"not {configured_issuer!r} (KICKOFF_OIDC_ISSUER)."
            )
        endpoints: dict[str, str] = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(name)
            if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                raise SsoError(f"The identity provider's discovery document has no {name}.")
            endpoints[name] = value
        # RS256 is what a provider that names no algorithm signs with (OpenID Connect Core 3.1.3.7).
        advertised = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        algs = tuple(
            alg for alg in advertised if isinstance(alg, str) and (alg in ASYMMETRIC_ALGS or alg in HMAC_ALGS)
        )
        if not algs:
            raise SsoError("The identity provider signs ID tokens with no algorithm Kickoff accepts.")
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        method = "client_secret_basic" if "client_secret_basic" in methods else "client_secret_post"
        return cls(
            issuer=issuer,
            authorization_endpoint=endpoints["authorization_endpoint"],
            token_endpoint=endpoints["token_endpoint"],
            jwks_uri=endpoints["jwks_uri"],
            id_token_algs=algs,
            token_auth_method=method,
        )


# ---------------------------------------------------------------- the ID token


def token_header(id_token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, unverified (to choose the key); SsoError if it is none."""
    try:
        return dict(jws.extract_compact(id_token.encode()).headers())
    except (JoseError, ValueError, UnicodeError):
        raise SsoError("The identity provider's ID token is not a signed token.") from None


def select_key(keys: list[dict[str, Any]], kid: str | None, alg: str) -> Key | None:
    """The published key (JWK) that verifies a token with ``kid`` and ``alg``: the same id,
    meant for signatures, of the type the algorithm needs; None when there is none."""
    key_type = ASYMMETRIC_ALGS[alg]
    found: list[Key] = []
    for data in keys:
        if data.get("use", "sig") != "sig" or data.get("alg", alg) != alg:
            continue
        if kid is not None and data.get("kid") != kid:
            continue
        try:
            key = key_type.import_key(data)
        except (JoseError, ValueError, TypeError, KeyError):
            continue  # another type of key, or one this algorithm cannot use
        found.append(key)
    # Without a kid only an unambiguous key will do.
    return found[0] if len(found) == 1 or (found and kid is not None) else None


def check_id_token(
    id_token: str,
    key: Key,
    alg: str,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: int,
    leeway: int = CLOCK_SKEW,
) -> dict[str, Any]:
    """The ID token's claims once its signature (with ``key``, by ``alg`` alone) and its claims
    hold (OpenID Connect Core 3.1.3.7); SsoError saying what failed otherwise."""
    try:
        token = jwt.decode(id_token, key, algorithms=[alg])
    except BadSignatureError:
        raise SsoError(
            "The ID token's signature does not verify: it was not issued by the identity provider."
        ) from None
    except (JoseError, ValueError) as err:
        raise SsoError(
            f"The identity provider's ID token could not be read ({type(err).__name__})."
        ) from None
    claims: dict[str, Any] = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=now,
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True},
    )
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise SsoError("The ID token has expired: please sign in again.") from None
    except MissingClaimError as err:
        raise SsoError(f"The ID token lacks {err.claim}.") from None
    except InvalidClaimError as err:
        raise SsoError(f"The ID token's {err.claim} is not valid for Kickoff.") from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise SsoError("The ID token was issued to another application (azp).")
    if not isinstance(claims["nonce"], str) or not hmac.compare_digest(claims["nonce"], nonce):
        raise SsoError("The ID token belongs to another sign-in (nonce): please sign in again.")
    return claims


# ---------------------------------------------------------------- the relying party


@dataclass(frozen=True)
class PendingSignIn:
    """What one sign-in keeps between leaving for the provider and coming back (a cookie)."""

    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> PendingSignIn:
        # token_urlsafe(48) is 64 characters of the verifier's alphabet (RFC 7636: 43 to 128).
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48))


@dataclass(frozen=True)
class SsoIdentity:
    """Who the provider vouches for, from a valid ID token."""

    issuer: str
    subject: str
    email: str
    name: str
    claims: dict[str, Any]


def sso_enabled(settings: Settings) -> bool:
    """Whether single sign-on is configured (KICKOFF_OIDC_ISSUER set)."""
    return bool(settings.oidc_issuer.strip())


def redirect_uri(settings: Settings) -> str:
    """Kickoff's callback, as registered at the provider."""
    return f"{settings.public_url.rstrip('/')}{CALLBACK_PATH}"


class RelyingParty:
    """Kickoff's side of OpenID Connect with one provider: the discovery document and keys it
    caches, the authorization URL, the code exchange and the ID token's validation."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scopes: str = "openid email profile",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer.strip()
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = scopes
        self._transport = transport
        self._clock = clock
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._keys: list[dict[str, Any]] = []
        self._keys_at = float("-inf")

    @classmethod
    def from_settings(cls, settings: Settings) -> RelyingParty:
        secret = settings.oidc_client_secret
        return cls(
            settings.oidc_issuer,
            settings.oidc_client_id,
            secret.get_secret_value() if secret is not None else "",
            redirect_uri(settings),
            settings.oidc_scopes,
        )

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=HTTP_TIMEOUT, verify=_tls(), transport=self._transport)

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                response = await http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise SsoError(f"Could not read the identity provider's {what} ({type(err).__name__}).") from None
        if not isinstance(body, dict):
            raise SsoError(f"The identity provider's {what} is not a JSON object.")
        return body

    async def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (cached for METADATA_TTL)."""
        if self._metadata is None or self._clock() - self._metadata_at > METADATA_TTL:
            document = await self._get_json(
                f"{self.issuer.rstrip('/')}{DISCOVERY_PATH}", "discovery document"
            )
            self._metadata = ProviderMetadata.from_discovery(document, self.issuer)
            self._metadata_at = self._clock()
        return self._metadata

    async def _published_keys(self, kid: str | None, alg: str) -> Key:
        now = self._clock()
        stale = now - self._keys_at > METADATA_TTL
        key = None if stale else select_key(self._keys, kid, alg)
        if key is None and (stale or now - self._keys_at > KEYS_REFETCH_INTERVAL):
            document = await self._get_json((await self.metadata()).jwks_uri, "signing keys (JWKS)")
            keys = document.get("keys")
            self._keys = [item for item in keys if isinstance(item, dict)] if isinstance(keys, list) else []
            self._keys_at = now
            key = select_key(self._keys, kid, alg)
        if key is None:
            raise SsoError("The ID token is signed with a key the identity provider does not publish.")
        return key

    async def authorization_url(self, pending: PendingSignIn) -> str:
        """Where to send the browser: the provider's authorization endpoint with this sign-in's
        state, nonce and PKCE challenge."""
        metadata = await self.metadata()
        async with self._oauth_client(metadata) as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint,
                state=pending.state,
                code_verifier=pending.code_verifier,
                nonce=pending.nonce,
            )
        return str(url)

    def _oauth_client(self, metadata: ProviderMetadata) -> Any:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=metadata.token_auth_method,
            scope=self.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT,
            verify=_tls(),
            transport=self._transport,
        )

    async def sign_in(
        self, code: str, pending: PendingSignIn, response_issuer: str | None = None
    ) -> SsoIdentity:
        """Exchange the authorization code (with the PKCE verifier) and validate the ID token.

        ``response_issuer`` is the callback's ``iss`` parameter (RFC 9207), when the provider
        sends one: a code from another provider is never sent to this one's token endpoint."""
        metadata = await self.metadata()
        if response_issuer is not None and response_issuer != metadata.issuer:
            raise SsoError("The sign-in answer came from another identity provider (iss).")
        try:
            async with self._oauth_client(metadata) as client:
                token = await client.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.code_verifier,
                )
        except OAuthError as err:
            raise SsoError(
                f"The identity provider did not accept the sign-in ({err.error}): please sign in again."
            ) from None
        except (httpx.HTTPError, ValueError) as err:
            raise SsoError(
                f"Could not reach the identity provider's token endpoint ({type(err).__name__})."
            ) from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SsoError(
                "The identity provider answered without an ID token (is the scope openid asked for?)."
            )
        claims = await self.validate_id_token(id_token, pending.nonce)
        return identity_of(metadata.issuer, claims)

    async def validate_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The claims of a valid ID token for this client and sign-in; SsoError otherwise."""
        metadata = await self.metadata()
        header = token_header(id_token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in metadata.id_token_algs:
            if isinstance(alg, str) and alg.lower() == "none":
                raise SsoError("The ID token is not signed (alg none): Kickoff never accepts that.")
            raise SsoError(
                f"The ID token is signed with {alg!r}, which the identity provider does not sign "
                f"ID tokens with ({', '.join(metadata.id_token_algs)})."
            )
        kid = header.get("kid")
        key: Key
        if alg in HMAC_ALGS:
            # Offered by the provider: the token is signed with the secret both sides share.
            key = OctKey.import_key(self.client_secret)
        else:
            key = await self._published_keys(kid if isinstance(kid, str) else None, alg)
        return check_id_token(
            id_token,
            key,
            alg,
            issuer=metadata.issuer,
            client_id=self.client_id,
            nonce=nonce,
            now=int(self._clock()),
        )


def identity_of(issuer: str, claims: Mapping[str, Any]) -> SsoIdentity:
    """Who a valid ID token names; SsoError when it carries no usable e-mail address."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SsoError(
            "The identity provider did not share your e-mail address (Kickoff asks for the scope "
            "email): ask an admin to check the single sign-on set-up."
        )
    if claims.get("email_verified") is False:
        raise SsoError(f"The identity provider has not verified the e-mail address {email}.")
    name = claims.get("name")
    return SsoIdentity(
        issuer=issuer,
        subject=str(claims["sub"]),
        email=email,
        name=name if isinstance(name, str) else "",
        claims=dict(claims),
    )
