"""After a full assist-se onboarding (contract, welcome mail, call, booking, outcome) on a dev
server keeping its SQLite file in the data folder, no personal value is in clear in any byte of
Temporal's database, Kickoff's database, the logs or the metrics (the mails themselves aside)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kickoff.api.app import create_app
from kickoff.converter import encrypted
from kickoff.crypto import DataKeys, MasterKeys
from kickoff.crypto.keys import new_key_text
from kickoff.devstack import DevServerPorts, dev_server_command, wait_for_port
from kickoff.mailcatcher import MailCatcher, free_port
from kickoff.temporal import connect_when_ready, ensure_search_attributes
from kickoff.worker import create_worker
from tests.api.conftest import PAST_DELIVERY, Kickoff, templates
from tests.conftest import Api, api_settings, serve_app
from tests.databases import migrated_sqlite
from tests.support import contract_payload

PERSONAL = {
    "customer": "Quorra Vexlund AB",
    "org number": "559911-2233",
    "main user": "Ysolde Brannigan",
    "e-mail": "ysolde.brannigan@quorra.example",
    "phone": "+46 70 999 88 77",
    "advisor": "Torvald Nyqvist",
}


@dataclass
class Stack:
    kickoff: Kickoff
    data: Path


@pytest.fixture
async def stack_on_files(smtp: MailCatcher, tmp_path: Path) -> AsyncIterator[Stack]:
    """A dev server with its database file, and the API and a worker on Kickoff's database in
    the same data folder, as `make run` lays them out."""
    data = tmp_path / "data"
    data.mkdir()
    ports = DevServerPorts(frontend=free_port(), ui=free_port(), http=free_port(), metrics=free_port())
    server = subprocess.Popen(  # noqa: ASYNC220 -- returns at once; the server runs for the test
        dev_server_command(ports, data / "temporal.sqlite", headless=True),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", ports.frontend, 60, server)
        database = migrated_sqlite(data / "kickoff.sqlite3")
        keys = DataKeys(database, MasterKeys.parse(new_key_text("k1")))
        client = await connect_when_ready(f"127.0.0.1:{ports.frontend}", data_converter=encrypted(keys))
        await ensure_search_attributes(client)
        settings = api_settings(
            f"clear-{uuid.uuid4().hex}", tmp_path, smtp, database_url=str(database.url), data_dir=data
        )
        async with (
            create_worker(client, settings, database),
            serve_app(create_app(client=client, settings=settings)) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            yield Stack(Kickoff(Api(http=http, settings=settings, client=client), smtp), data)
        await database.dispose()
    finally:
        server.terminate()
        server.wait(timeout=20)


async def test_no_personal_value_is_in_clear_anywhere_after_a_full_onboarding(
    stack_on_files: Stack, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    kickoff = stack_on_files.kickoff
    contract = contract_payload(
        delivery_start=PAST_DELIVERY,
        customer={"name": PERSONAL["customer"], "org_number": PERSONAL["org number"]},
        main_user={"name": PERSONAL["main user"], "email": PERSONAL["e-mail"], "phone": PERSONAL["phone"]},
    )
    response = await kickoff.submit(contract)
    assert response.status_code == 202, response.text
    oid = response.json()["id"]
    await kickoff.until(oid, lambda s: s["stage"] == "onboarding" and "welcome" in templates(s))
    assert (await kickoff.post(f"/onboardings/{oid}/calls", {"outcome": "no_answer"})).status_code == 202
    await kickoff.book(oid)
    state = await kickoff.record_completed(oid, owner=PERSONAL["advisor"])
    assert state["kickoff_outcome"]["owner"] == PERSONAL["advisor"]  # staff still read it all
    assert kickoff.mails(oid, "welcome")
    metrics = (await kickoff.get("/metrics")).text
    tasks = (await kickoff.get("/tasks", limit=1000)).text
    assert PERSONAL["customer"] not in tasks  # the API's task list carries no customer name

    captured = capfd.readouterr()
    places = {
        "logs": (captured.out + captured.err + caplog.text).encode(),
        "metrics": metrics.encode(),
    }
    for path in stack_on_files.data.rglob("*"):
        if path.is_file() and "mail" not in path.relative_to(stack_on_files.data).parts:
            places[str(path.relative_to(stack_on_files.data))] = path.read_bytes()
    assert any(name.startswith("temporal.sqlite") for name in places)
    assert any(name.startswith("kickoff.sqlite3") for name in places)
    # A positive control: what is not personal (the onboarding id, the stage) is there in clear.
    temporal = b"".join(content for name, content in places.items() if name.startswith("temporal.sqlite"))
    assert oid.encode() in temporal
    assert b"closed" in temporal
    found = [
        (what, where)
        for what, value in PERSONAL.items()
        for where, content in places.items()
        if value.encode() in content
    ]
    assert found == []


async def test_after_erasure_nothing_that_was_readable_is_readable_anywhere(
    stack_on_files: Stack, capfd: pytest.CaptureFixture[str]
) -> None:
    """Readable to staff before (the API, the codec server); after erasure none of it is, in any
    answer, while the files still hold nothing in clear."""
    kickoff = stack_on_files.kickoff
    contract = contract_payload(
        delivery_start=PAST_DELIVERY,
        customer={"name": PERSONAL["customer"], "org_number": PERSONAL["org number"]},
        main_user={"name": PERSONAL["main user"], "email": PERSONAL["e-mail"], "phone": PERSONAL["phone"]},
    )
    response = await kickoff.submit(contract)
    oid = response.json()["id"]
    await kickoff.until(oid, lambda s: s["stage"] == "onboarding" and "welcome" in templates(s))
    history = await kickoff.api.client.get_workflow_handle(oid).fetch_history()
    started = json.loads(history.to_json())["events"][0]["workflowExecutionStartedEventAttributes"]
    codec_body = json.dumps({"payloads": started["input"]["payloads"]})
    headers = {**kickoff.api.auth, "Content-Type": "application/json"}

    async def answers() -> str:
        found = [
            (await kickoff.get(f"/onboardings/{oid}")).text,
            (await kickoff.get(f"/onboardings/{oid}/personal-data")).text,
            (await kickoff.http.post("/codec/decode", content=codec_body, headers=headers)).text,
            (await kickoff.get("/tasks", limit=1000)).text,
        ]
        return "\n".join(found)

    before = await answers()
    assert PERSONAL["main user"] in before  # staff could read it
    erased = await kickoff.http.delete(f"/onboardings/{oid}/personal-data", headers=kickoff.api.auth)
    assert erased.status_code == 202, erased.text
    after = await answers()
    assert [what for what, value in PERSONAL.items() if value in after] == []
    files = b"".join(
        path.read_bytes()
        for path in stack_on_files.data.rglob("*")
        if path.is_file() and "mail" not in path.relative_to(stack_on_files.data).parts
    )
    assert [what for what, value in PERSONAL.items() if value.encode() in files] == []
    capfd.readouterr()
