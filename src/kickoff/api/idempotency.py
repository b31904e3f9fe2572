"""Idempotency-Key on every state-changing route, remembered in Kickoff's database (issue 12).

A placeholder until it is built: ``install_idempotency`` installs nothing yet.
"""

from __future__ import annotations

from fastapi import FastAPI


def install_idempotency(app: FastAPI) -> None:
    """Install the Idempotency-Key middleware on ``app`` (inside the body-size limit)."""
