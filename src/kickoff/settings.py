"""One settings object, read from ``KICKOFF_*`` environment variables when asked for."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_LOOPBACK = ("localhost", "127.0.0.1", "::1")


class Settings(BaseSettings):
    """Runtime configuration; the defaults run the whole system on one developer machine."""

    model_config = SettingsConfigDict(env_prefix="KICKOFF_", extra="ignore")

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "kickoff"
    # A cluster behind TLS (self-hosted with mTLS, or Temporal Cloud): PEM files. The client
    # certificate and its key go together; a CA replaces the system's roots (a private CA).
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_tls_ca: Path | None = None
    # Temporal Cloud's API-key authentication; with a key, the connection is always TLS.
    temporal_api_key: SecretStr | None = None

    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_timeout_seconds: float = 20.0
    mail_from: str = "Kickoff <onboarding@kickoff.localhost>"

    # Development defaults only: docker-compose.yml requires real values.
    webhook_secret: SecretStr = SecretStr("dev-webhook-secret")
    webhook_tolerance_seconds: int = 300
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=lambda: [SecretStr("dev-api-key")])

    # The board's session cookie is signed with this; docker-compose.yml requires a real one.
    session_secret: SecretStr = SecretStr("dev-session-secret")
    # Secure cookies are sent over HTTPS only (browsers treat http://localhost as secure too).
    session_cookie_secure: bool = True
    session_max_age_seconds: int = 8 * 3600
    # Wrong passwords or Bearer credentials one client address may send per minute before it
    # gets 429 (per API process); accounts also lock after 5 wrong passwords in a row.
    auth_failures_per_minute: int = Field(default=10, ge=1)
    # /docs, /redoc and /openapi.json (off in production: docker-compose.yml sets false).
    docs_enabled: bool = True
    # Client networks /metrics answers (others get 404): loopback and private networks, where
    # Prometheus scrapes from; "0.0.0.0/0,::/0" opens it to all.
    metrics_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    )

    # Single sign-on to the board with OpenID Connect (kickoff.identity.sso); an empty issuer
    # turns it off. The provider registers {KICKOFF_PUBLIC_URL}/board/sso/callback.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"
    # The ID token's claim whose values map to roles ("groups"; Entra ID's app roles: "roles").
    oidc_role_claim: str = "groups"
    # "value=role,…": a value of that claim, or "@domain" of the e-mail address, to viewer, staff
    # or admin; the highest role any maps to wins. None maps: only an account an admin made may
    # sign in.
    oidc_roles: str = ""

    # The worker serves the Temporal SDK's Prometheus metrics here; the API's /metrics
    # appends what it finds there (unset: the API serves only its own).
    worker_metrics_address: str | None = "127.0.0.1:9464"
    worker_metrics_url: str | None = "http://127.0.0.1:9464/metrics"
    # The worker answers /healthz (alive) and /readyz (polling, database migrated, Temporal
    # answering) here, for its container's health check. Empty: no health endpoint.
    worker_health_address: str | None = "127.0.0.1:9465"
    # Runs a worker keeps in memory between their workflow tasks (the SDK's default is 1,000).
    # An evicted run replays its short history on its next task: a little CPU for a bounded
    # memory (measured in bench/read_model.py: 436 MiB per worker at 10,000 onboardings with 1,000).
    worker_max_cached_workflows: int = Field(default=300, ge=0)

    # The largest request body the API reads (KICKOFF_MAX_BODY_BYTES), counted while it arrives: a
    # larger one is refused with 413 before anything (the signature check included) reads it.
    # POST /contracts accepts at most 64 KiB (or this, when smaller); the board's forms are a few KiB.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)

    # Reports aggregate over every onboarding in the read model: the board's charts and /reports
    # reuse a result this long.
    report_cache_seconds: float = Field(default=30.0, ge=0)

    # How long an Idempotency-Key's answer is remembered in Kickoff's database (kickoff.api.idempotency).
    idempotency_key_hours: float = Field(default=24.0, gt=0)

    pipelines_file: Path = Path("pipelines.yaml")
    data_dir: Path = Path(".data")
    # Kickoff's own database: sqlite+aiosqlite:///… (embedded) or postgresql+asyncpg://…
    # Empty: a SQLite file in the data folder.
    database_url: str = ""
    # Master keys for Temporal payloads (kickoff.crypto.keys): "<id>:<base64 32 bytes>", comma-
    # separated, the first wrapping new data keys. Empty: a key kept in the data folder.
    encryption_keys: SecretStr = SecretStr("")
    # Origins whose pages may call the codec server (/codec, /board/codec): the Temporal UI's.
    codec_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:8233", "http://127.0.0.1:8233"]
    )
    # Where customers and the board reach the API: the customer's personal links start with it.
    public_url: str = "http://localhost:8000"
    # A customer's page stays open this many weeks after their onboarding ended (or after the
    # booked kick-off, if that is later); then the link opens a page saying whom to ask.
    customer_link_weeks: int = Field(default=8, ge=1, le=104)
    log_json: bool = True

    @field_validator(
        "temporal_tls_cert", "temporal_tls_key", "temporal_tls_ca", "temporal_api_key", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose's `${VAR:-}` passes an empty string; Path("") would be the current folder.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("api_keys", "codec_cors_origins", "metrics_networks", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        # KICKOFF_API_KEYS is a comma-separated list, not JSON.
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("metrics_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return value

    @field_validator("api_keys")
    @classmethod
    def _at_least_one_key(cls, value: list[SecretStr]) -> list[SecretStr]:
        if not value:
            raise ValueError("KICKOFF_API_KEYS must name at least one key")
        return value

    @model_validator(mode="after")
    def _client_cert_with_its_key(self) -> Settings:
        # mTLS needs both halves; one alone would connect without client auth and fail later.
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            given, missing = (
                ("KICKOFF_TEMPORAL_TLS_CERT", "KICKOFF_TEMPORAL_TLS_KEY")
                if self.temporal_tls_cert is not None
                else ("KICKOFF_TEMPORAL_TLS_KEY", "KICKOFF_TEMPORAL_TLS_CERT")
            )
            raise ValueError(
                f"{given} is set but {missing} is not: a client certificate needs its private key "
                "(set both for mTLS, or neither)"
            )
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if not self.oidc_issuer.strip():
            return self
        issuer = urlsplit(self.oidc_issuer.strip())
        # Plain http only on this machine (a provider in a test); elsewhere tokens would travel in clear.
        if not (issuer.scheme == "https" or (issuer.scheme == "http" and issuer.hostname in _LOOPBACK)):
            raise ValueError("KICKOFF_OIDC_ISSUER must be the identity provider's https:// URL")
        secret = self.oidc_client_secret.get_secret_value() if self.oidc_client_secret else ""
        missing = [
            name
            for name, value in (
                ("KICKOFF_OIDC_CLIENT_ID", self.oidc_client_id),
                ("KICKOFF_OIDC_CLIENT_SECRET", secret),
            )
            if not value.strip()
        ]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise ValueError(f"KICKOFF_OIDC_ISSUER is set but {' and '.join(missing)} {verb} not")
        # Imported here: only single sign-on needs the identity package (and Authlib). A typo in
        # the mapping fails at start-up, not at someone's first sign-in.
        from kickoff.identity.sso import parse_role_mapping

        parse_role_mapping(self.oidc_roles)
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = default_database_url(self.data_dir)
        return self


def default_database_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file in the data folder."""
    return f"sqlite+aiosqlite:///{(data_dir / 'kickoff.sqlite3').as_posix()}"


def get_settings() -> Settings:
    """Read the environment now (never at import, so tests and embedders can set it first)."""
    return Settings()
