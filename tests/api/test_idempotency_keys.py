"""Idempotency-Key over real HTTP (issue 12): one request per key and caller, remembered in Kickoff's
database across runs, restarts and API processes; another request with the key is 422."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Response
from sqlalchemy import func, select
from temporalio.client import Client

from kickoff.api import create_app
from kickoff.api import idempotency as middleware
from kickoff.db import Database, migrate
from kickoff.db.schema import idempotency_keys
from kickoff.mailcatcher import MailCatcher
from kickoff.service import runs as service_runs
from kickoff.signature import sign
from kickoff.worker import create_worker
from tests.api.conftest import MEETING, PAST_DELIVERY, Kickoff, comparable, events
from tests.api.erasure_support import PERSONAL_FIELDS, body_text, erase, personal_values_in
from tests.conftest import API_KEY, WEBHOOK_SECRET, Api, api_settings, serve_app
from tests.databases import PostgresServer
from tests.support import contract_payload, days_ahead, eventually

ANSWERED = {"outcome": "answered", "note": "bokar möte"}
REPLAYED = "Idempotent-Replayed"


def _key() -> str:
    return f"k-{uuid.uuid4().hex}"


async def _keyed(api: Api, path: str, body: Any, key: str, method: str = "POST") -> httpx.Response:
    return await api.http.request(method, path, json=body, headers={**api.auth, "Idempotency-Key": key})


def _problem(response: httpx.Response) -> dict[str, Any]:
    """The one error of a 422 this middleware gave, with the header as its location."""
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["header", "idempotency-key"]
    found: dict[str, Any] = problem
    return found


async def _count(database: Database, *where: Any) -> int:
    query = select(func.count()).select_from(idempotency_keys).where(*where)
    async with database.engine.connect() as db:
        return int((await db.execute(query)).scalar_one())


async def test_a_key_reused_for_another_event_is_422_and_that_event_is_not_applied(kickoff: Kickoff) -> None:
    """call_logged with k-1, then meeting_booked with k-1 (generic route and shorthand): 422 naming
    the key's other request; the run stays in onboarding with the call logged once, no booking."""
    oid = await kickoff.start()
    key = _key()
    logged = await _keyed(kickoff.api, f"/onboardings/{oid}/events/call_logged", ANSWERED, key)
    assert logged.status_code == 202, logged.text
    before = await kickoff.state(oid)

    for path in (f"/onboardings/{oid}/events/meeting_booked", f"/onboardings/{oid}/meeting-booked"):
        problem = _problem(await _keyed(kickoff.api, path, MEETING, key))
        assert problem["type"] == "idempotency_key_reused"
        assert "was used for another request" in problem["msg"]

    after = await kickoff.state(oid)
    assert comparable(after) == comparable(before)
    assert after["stage"] == "onboarding"
    assert events(after).count("call_logged") == 1
    assert "meeting_booked" not in events(after)
    booked = await _keyed(kickoff.api, f"/onboardings/{oid}/meeting-booked", MEETING, _key())
    assert (booked.status_code, booked.json()["stage"]) == (202, "closed"), booked.text


@pytest.mark.parametrize(
    ("action", "body", "entry"),
    [
        ("calls", ANSWERED, "call_logged"),
        ("park", {"reason": "semester"}, "park"),
        ("events/call_logged", ANSWERED, "call_logged"),
    ],
    ids=["calls-shorthand", "park-shorthand", "generic-event"],
)
async def test_the_same_request_again_gets_the_first_answer_and_is_applied_once(
    kickoff: Kickoff, action: str, body: dict[str, Any], entry: str
) -> None:
    """A retry with the key gets the first 202 byte for byte, its content type and
    ``Idempotent-Replayed: true``; the run applied the action once (shorthands included)."""
    oid = await kickoff.start()
    path, key = f"/onboardings/{oid}/{action}", _key()

    first = await _keyed(kickoff.api, path, body, key)
    again = await _keyed(kickoff.api, path, body, key)

    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.content == first.content
    assert (REPLAYED in first.headers, again.headers.get(REPLAYED)) == (False, "true")
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert events(await kickoff.state(oid)).count(entry) == 1


async def test_keys_outlive_the_run_a_restart_replaces(kickoff: Kickoff) -> None:
    """A keyed restart retried is answered cycle 2 again (no cycle 3); in the new run the first run's
    call_logged key still replays its answer and still refuses another request, applying nothing."""
    oid = await kickoff.start()
    call_key, restart_key = _key(), _key()
    logged = await _keyed(kickoff.api, f"/onboardings/{oid}/events/call_logged", ANSWERED, call_key)
    assert logged.status_code == 202, logged.text

    restarts = [
        await _keyed(kickoff.api, f"/onboardings/{oid}/restart", {"reason": "rescheduled"}, restart_key)
        for _ in range(2)
    ]
    assert [(r.status_code, r.json()["cycle"]) for r in restarts] == [(202, 2), (202, 2)], restarts[1].text
    assert restarts[1].headers[REPLAYED] == "true"
    await kickoff.until(oid, lambda s: s["cycle"] == 2)

    replay = await _keyed(kickoff.api, f"/onboardings/{oid}/events/call_logged", ANSWERED, call_key)
    assert (replay.status_code, replay.content) == (202, logged.content), replay.text
    assert replay.headers[REPLAYED] == "true"
    _problem(await _keyed(kickoff.api, f"/onboardings/{oid}/meeting-booked", MEETING, call_key))
    state = await kickoff.state(oid)
    assert (state["cycle"], state["stage"]) == (2, "onboarding")
    assert "call_logged" not in events(state)
    assert [c["cycle"] for c in state["previous_cycles"]] == [1]


async def test_another_api_process_on_the_same_database_answers_the_retry(
    kickoff: Kickoff, dev_server: Client
) -> None:
    """An API started anew (a second app on the same database) replays the first answer and refuses
    another request with the key: nothing is applied twice."""
    oid = await kickoff.start()
    path, key = f"/onboardings/{oid}/calls", _key()
    first = await _keyed(kickoff.api, path, ANSWERED, key)
    assert first.status_code == 202, first.text

    async with (
        serve_app(create_app(client=dev_server, settings=kickoff.api.settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        restarted = Api(http=http, settings=kickoff.api.settings, client=dev_server)
        replay = await _keyed(restarted, path, ANSWERED, key)
        other = await _keyed(restarted, path, {"outcome": "no_answer"}, key)

    assert (replay.status_code, replay.content, replay.headers[REPLAYED]) == (202, first.content, "true")
    assert _problem(other)["type"] == "idempotency_key_reused"
    assert events(await kickoff.state(oid)).count("call_logged") == 1


@pytest.fixture
async def replicas(
    dev_server: Client, smtp: MailCatcher, tmp_path: Path, postgres: PostgresServer
) -> AsyncIterator[tuple[Kickoff, Api]]:
    """Two API processes and a worker on one PostgreSQL database, as in production."""
    with postgres.new_database() as url:
        database = Database(url)
        await migrate(database)
        settings = api_settings(f"replicas-{uuid.uuid4().hex}", tmp_path, smtp, database_url=url)
        async with (
            create_worker(dev_server, settings, database),
            serve_app(create_app(client=dev_server, settings=settings)) as first_url,
            serve_app(create_app(client=dev_server, settings=settings)) as second_url,
            httpx.AsyncClient(base_url=first_url, timeout=30) as first,
            httpx.AsyncClient(base_url=second_url, timeout=30) as second,
        ):
            helper = Kickoff(Api(http=first, settings=settings, client=dev_server), smtp)
            try:
                yield helper, Api(http=second, settings=settings, client=dev_server)
            finally:
                await helper.terminate_started()
        await database.dispose()


async def test_concurrent_retries_on_two_replicas_run_the_request_once(replicas: tuple[Kickoff, Api]) -> None:
    """Four identical keyed requests at once, two to each replica on PostgreSQL: one runs, the others
    get its answer replayed (or 409 while it runs); one call is logged; the key refuses a booking."""
    kickoff, other = replicas
    oid = await kickoff.start()
    path, key = f"/onboardings/{oid}/calls", _key()

    responses = await asyncio.gather(
        *(_keyed(api, path, ANSWERED, key) for api in (kickoff.api, other, kickoff.api, other))
    )

    assert {r.status_code for r in responses} <= {202, 409}, [r.text for r in responses]
    ran = [r for r in responses if r.status_code == 202 and REPLAYED not in r.headers]
    assert len(ran) == 1
    assert all(r.content == ran[0].content for r in responses if r.status_code == 202)
    assert events(await kickoff.state(oid)).count("call_logged") == 1
    _problem(await _keyed(other, f"/onboardings/{oid}/meeting-booked", MEETING, key))


async def test_a_retry_while_the_first_runs_is_409_and_a_503_releases_the_key(
    dev_server: Client, smtp: MailCatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no worker, a keyed call_logged is in flight until it ends in 503: a retry meanwhile gets
    409 with Retry-After, another request 422. The 503 is not remembered: once a worker runs, the
    retry is applied (not replayed), and the run logs the call once."""
    monkeypatch.setattr(middleware, "IN_FLIGHT_WAIT", 0.2)
    settings = api_settings(f"late-worker-{uuid.uuid4().hex}", tmp_path, smtp)
    database = Database(settings.database_url)
    async with (
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        kickoff = Kickoff(Api(http=http, settings=settings, client=dev_server), smtp)
        try:
            created = await kickoff.submit(contract_payload(delivery_start=PAST_DELIVERY))
            assert created.status_code == 202, created.text
            oid = created.json()["id"]
            path, key = f"/onboardings/{oid}/events/call_logged", _key()
            with monkeypatch.context() as patch:
                patch.setattr(service_runs, "UPDATE_TIMEOUT", timedelta(seconds=3))
                first = asyncio.create_task(_keyed(kickoff.api, path, ANSWERED, key))
                in_flight = idempotency_keys.c.status_code.is_(None)
                await eventually(lambda: _count(database, in_flight), lambda n: n == 1, within=5)
                busy = await _keyed(kickoff.api, path, ANSWERED, key)
                other = await _keyed(kickoff.api, path, {"outcome": "no_answer"}, key)
                failed = await first

            assert busy.status_code == 409, busy.text
            assert busy.headers["Retry-After"] == "1"
            assert "still being answered" in busy.json()["detail"]
            assert _problem(other)["type"] == "idempotency_key_reused"
            assert failed.status_code == 503, failed.text
            assert "not confirmed" in failed.json()["detail"]
            assert await _count(database) == 0

            async with create_worker(dev_server, settings):
                await kickoff.until(oid, lambda s: s["stage"] == "onboarding")
                retried = await _keyed(kickoff.api, path, ANSWERED, key)
                assert retried.status_code == 202, retried.text
                assert REPLAYED not in retried.headers
                assert events(await kickoff.state(oid)).count("call_logged") == 1
        finally:
            await kickoff.terminate_started()
            await database.dispose()


async def test_a_bad_signature_does_not_use_up_a_contracts_key(kickoff: Kickoff) -> None:
    """POST /contracts with a key and a forged signature is 401 and remembers nothing: the same body
    signed properly with the key starts the run (202), and its retry replays that 202 (a resent
    contract without a key would be 200)."""
    body, key = json.dumps(contract_payload(delivery_start=PAST_DELIVERY)).encode(), _key()

    async def post(secret: str) -> httpx.Response:
        signature = sign(secret, body, int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Kickoff-Signature": signature,
            "Idempotency-Key": key,
        }
        return await kickoff.http.post("/contracts", content=body, headers=headers)

    forged = await post("not-the-webhook-secret")
    accepted = await post(WEBHOOK_SECRET)
    assert (forged.status_code, accepted.status_code) == (401, 202), accepted.text
    kickoff.started.append(accepted.json()["id"])
    again = await post(WEBHOOK_SECRET)
    assert (again.status_code, again.content, again.headers[REPLAYED]) == (202, accepted.content, "true")


async def test_a_refused_request_does_not_use_up_its_key(kickoff: Kickoff) -> None:
    """A 422 (a payload the route refuses) changes nothing and is not remembered: the corrected
    request with the same key is applied once and then replayed."""
    oid = await kickoff.start()
    path, key = f"/onboardings/{oid}/calls", _key()
    refused = await _keyed(kickoff.api, path, {"outcome": "maybe"}, key)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "outcome"]
    applied, again = [await _keyed(kickoff.api, path, ANSWERED, key) for _ in range(2)]
    assert (applied.status_code, REPLAYED in applied.headers) == (202, False), applied.text
    assert again.headers[REPLAYED] == "true"
    assert events(await kickoff.state(oid)).count("call_logged") == 1


async def test_an_exception_or_a_no_store_answer_is_not_remembered(
    dev_server: Client, smtp: MailCatcher, tmp_path: Path
) -> None:
    """A route that raises (500) keeps no key: the retry runs it again and that answer is replayed.
    An answer marked ``Cache-Control: no-store`` (a secret shown once) is never stored: each retry
    runs the route again."""
    app = create_app(client=dev_server, settings=api_settings(f"own-{uuid.uuid4().hex}", tmp_path, smtp))
    calls = {"flaky": 0, "secret": 0}

    async def flaky() -> dict[str, int]:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise RuntimeError("the first attempt fails")
        return {"attempt": calls["flaky"]}

    async def secret(response: Response) -> dict[str, int]:
        calls["secret"] += 1
        response.headers["Cache-Control"] = "no-store"
        return {"shown_once": calls["secret"]}

    app.add_api_route("/flaky", flaky, methods=["POST"])
    app.add_api_route("/secret", secret, methods=["POST"])
    async with serve_app(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        flaky_key, secret_key = {"Idempotency-Key": _key()}, {"Idempotency-Key": _key()}
        flakes = [await http.post("/flaky", json={}, headers=flaky_key) for _ in range(3)]
        secrets = [await http.post("/secret", json={}, headers=secret_key) for _ in range(2)]

    assert [r.status_code for r in flakes] == [500, 200, 200]
    assert (flakes[1].json(), flakes[2].content, flakes[2].headers[REPLAYED]) == (
        {"attempt": 2},
        flakes[1].content,
        "true",
    )
    assert [(r.status_code, r.json(), REPLAYED in r.headers) for r in secrets] == [
        (200, {"shown_once": 1}, False),
        (200, {"shown_once": 2}, False),
    ]
    assert calls == {"flaky": 2, "secret": 2}


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([b""], "String should have at least 1 character"),
        ([b"k" * 201], "String should have at most 200 characters"),
        ([b"tab\there"], "a key is printable ASCII"),
        (["nyckel-åäö".encode()], "a key is printable ASCII"),
        ([b"first-key", b"second-key"], "send one Idempotency-Key header"),
    ],
    ids=["empty", "201-characters", "control-character", "not-ascii", "two-headers"],
)
async def test_a_malformed_key_is_422_and_changes_nothing(
    kickoff: Kickoff, bystander: str, values: list[bytes], reason: str
) -> None:
    """A key that is empty, too long, not printable ASCII or sent twice is 422 with the reason,
    before anything is run; the value is not repeated."""
    before = await kickoff.state(bystander)
    headers = [(b"Authorization", f"Bearer {API_KEY}".encode()), *((b"Idempotency-Key", v) for v in values)]
    response = await kickoff.http.post(f"/onboardings/{bystander}/calls", json=ANSWERED, headers=headers)
    problem = _problem(response)
    assert problem["msg"].startswith(reason)
    assert all(v.decode("latin-1") not in response.text for v in values if v)
    assert comparable(await kickoff.state(bystander)) == comparable(before)


async def test_a_remembered_answer_is_sealed_and_unreadable_once_erased(kickoff: Kickoff) -> None:
    """PATCH's answer names the customer: stored sealed with the onboarding's data key (no name in
    clear), replayed as sent; after erasure the retry is not a replay and names nobody."""
    payload = contract_payload(delivery_start=days_ahead(60, 0).date().isoformat(), **PERSONAL_FIELDS)
    created = await kickoff.submit(payload)
    assert created.status_code == 202, created.text
    oid = created.json()["id"]
    await kickoff.until(oid, lambda s: s["stage"] == "new" and s["next_step_at"] is not None)
    amended, key = {"delivery_start": days_ahead(90, 0).date().isoformat()}, _key()

    first = await _keyed(kickoff.api, f"/onboardings/{oid}", amended, key, method="PATCH")
    assert first.status_code == 200, first.text
    assert personal_values_in(body_text(first))
    database = Database(kickoff.api.settings.database_url)
    try:
        async with database.engine.connect() as db:
            stored = (await db.execute(select(idempotency_keys.c.response_body))).scalars().all()
    finally:
        await database.dispose()
    assert stored
    assert all(personal_values_in(body.decode("utf-8", "replace")) == [] for body in stored)
    replay = await _keyed(kickoff.api, f"/onboardings/{oid}", amended, key, method="PATCH")
    assert (replay.status_code, replay.content, replay.headers[REPLAYED]) == (200, first.content, "true")

    assert (await erase(kickoff, oid)).status_code == 202
    after = await _keyed(kickoff.api, f"/onboardings/{oid}", amended, key, method="PATCH")
    assert REPLAYED not in after.headers
    assert after.status_code == 409, after.text
    assert personal_values_in(body_text(after)) == []


async def test_openapi_declares_the_header_on_every_state_changing_api_route(kickoff: Kickoff) -> None:
    """Every POST, PUT, PATCH and DELETE of the JSON API lists the optional Idempotency-Key header
    (once); reads and the codec server do not."""
    schema = (await kickoff.http.get("/openapi.json")).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
            named = [p for p in headers if p["name"].lower() == "idempotency-key"]
            expected = method.upper() in {"POST", "PUT", "PATCH", "DELETE"} and not path.startswith("/codec")
            assert len(named) == int(expected), (method, path)
            assert all(p.get("required", False) is False for p in named)
