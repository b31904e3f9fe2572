"""Every board form post needs the session's CSRF token; without it nothing changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.accounts import ADVISOR
from tests.board.support import LATER_DELIVERY, BoardServer, State, csrf_token, sign_in

# (path under the onboarding or a task of it, form fields): one per kind of board action.
ACTIONS = [
    pytest.param("events/call_logged", {"p.outcome": "answered"}, id="event"),
    pytest.param("events/park", {"p.reason": "semester"}, id="park"),
    pytest.param("restart", {"reason": "no_show"}, id="restart"),
    pytest.param("kickoff-outcome", {"outcome": "no_show"}, id="kickoff-outcome"),
    pytest.param("amend", {"delivery_start": LATER_DELIVERY}, id="amend"),
    pytest.param("checklist/anything", {"ticked": "true"}, id="checklist"),
    pytest.param("task-done", {"back": "inbox"}, id="task-done"),
]
BAD_TOKENS = [
    pytest.param(None, id="missing"),
    pytest.param("wrong", id="wrong"),
    pytest.param("", id="empty"),
]


def _unchanged(state: State) -> dict[str, Any]:
    return {key: state[key] for key in ("stage", "cycle", "status", "tasks", "emails", "timeline")}


@pytest.fixture(scope="module")
async def bystander(board: BoardServer) -> str:
    """One onboarding in `onboarding` the refused posts aim at."""
    return await board.start()


@pytest.mark.parametrize("token", BAD_TOKENS)
@pytest.mark.parametrize(("action", "fields"), ACTIONS)
async def test_a_post_without_the_right_token_is_forbidden_and_changes_nothing(
    board: BoardServer,
    staff: httpx.AsyncClient,
    bystander: str,
    action: str,
    fields: dict[str, str],
    token: str | None,
) -> None:
    """A signed-in session's form post with a missing or wrong CSRF token gets 403 and no effect."""
    before = _unchanged(await board.state(bystander))
    state = await board.state(bystander)
    if action == "task-done":
        path = f"/board/tasks/{state['tasks'][0]['id']}/done"
    else:
        path = f"/board/onboardings/{bystander}/{action}"
    data = dict(fields) if token is None else {**fields, "csrf_token": token}
    response = await staff.post(path, data=data)
    assert response.status_code == 403
    assert "nothing was changed" in response.text
    assert _unchanged(await board.state(bystander)) == before


async def test_sign_out_without_the_token_keeps_the_session(staff: httpx.AsyncClient) -> None:
    """A foreign page cannot sign staff out either."""
    response = await staff.post("/board/sign-out", data={"csrf_token": "wrong"})
    assert response.status_code == 403
    assert (await staff.get("/board/tasks")).status_code == 200


async def test_a_token_of_another_session_is_refused(
    board: BoardServer, staff: httpx.AsyncClient, bystander: str
) -> None:
    """Tokens are per session: one taken from another signed-in browser does not work here."""
    async with httpx.AsyncClient(base_url=board.base_url) as other:
        await sign_in(other, ADVISOR)
        foreign = csrf_token((await other.get("/board/tasks")).text)
    before = _unchanged(await board.state(bystander))
    response = await staff.post(
        f"/board/onboardings/{bystander}/events/call_logged",
        data={"p.outcome": "answered", "csrf_token": foreign},
    )
    assert response.status_code == 403
    assert _unchanged(await board.state(bystander)) == before
