"""The staff board: server-rendered pages on top of the API's service layer."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response, status
from fastapi.staticfiles import StaticFiles

from kickoff.board import accounts, auth, customer_side, inbox, preview, routes, sign_in, sso, versions
from kickoff.board.pages import STATIC, page, redirect
from kickoff.settings import Settings


def install_board(app: FastAPI, settings: Settings) -> None:
    """Mount the board's routes, its stylesheet, and the answers to "not signed in" and "bad CSRF".

    The session's cookie is scoped to ``/board`` (see ``kickoff.board.auth``), not a
    middleware, so the JSON API's requests are untouched by it."""
    app.include_router(sign_in.router)
    app.include_router(sso.router)
    app.include_router(routes.router)
    app.include_router(inbox.router)
    app.include_router(accounts.router)
    app.include_router(customer_side.router)
    app.include_router(preview.router)
    app.include_router(versions.router)
    app.mount("/board/static", StaticFiles(directory=STATIC), name="board-static")

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, auth.SignInRequiredError)
        target = auth.safe_next(exc.next_url)
        query = "" if target == "/board" else f"?{urlencode({'next': target})}"
        return redirect(f"/board/sign-in{query}")

    async def csrf_rejected(request: Request, exc: Exception) -> Response:
        # Nothing was done: the token is checked before any action reaches the service.
        return error_page(
            request,
            "Form rejected",
            status.HTTP_403_FORBIDDEN,
            "The form did not carry a valid security token (CSRF), so nothing was changed. "
            "Reload the page and try again.",
        )

    async def role_required(request: Request, exc: Exception) -> Response:
        return error_page(request, "Not allowed", status.HTTP_403_FORBIDDEN, str(exc))

    app.add_exception_handler(auth.SignInRequiredError, sign_in_required)
    app.add_exception_handler(auth.RoleRequiredError, role_required)
    app.add_exception_handler(auth.CsrfRejectedError, csrf_rejected)


def is_board(request: Request) -> bool:
    return request.url.path.startswith("/board")


def error_page(request: Request, title: str, code: int, message: str) -> Response:
    """The board's error page (its layout, signed in or not) with ``message`` and status ``code``."""
    return page(request, "error.html", auth.known_session(request), {"title": title}, code, error=message)
