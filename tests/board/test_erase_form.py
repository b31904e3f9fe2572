"""The onboarding page's erase form (GDPR art. 17), over real HTTP against a real worker: it needs
the CSRF token, a ticked confirmation and a reason; afterwards the page and the card say the
personal data was erased and show none of it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from tests.accounts import ADMIN
from tests.board.support import BoardServer, alert, column_cards, csrf_token, signed_in_client, text_of
from tests.support import days_ahead

CUSTOMER = "Åre Hälsa & Söner AB"
PERSONAL = (CUSTOMER, "556677-8899", "Örjan Ängström", "orjan@are-halsa.example")
MEETING = {"meeting_at": days_ahead(3, 10).isoformat()}


@pytest.fixture
async def staff(board: BoardServer) -> AsyncIterator[httpx.AsyncClient]:
    """Erasure is an admin's: here the signed-in client is an admin's (tests/board/
    test_accounts_on_the_board.py shows a staff member refused)."""
    async with signed_in_client(board.base_url, ADMIN) as http:
        yield http


async def _erase(staff: httpx.AsyncClient, oid: str, **fields: str) -> httpx.Response:
    page = await staff.get(f"/board/onboardings/{oid}")
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_token(page.text), **fields}
    return await staff.post(f"/board/onboardings/{oid}/personal-data/erase", data=data)


def _card(page: str, oid: str) -> str:
    """One card of the board page: from its opening tag to the next card or the column's end."""
    found = re.search(
        rf'<li class="card[^"]*" data-id="{re.escape(oid)}">(.*?)(?=<li class="card|</section>)', page, re.S
    )
    assert found, f"no card for {oid}"
    return found.group(1)


async def _status(board: BoardServer, oid: str) -> WorkflowExecutionStatus | None:
    return (await board.api.client.get_workflow_handle(oid).describe()).status


async def test_the_page_offers_the_erase_form_with_a_confirmation_and_a_reason(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    """The form posts to the erase action with the page's CSRF token, a required reason and a
    required confirmation checkbox."""
    oid = await board.start()

    page = (await staff.get(f"/board/onboardings/{oid}")).text

    form = page[page.index('id="erase"') : page.index("</form>", page.index('id="erase"'))]
    assert f'action="/board/onboardings/{oid}/personal-data/erase"' in form
    assert f'value="{csrf_token(page)}"' in form
    assert 'name="reason" required' in form
    assert 'name="confirm" type="checkbox" value="erase" required' in form
    assert "The person asked for erasure" in form


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"reason": "request"}, "tick the confirmation", id="unconfirmed"),
        pytest.param({"confirm": "erase"}, "choose why", id="no-reason"),
        pytest.param({"confirm": "erase", "reason": "because"}, "choose why", id="unknown-reason"),
    ],
)
async def test_without_confirmation_or_reason_nothing_is_erased(
    board: BoardServer, staff: httpx.AsyncClient, fields: dict[str, str], reason: str
) -> None:
    """422 with the page and what is missing; the run goes on with all its data."""
    oid = await board.start()

    response = await _erase(staff, oid, **fields)

    assert response.status_code == 422, response.text
    assert reason in (alert(response.text) or "")
    assert CUSTOMER in text_of(response.text)
    assert await _status(board, oid) == WorkflowExecutionStatus.RUNNING


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_without_the_csrf_token_nothing_is_erased(
    board: BoardServer, staff: httpx.AsyncClient, token: str | None
) -> None:
    """403 and no effect, as for every board form."""
    oid = await board.start()
    data = {"confirm": "erase", "reason": "request", **({"csrf_token": token} if token else {})}

    response = await staff.post(f"/board/onboardings/{oid}/personal-data/erase", data=data)

    assert response.status_code == 403
    assert "nothing was changed" in response.text
    assert await _status(board, oid) == WorkflowExecutionStatus.RUNNING
    assert (await board.state(oid))["customer"]["name"] == CUSTOMER


async def test_erasing_from_the_board_ends_the_run_and_the_page_shows_it_erased(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    """Confirmed with a reason: the run is terminated, the page says when the personal data was
    erased, shows its stages and no personal value, and offers no action any more."""
    oid = await board.start()

    response = await _erase(staff, oid, confirm="erase", reason="request")

    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/board/onboardings/{oid}"
    page = await staff.get(response.headers["location"])
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert "Personal data erased." in text
    assert "personal data erased" in text
    assert "Onboarding – Pågår" in text  # the stage it was in is kept
    assert [value for value in PERSONAL if value in page.text or value in text] == []
    assert "<form" not in page.text.split("</header>", 1)[1]  # no actions on it
    assert await _status(board, oid) == WorkflowExecutionStatus.TERMINATED


async def test_an_action_from_a_page_left_open_is_refused_on_the_erased_page(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    """A form posted after the erasure (from a page still open) gets 409 and the erased page."""
    oid = await board.start()
    token = csrf_token((await staff.get(f"/board/onboardings/{oid}")).text)
    assert (await _erase(staff, oid, confirm="erase", reason="request")).status_code == 303

    response = await staff.post(
        f"/board/onboardings/{oid}/events/call_logged", data={"p.outcome": "answered", "csrf_token": token}
    )

    assert response.status_code == 409, response.text
    assert (alert(response.text) or "").startswith("Not done: personal data erased")
    assert CUSTOMER not in text_of(response.text)


async def test_a_booked_onboarding_erased_stays_on_the_board_as_erased(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    """A completed (booked) onboarding keeps its card in its stage, without the customer's
    name and marked as erased; erasing it again is answered as done before."""
    oid = await board.start()
    booked = await board.api.http.post(
        f"/onboardings/{oid}/meeting-booked", json=MEETING, headers=board.api.auth
    )
    assert booked.status_code == 202, booked.text
    await board.until(oid, lambda s: s["status"] == "completed")
    assert (await _erase(staff, oid, confirm="erase", reason="no_longer_needed")).status_code == 303

    page = (await staff.get("/board")).text

    assert oid in column_cards(page, "closed")
    card = _card(page, oid)
    assert "personal data erased" in card
    assert "(erased)" in text_of(card)
    assert CUSTOMER not in text_of(card)
    assert await _status(board, oid) == WorkflowExecutionStatus.COMPLETED
    again = await staff.post(
        f"/board/onboardings/{oid}/personal-data/erase",
        data={"confirm": "erase", "reason": "request", "csrf_token": csrf_token(page)},
    )
    assert again.status_code == 303
    followed = await staff.get(again.headers["location"])
    assert "Personal data was erased already." in text_of(followed.text)
