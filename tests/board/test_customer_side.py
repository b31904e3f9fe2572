"""The customer's side on the board, over real HTTP against a real worker: the onboarding page's
"Customer page" panel (link, booking, the customer's actions), revoking and resending the link,
and the Bookings page where staff block times."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx
import pytest

from kickoff.crypto.fields import sealer_of
from kickoff.customer.links import CustomerLinks
from kickoff.db import Database
from kickoff.db.bookings import BookingStore
from kickoff.identity.audit import AuditLog
from kickoff.mailcatcher import MailCatcher
from kickoff.schedule import zone
from tests.accounts import VIEWER
from tests.board.support import PAST_DELIVERY, BoardServer, alert, csrf_token, signed_in_client, text_of
from tests.customer_support import csrf_of, slots_of, token_in
from tests.support import eventually, local_today

PIPELINE = "assist-se"
STOCKHOLM = zone("Europe/Stockholm")


@pytest.fixture
async def database(board: BoardServer) -> AsyncIterator[Database]:
    """The board server's own database (links, bookings, blocks, audit log)."""
    database = Database(board.api.settings.database_url)
    yield database
    await database.dispose()


async def _token(board: BoardServer, database: Database, oid: str) -> str:
    return await CustomerLinks(database, sealer_of(board.api.client.data_converter)).ensure(oid)


async def _page(staff: httpx.AsyncClient, path: str) -> str:
    response = await staff.get(path)
    assert response.status_code == 200, response.text
    return response.text


async def _post(staff: httpx.AsyncClient, page: str, path: str, **fields: str) -> httpx.Response:
    """Post a form of ``page`` (the CSRF token it carries) the way a browser would."""
    token = csrf_token(await _page(staff, page))
    return await staff.post(path, data={**fields, "csrf_token": token})


async def _customer_page(board: BoardServer, token: str) -> httpx.Response:
    return await board.api.http.get(f"/c/{token}")


def _panel(page: str) -> str:
    found = re.search(r'<section class="panel" id="customer-side".*?</section>', page, re.S)
    assert found, "no customer panel on the page"
    return text_of(found.group(0))


def _new_link_mails(smtp: MailCatcher, oid: str) -> list[EmailMessage]:
    return [m for m in smtp.for_onboarding(oid) if str(m["Subject"]).startswith("Er nya länk")]


async def test_the_panel_shows_the_link_without_its_token_and_revoking_closes_the_page(
    board: BoardServer, staff: httpx.AsyncClient, database: Database
) -> None:
    """The panel says the link is live (never its token); revoking makes its page 410, audited."""
    oid = await board.start()
    token = await _token(board, database, oid)
    assert (await _customer_page(board, token)).status_code == 200
    page = await _page(staff, f"/board/onboardings/{oid}")
    assert token not in page
    assert "/c/" not in page
    panel = _panel(page)
    assert "Live since" in panel
    assert "last opened" in panel
    assert "Revoke link" in panel
    revoked = await _post(
        staff, f"/board/onboardings/{oid}", f"/board/onboardings/{oid}/customer-link/revoke"
    )
    assert revoked.status_code == 303, revoked.text
    after = await _page(staff, revoked.headers["location"])
    assert "Link revoked" in after
    assert "No live link" in _panel(after)
    assert "Revoke link" not in _panel(after)
    assert (await _customer_page(board, token)).status_code == 410
    actions = [(e.actor, e.action) for e in await AuditLog(database).entries(onboarding_id=oid)]
    assert ("anna@assist.example", "customer_link_revoked") in actions


async def test_sending_a_new_link_mails_it_and_the_old_one_stops_working(
    board: BoardServer, staff: httpx.AsyncClient, database: Database, smtp: MailCatcher
) -> None:
    """ "Send a new link" mails the main user a link that opens 200, while the previous one answers 410."""
    oid = await board.start()
    old = await _token(board, database, oid)
    sent = await _post(staff, f"/board/onboardings/{oid}", f"/board/onboardings/{oid}/customer-link/send")
    assert sent.status_code == 303, sent.text
    assert "on its way to orjan@are-halsa.example" in await _page(staff, sent.headers["location"])

    async def mails() -> list[EmailMessage]:
        return _new_link_mails(smtp, oid)

    [mail] = await eventually(mails, lambda found: len(found) == 1)
    new = token_in(mail)
    assert new != old
    assert (await _customer_page(board, new)).status_code == 200
    assert (await _customer_page(board, old)).status_code == 410
    actions = [e.action for e in await AuditLog(database).entries(onboarding_id=oid)]
    assert "customer_link_sent" in actions


async def test_a_viewer_sees_the_panel_but_cannot_revoke(board: BoardServer, database: Database) -> None:
    """A viewer's page has no link buttons, and a revoke posted anyway gets 403 and leaves the link live."""
    oid = await board.start()
    token = await _token(board, database, oid)
    async with signed_in_client(board.base_url, VIEWER) as viewer:
        page = await _page(viewer, f"/board/onboardings/{oid}")
        assert "Live since" in _panel(page)
        assert "Revoke link" not in _panel(page)
        refused = await _post(
            viewer, f"/board/onboardings/{oid}", f"/board/onboardings/{oid}/customer-link/revoke"
        )
        assert refused.status_code == 403
        assert "needs the staff role" in (alert(refused.text) or "")
    assert (await _customer_page(board, token)).status_code == 200


def _block_fields(start: datetime, minutes: int = 30, reason: str = "Teammöte") -> dict[str, str]:
    """The block form's fields for ``minutes`` from ``start``, as typed in Stockholm time."""
    local = start.astimezone(STOCKHOLM)
    end = local + timedelta(minutes=minutes)
    return {
        "pipeline": PIPELINE,
        "day": local.date().isoformat(),
        "start": local.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "reason": reason,
    }


async def test_a_blocked_time_is_not_offered_to_customers_until_the_block_is_removed(
    board: BoardServer, staff: httpx.AsyncClient, database: Database
) -> None:
    """Blocking a slot's time removes its button from the customer page; removing the block brings it back."""
    oid = await board.start()
    token = await _token(board, database, oid)
    first = slots_of(await _customer_page(board, token))[0]
    blocked = await _post(
        staff, "/board/bookings", "/board/bookings/blocks", **_block_fields(datetime.fromisoformat(first))
    )
    assert blocked.status_code == 303, blocked.text
    listing = await _page(staff, blocked.headers["location"])
    assert "Teammöte" in listing
    assert "Blocked" in listing
    assert first not in slots_of(await _customer_page(board, token))
    [block_id] = re.findall(r'data-block="(\d+)"', listing)[-1:]
    removed = await _post(
        staff, "/board/bookings", f"/board/bookings/blocks/{block_id}/remove", pipeline=PIPELINE
    )
    assert removed.status_code == 303, removed.text
    assert first in slots_of(await _customer_page(board, token))
    actions = [e.action for e in await AuditLog(database).entries() if e.onboarding_id is None]
    assert {"booking_block_added", "booking_block_removed"} <= set(actions)


TOMORROW = (local_today() + timedelta(days=1)).isoformat()
YESTERDAY = (local_today() - timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param(
            {"day": TOMORROW, "start": "10:00", "end": "09:00"}, "must end after it starts", id="end-first"
        ),
        pytest.param(
            {"day": TOMORROW, "start": "10:00", "end": "10:00"}, "must end after it starts", id="empty"
        ),
        pytest.param({"day": YESTERDAY, "start": "09:00", "end": "10:00"}, "has passed", id="past"),
        pytest.param({"day": "2027-13-01", "start": "09:00", "end": "10:00"}, "date:", id="bad-date"),
        pytest.param({"day": TOMORROW, "start": "9 am", "end": "10:00"}, "from:", id="bad-time"),
        pytest.param(
            {"day": TOMORROW, "start": "09:00", "end": "10:00", "reason": " "}, "reason:", id="no-reason"
        ),
    ],
)
async def test_a_bad_block_gets_422_with_its_reason_and_blocks_nothing(
    board: BoardServer, staff: httpx.AsyncClient, database: Database, fields: dict[str, str], reason: str
) -> None:
    """A bad date or time, an end before the start or a past time gets 422 naming why; nothing is stored."""
    store = BookingStore(database)
    now = datetime.now(UTC)
    before = await store.blocks(PIPELINE, now - timedelta(days=2), now + timedelta(days=400))
    form = {"pipeline": PIPELINE, "reason": "Utbildning", **fields}
    refused = await _post(staff, "/board/bookings", "/board/bookings/blocks", **form)
    assert refused.status_code == 422, refused.text
    assert reason in (alert(refused.text) or "")
    assert f'value="{fields["day"]}"' in refused.text  # what was typed is kept
    assert await store.blocks(PIPELINE, now - timedelta(days=2), now + timedelta(days=400)) == before


async def test_a_booking_on_the_customer_page_shows_in_the_panel_timeline_and_bookings_page(
    board: BoardServer, staff: httpx.AsyncClient, database: Database
) -> None:
    """A customer's booking shows in the panel (local time, by whom, status), the timeline and on Bookings."""
    oid = await board.start(delivery_start=PAST_DELIVERY)
    token = await _token(board, database, oid)
    customer = await _customer_page(board, token)
    await _customer_page(board, token)  # a second visit the same day: still one timeline row
    start = datetime.fromisoformat(slots_of(customer)[0])
    booked = await board.api.http.post(
        f"/c/{token}/booking", data={"start": start.isoformat(), "csrf": csrf_of(customer)}
    )
    assert booked.status_code == 303, booked.text
    await board.until(oid, lambda s: s["stage"] == "closed")
    local = start.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
    page = await _page(staff, f"/board/onboardings/{oid}")
    panel = _panel(page)
    assert local in panel
    assert "booked by the customer" in panel
    assert 'data-booking-status="booked"' in page
    timeline = text_of(page.split('id="timeline-heading"', 1)[1])
    assert f"kick-off booked on the customer page {local}" in timeline
    assert timeline.count("customer page opened") == 1
    assert "by customer" in timeline
    listing = await _page(staff, f"/board/bookings?pipeline={PIPELINE}")
    row = re.search(rf'<tr data-onboarding="{re.escape(oid)}".*?</tr>', listing, re.S)
    assert row, "the booking is not on the Bookings page"
    assert local in text_of(row.group(0))
    assert "Åre Hälsa & Söner AB" in text_of(row.group(0))


async def test_a_task_the_customer_did_says_so_on_the_board(
    board: BoardServer, staff: httpx.AsyncClient, database: Database
) -> None:
    """A task the customer marks done on their page says "done by the customer", and joins the timeline."""
    oid = await board.start(pipeline="pakkepilot-no", language="nb")
    state = await board.state(oid)
    [task] = [t for t in state["tasks"] if t["title"].startswith("Volumestimat per uke")]
    token = await _token(board, database, oid)
    customer = await _customer_page(board, token)
    done = await board.api.http.post(f"/c/{token}/items/{task['id']}", data={"csrf": csrf_of(customer)})
    assert done.status_code == 303, done.text
    await board.until(oid, lambda s: any(t["id"] == task["id"] and t["status"] == "done" for t in s["tasks"]))
    page = await _page(staff, f"/board/onboardings/{oid}")
    done_tasks = re.search(r'<ul class="task-list done">.*?</ul>', page, re.S)
    assert done_tasks, "no done tasks listed"
    assert "done by the customer" in text_of(done_tasks.group(0))
    timeline = text_of(page.split('id="timeline-heading"', 1)[1])
    assert "marked done on the customer page Volumestimat per uke" in timeline
