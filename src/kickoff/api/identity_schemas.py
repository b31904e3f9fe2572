"""Bodies and answers of the staff-identity routes: accounts, tokens, assignment, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kickoff.identity.roles import Role


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountPublic(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    disabled: bool
    sso: bool


class AccountIn(_Strict):
    email: str = Field(
        min_length=3,
        max_length=320,
        pattern=r"^[^\s\x1c-\x1f\x85]*@[^\s\x1c-\x1f\x85]*$",
        examples=["emelie.larsson@assist.example"],
    )
    role: Role
    name: str = Field(default="", max_length=200)
    password: str | None = Field(
        default=None, min_length=12, max_length=1024, description="None: the account signs in by SSO only"
    )


class AccountChange(_Strict):
    role: Role | None = None
    disabled: bool | None = Field(
        default=None, description="True ends the account's sessions and tokens at once"
    )


class TokenIn(_Strict):
    name: str = Field(min_length=1, max_length=100, examples=["CRM sync on my laptop"])


class TokenPublic(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class TokenCreated(TokenPublic):
    token: str = Field(description="Shown this once: Kickoff keeps only a hash of it")


class TaskAssign(_Strict):
    user: str | None = Field(
        max_length=320,
        description='The assignee\'s e-mail address, "me", or null to assign the task to no one',
        examples=["me"],
    )


class TaskAssigned(BaseModel):
    id: str
    onboarding_id: str
    assignee: str | None


class OwnerIn(_Strict):
    user: str | None = Field(max_length=320, description='E-mail address, "me", or null for no owner')


class OwnerSet(BaseModel):
    id: str
    owner: str | None


class AuditEntryPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    onboarding_id: str | None
    detail: dict[str, Any]
