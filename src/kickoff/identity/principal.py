"""Who is asking: a staff account (signed in on the board, or by a personal API token) or a
service key from KICKOFF_API_KEYS (another system, e.g. the CRM integration)."""

from __future__ import annotations

from dataclasses import dataclass

from kickoff.identity.accounts import Account
from kickoff.identity.roles import Role, allows

SERVICE_ROLE: Role = "admin"
"""Service keys keep the access they always had (every route), so no caller breaks."""


@dataclass(frozen=True)
class Principal:
    account: Account | None
    """None for a service key."""
    service_key: str | None = None
    """A short keyed fingerprint of the service key (never the key)."""

    @property
    def role(self) -> Role:
        return self.account.role if self.account is not None else SERVICE_ROLE

    def may(self, needed: Role) -> bool:
        return allows(self.role, needed)

    @property
    def actor(self) -> str:
        """How the audit log and the timeline name who acted: the account's e-mail address, or
        the service key's fingerprint."""
        if self.account is not None:
            return self.account.email
        return f"service key {self.service_key}"

    def by(self, named: str | None = None) -> str:
        """Who acted, for the run's timeline: the account's address; a service key acts for the
        person its caller names (``named``), else as "api"."""
        if self.account is not None:
            return self.account.email
        return named or "api"

    @property
    def account_id(self) -> str | None:
        return self.account.id if self.account is not None else None
