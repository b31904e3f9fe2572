"""The staff board: server-rendered pages on top of the API's service layer."""

from __future__ import annotations

from urllib.parse import urlencode

import structlog
from fastapi import FastAPI, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from temporalio.service import RPCError

from kickoff.board import auth, routes, sign_in
from kickoff.board.pages import STATIC, page, redirect
from kickoff.settings import Settings

log = structlog.get_logger(__name__)


def install_board(app: FastAPI, settings: Settings) -> None:
    """Mount the board's routes, its stylesheet, and the answers to "not signed in" and "bad CSRF".

    The session is a signed cookie scoped to ``/board`` (see ``kickoff.board.auth``), not a
    middleware, so the JSON API's requests are untouched by it."""
    app.include_router(sign_in.router)
    app.include_router(routes.router)
    app.mount("/board/static", StaticFiles(directory=STATIC), name="board-static")

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, auth.SignInRequiredError)
        target = auth.safe_next(exc.next_url)
        query = "" if target == "/board" else f"?{urlencode({'next': target})}"
        return redirect(f"/board/sign-in{query}")

    async def csrf_rejected(request: Request, exc: Exception) -> Response:
        # Nothing was done: the token is checked before any action reaches the service.
        session = auth.read_session(request, settings)
        return page(
            request,
            "error.html",
            session,
            {"title": "Form rejected"},
            status.HTTP_403_FORBIDDEN,
            error="The form did not carry a valid security token (CSRF), so nothing was changed. "
            "Reload the page and try again.",
        )

    app.add_exception_handler(auth.SignInRequiredError, sign_in_required)
    app.add_exception_handler(RPCError, temporal_unreachable)
    app.add_exception_handler(auth.CsrfRejectedError, csrf_rejected)


async def temporal_unreachable(request: Request, exc: Exception) -> Response:
    """Temporal did not answer (down, restarting, network): 503 saying so, a board page for the
    board and JSON for the API, instead of a bare 500."""
    assert isinstance(exc, RPCError)
    log.warning("temporal.unreachable", status=exc.status.name if exc.status else None)
    message = "Temporal did not answer, so nothing was read or changed: try again shortly."
    if not request.url.path.startswith("/board"):
        return JSONResponse({"detail": message}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    settings: Settings = request.app.state.kickoff.settings
    session = auth.read_session(request, settings)
    return page(
        request,
        "error.html",
        session,
        {"title": "Temporal unavailable"},
        status.HTTP_503_SERVICE_UNAVAILABLE,
        error=message,
    )
