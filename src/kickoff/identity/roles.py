"""The three roles, each allowing what the one before it does and more."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["viewer", "staff", "admin"]
"""viewer: read; staff: act on onboardings and tasks; admin: accounts, tokens, erasure, the audit
log and pipeline operations."""

ROLES: tuple[Role, ...] = get_args(Role)
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def allows(role: Role, needed: Role) -> bool:
    """Whether an account of ``role`` may do what ``needed`` may."""
    return _RANK[role] >= _RANK[needed]


def parse_role(text: str) -> Role:
    """A role from a setting or a form; ValueError naming the choices otherwise."""
    for role in ROLES:
        if text.strip().lower() == role:
            return role
    raise ValueError(f"unknown role {text!r} (roles: {', '.join(ROLES)})")
