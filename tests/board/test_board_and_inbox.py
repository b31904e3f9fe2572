"""The board view (columns, counts, cards, filters, charts) and the task inbox, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from kickoff.board import inbox
from kickoff.mailcatcher import MailCatcher
from kickoff.schedule import format_local
from kickoff.service import read_views
from tests.board.support import (
    FUTURE_DELIVERY,
    BoardServer,
    alert,
    column_cards,
    column_counts,
    csrf_token,
    served_board,
    signed_in_client,
    text_of,
)

ASSIST_STAGES = ["new", "onboarding", "follow_up", "manual_follow_up", "inactive", "closed"]


@pytest.fixture
async def empty_board(dev_server: Client, smtp: MailCatcher, tmp_path: Path) -> AsyncIterator[BoardServer]:
    """A board of its own (fresh task queue), so its counts are this test's onboardings only."""
    async with served_board(dev_server, smtp, tmp_path, session_cookie_secure=False) as server:
        yield server


async def test_columns_and_counts_for_started_onboardings(empty_board: BoardServer) -> None:
    """One column per stage with its count; cards show customer, days in stage, next step and tasks."""
    waiting = await empty_board.start(delivery_start=FUTURE_DELIVERY, customer={"name": "Väntande AB"})
    begun = await empty_board.start()
    async with signed_in_client(empty_board.base_url) as http:
        response = await http.get("/board", params={"pipeline": "assist-se"})
        assert response.status_code == 200
        page = response.text
        assert list(column_counts(page)) == ASSIST_STAGES
        assert column_counts(page) == {stage: int(stage in ("new", "onboarding")) for stage in ASSIST_STAGES}
        assert column_cards(page, "new") == [waiting]
        assert column_cards(page, "onboarding") == [begun]
        text = text_of(page)
        for label in ("Ny", "Onboarding – Pågår", "Må följas upp", "Manuell uppföljning", "Avslutad"):
            assert label in text
        assert "Väntande AB" in text
        next_at = datetime.fromisoformat((await empty_board.state(begun))["next_step_at"])
        card = (
            f"0 days in stage Next: day 3 call task {format_local(next_at, 'Europe/Stockholm')} 3 open tasks"
        )
        assert f"Åre Hälsa & Söner AB {begun} {card}" in text
        assert f'href="/board/onboardings/{begun}"' in page

        # The owner filter keeps onboardings with open tasks for that role (assist-se's are staff's).
        for_staff = await http.get("/board", params={"pipeline": "assist-se", "owner_role": "staff"})
        assert sum(column_counts(for_staff.text).values()) == 2
        for_lead = await http.get("/board", params={"pipeline": "assist-se", "owner_role": "onboarding_lead"})
        assert sum(column_counts(for_lead.text).values()) == 0

        # Another pipeline: its own stages, none of these onboardings.
        other = await http.get("/board", params={"pipeline": "pakkepilot-no"})
        assert sum(column_counts(other.text).values()) == 0
        assert "Oppstartsmøte" in text_of(other.text)


async def test_the_board_shows_both_report_charts(empty_board: BoardServer) -> None:
    """The funnel and time-in-stage charts are embedded as SVG (or say they are unavailable)."""
    await empty_board.start()
    async with signed_in_client(empty_board.base_url) as http:
        page = (await http.get("/board")).text
    for chart in ("funnel", "stage-times"):
        start = page.index(f'data-chart="{chart}"')
        figure = page[start : page.index("</figure>", start)]
        assert "<svg" in figure or "report unavailable" in figure.lower()


async def test_an_unknown_pipeline_is_a_404_page(staff: httpx.AsyncClient) -> None:
    """The page names the pipelines there are."""
    response = await staff.get("/board", params={"pipeline": "nope"})
    assert response.status_code == 404
    assert "no pipeline 'nope' (pipelines: assist-se, pakkepilot-no" in (alert(response.text) or "")


async def test_a_task_is_marked_done_from_the_inbox(board: BoardServer, staff: httpx.AsyncClient) -> None:
    """The inbox lists open tasks soonest due first; mark done closes one and it leaves the list."""
    oid = await board.start()
    inbox = await staff.get("/board/tasks")
    assert inbox.status_code == 200
    mine = [t for t in (await board.state(oid))["tasks"] if t["status"] == "open"]
    listed = [task_id for task_id in _task_ids(inbox.text) if task_id.startswith(f"{oid}.")]
    assert listed == [t["id"] for t in sorted(mine, key=lambda t: (t["due_at"], t["id"]))]
    first = listed[0]
    response = await staff.post(
        f"/board/tasks/{first}/done",
        data={"back": "inbox", "owner_role": "staff", "csrf_token": csrf_token(inbox.text)},
    )
    assert (response.status_code, response.headers["location"]) == (303, "/board/tasks?owner_role=staff")
    after = await staff.get(response.headers["location"])
    assert f"Task done ({oid})." in after.text
    assert first not in _task_ids(after.text)
    assert next(t for t in (await board.state(oid))["tasks"] if t["id"] == first)["status"] == "done"

    # Done already: the inbox says why, with 409.
    again = await staff.post(
        f"/board/tasks/{first}/done", data={"back": "inbox", "csrf_token": csrf_token(inbox.text)}
    )
    assert again.status_code == 409
    assert alert(again.text) == f"Not done: task {first} is already done"


async def test_the_inbox_filters_by_owner_role(board: BoardServer, staff: httpx.AsyncClient) -> None:
    """Only tasks of the chosen owner role are listed."""
    oid = await board.start()
    for_staff = await staff.get("/board/tasks", params={"owner_role": "staff"})
    assert any(task_id.startswith(f"{oid}.") for task_id in _task_ids(for_staff.text))
    for_lead = await staff.get("/board/tasks", params={"owner_role": "onboarding_lead"})
    assert not any(task_id.startswith(f"{oid}.") for task_id in _task_ids(for_lead.text))


async def test_overdue_tasks_are_highlighted(
    board: BoardServer, staff: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen three days later, every task due by then is marked overdue, in words and not only colour."""
    oid = await board.start()
    later = datetime.now(UTC) + timedelta(days=3)
    monkeypatch.setattr(inbox, "_now", lambda: later)
    page = (await staff.get("/board/tasks")).text
    rows = [row for row in page.split("<tr")[1:] if f'data-task="{oid}.' in row]
    assert rows
    assert all('class="overdue"' in row and "overdue</span>" in row for row in rows)
    assert "overdue" in text_of(page.split("<table")[0])  # the summary counts them


def _task_ids(page: str) -> list[str]:
    """The inbox's task ids, in the order listed."""
    return re.findall(r'<tr class="[^"]*" data-task="([^"]+)"', page)


async def test_the_board_says_it_may_be_stale_while_runs_cannot_write_their_state(
    empty_board: BoardServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs whose latest read-model write failed (Temporal counts them): the board says so,
    and says nothing when there are none."""
    async with signed_in_client(empty_board.base_url) as http:
        calm = await http.get("/board", params={"pipeline": "assist-se"})
        assert "May be stale" not in calm.text

        async def two_behind(service: object) -> int:
            return 2

        monkeypatch.setattr(read_views, "runs_behind", two_behind)
        stale = await http.get("/board", params={"pipeline": "assist-se"})
    assert stale.status_code == 200
    assert "May be stale: 2 run(s) could not save their latest state" in text_of(stale.text)
