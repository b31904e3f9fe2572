"""The staff board: server-rendered pages on top of the API's service layer."""

from __future__ import annotations

from fastapi import FastAPI

from kickoff.settings import Settings


def install_board(app: FastAPI, settings: Settings) -> None:
    """Mount the board's routes and the session middleware it signs in with."""
