"""Accounts on the board, over real HTTP: what each role may do, "My tasks", assigning a task,
the advisor chosen from staff accounts, and the person named on the timeline and in the audit log."""

from __future__ import annotations

import re

import httpx

from kickoff.db import Database
from kickoff.identity import AccountStore
from kickoff.identity.audit import AuditLog
from tests.accounts import ADMIN, ADVISOR, PASSWORD, STAFF, VIEWER
from tests.board.support import BoardServer, alert, csrf_token, signed_in_client, text_of


async def _first_open_task(board: BoardServer, oid: str) -> str:
    state = await board.state(oid)
    return next(t["id"] for t in state["tasks"] if t["done_at"] is None)


async def test_a_viewer_sees_the_board_but_every_action_is_refused_with_403(board: BoardServer) -> None:
    oid = await board.start()
    async with signed_in_client(board.base_url, VIEWER) as viewer:
        page = await viewer.get(f"/board/onboardings/{oid}")
        assert page.status_code == 200
        refused = await viewer.post(
            f"/board/onboardings/{oid}/events/call_logged",
            data={"csrf_token": csrf_token(page.text), "p.outcome": "answered"},
        )
        assert refused.status_code == 403
        assert "needs the staff role; your account is viewer" in (alert(refused.text) or "")
    state = await board.state(oid)
    assert "call_logged" not in [e["event"] for e in state["timeline"]]


async def test_only_an_admin_may_erase_personal_data_on_the_board(board: BoardServer) -> None:
    oid = await board.start()
    async with signed_in_client(board.base_url, STAFF) as staff:
        page = await staff.get(f"/board/onboardings/{oid}")
        refused = await staff.post(
            f"/board/onboardings/{oid}/personal-data/erase",
            data={"csrf_token": csrf_token(page.text), "confirm": "ERASE", "reason": "request"},
        )
        assert refused.status_code == 403
        assert "needs the admin role" in (alert(refused.text) or "")
    assert (await board.state(oid))["customer"]["name"]


async def test_a_staff_action_names_its_person_on_the_timeline_and_in_the_audit_log(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    oid = await board.start()
    page = await staff.get(f"/board/onboardings/{oid}")
    done = await staff.post(
        f"/board/onboardings/{oid}/events/call_logged",
        data={"csrf_token": csrf_token(page.text), "p.outcome": "answered"},
    )
    assert done.status_code == 303, done.text
    state = await board.until(oid, lambda s: any(e["event"] == "call_logged" for e in s["timeline"]))
    assert [e["by"] for e in state["timeline"] if e["event"] == "call_logged"] == [STAFF.email]
    shown = text_of((await staff.get(f"/board/onboardings/{oid}")).text)
    assert f"by {STAFF.email}" in shown
    database = Database(board.api.settings.database_url)
    try:
        entries = await AuditLog(database).entries(onboarding_id=oid)
    finally:
        await database.dispose()
    assert [(e.actor, e.action, e.detail) for e in entries] == [
        (STAFF.email, "event", {"event": "call_logged"})
    ]


async def test_a_task_assigned_on_the_board_is_in_that_person_s_my_tasks(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    oid = await board.start()
    task = await _first_open_task(board, oid)
    inbox = await staff.get("/board/tasks")
    assert "My tasks" in inbox.text
    options = re.findall(r'<option value="([0-9a-f]{32})"[^>]*>([^<]+)</option>', inbox.text)
    advisor_id = next(value for value, label in options if label == ADVISOR.name)
    assert VIEWER.name not in {label for _, label in options}  # a viewer takes no work
    given = await staff.post(
        f"/board/tasks/{task}/assign", data={"csrf_token": csrf_token(inbox.text), "user": advisor_id}
    )
    assert (given.status_code, given.headers["location"]) == (303, "/board/tasks")
    async with signed_in_client(board.base_url, ADVISOR) as advisor:
        mine = await advisor.get("/board/tasks", params={"mine": "true"})
        assert mine.status_code == 200
        assert f'data-task="{task}"' in mine.text
    mine_for_staff = await staff.get("/board/tasks", params={"mine": "true"})
    assert f'data-task="{task}"' not in mine_for_staff.text
    refused = await staff.post(
        f"/board/tasks/{task}/assign", data={"csrf_token": csrf_token(inbox.text), "user": "no-such-account"}
    )
    assert refused.status_code == 303
    follow = await staff.get(refused.headers["location"])
    assert "Not assigned" in text_of(follow.text)


async def test_a_personal_token_is_made_on_the_board_shown_once_and_revoked_there(board: BoardServer) -> None:
    async with signed_in_client(board.base_url, ADVISOR) as advisor:
        page = await advisor.get("/board/account")
        assert page.status_code == 200
        made = await advisor.post(
            "/board/account/tokens", data={"csrf_token": csrf_token(page.text), "name": "board test"}
        )
        assert made.status_code == 201
        [token] = re.findall(r"<code class=\"token\" data-token>(kt_[^<]+)</code>", made.text)
        bearer = {"Authorization": f"Bearer {token}"}
        me = await advisor.get("/me", headers=bearer)
        assert me.json()["email"] == ADVISOR.email
        again = await advisor.get("/board/account")
        assert token not in again.text  # shown once
        token_id = token.split("_")[1]
        revoked = await advisor.post(
            f"/board/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(again.text)}
        )
        assert revoked.status_code == 303
        assert (await advisor.get("/me", headers=bearer)).status_code == 401


async def test_an_admin_disables_an_account_on_the_board_and_its_session_ends_at_once(
    board: BoardServer,
) -> None:
    database = Database(board.api.settings.database_url)
    try:
        temp = await AccountStore(database).create(
            "temp.board@assist.example", "staff", "Tillfällig", PASSWORD
        )
    finally:
        await database.dispose()
    async with (
        signed_in_client(board.base_url, ADMIN) as admin,
        httpx.AsyncClient(base_url=board.base_url) as other,
    ):
        signed = await other.post(
            "/board/sign-in",
            data={
                "csrf_token": csrf_token((await other.get("/board/sign-in")).text),
                "email": temp.email,
                "password": PASSWORD,
            },
        )
        assert signed.status_code == 303
        assert (await other.get("/board")).status_code == 200
        page = await admin.get("/board/admin/accounts")
        assert page.status_code == 200
        assert f'data-account="{temp.email}"' in page.text
        disabled = await admin.post(
            f"/board/admin/accounts/{temp.id}", data={"csrf_token": csrf_token(page.text), "disabled": "true"}
        )
        assert disabled.status_code == 303
        assert (await other.get("/board")).status_code == 303  # signed out at once
        admin_id = _account_id(await admin.get("/board/admin/accounts"), ADMIN.email)
        myself = await admin.post(
            f"/board/admin/accounts/{admin_id}",
            data={"csrf_token": csrf_token(page.text), "disabled": "true"},
        )
        assert "cannot disable or demote yourself" in text_of(
            (await admin.get(myself.headers["location"])).text
        )
    async with signed_in_client(board.base_url, STAFF) as staff:
        assert (await staff.get("/board/admin/accounts")).status_code == 403


def _account_id(page: httpx.Response, email: str) -> str:
    row = re.search(
        rf'<tr data-account="{re.escape(email)}">.*?action="/board/admin/accounts/([0-9a-f]+)"',
        page.text,
        re.S,
    )
    assert row
    return row.group(1)
