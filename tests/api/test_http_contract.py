"""The HTTP contract under hostile input (issue 12): body size, unreadable JSON, the 422 shape, what
OpenAPI documents, and bounds. Each test names what was measured before the fix."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from temporalio.client import Client

from kickoff.api import create_app
from kickoff.api.routes.contracts import CONTRACT_MAX_BYTES
from kickoff.api.schemas import MAX_LICENSES
from kickoff.mailcatcher import MailCatcher
from kickoff.signature import sign
from tests.api.conftest import MEETING, Kickoff
from tests.conftest import API_KEY, WEBHOOK_SECRET, api_settings, serve_app
from tests.support import contract_payload, days_ahead

MAX_BODY = 1024 * 1024
"""KICKOFF_MAX_BODY_BYTES' default."""
PUSHED = 64 * 1024 * 1024
"""How much an over-limit request offers to send."""
BOGUS = {"X-Kickoff-Signature": "t=1,v1=00", "Content-Type": "application/json"}
LATER = days_ahead(60, 10).date().isoformat()


def _signed(body: bytes) -> dict[str, str]:
    signature = sign(WEBHOOK_SECRET, body, int(time.time()))
    return {"Content-Type": "application/json", "X-Kickoff-Signature": signature}


def _padded(document: Any, size: int) -> bytes:
    """``document`` as JSON, padded with trailing spaces to exactly ``size`` bytes."""
    body = json.dumps(document).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


# ---------------------------------------------------------------- 1. the body limit


def _push(url: str, head: str, chunked: bool) -> tuple[int, bytes]:
    """Offer PUSHED bytes of body over a plain socket until the server stops taking them; how many
    it took, and its whole answer (a blocking socket still reads what came before a reset)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {PUSHED}"
    sock.sendall(f"{head}{framing}\r\n\r\n".encode())
    piece, sent = b" " * 65536, 0
    try:
        while sent < PUSHED:
            sock.sendall(b"10000\r\n" + piece + b"\r\n" if chunked else piece)
            sent += len(piece)
    except OSError:
        pass  # the server closed the connection: what it had not read was never read
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except OSError:
        pass
    sock.close()
    return sent, answer


KEYED = {"Idempotency-Key": "k-1"}
OVER_LIMIT = {
    "contract-length": ("POST /contracts", False, BOGUS, CONTRACT_MAX_BYTES),
    "contract-chunked": ("POST /contracts", True, BOGUS, CONTRACT_MAX_BYTES),
    "amend-length": ("PATCH /onboardings/{oid}", False, {}, MAX_BODY),
    # With an Idempotency-Key, whose middleware reads the whole body: the limit comes first.
    "keyed-event-chunked": ("POST /onboardings/{oid}/events/park", True, KEYED, MAX_BODY),
}


@pytest.mark.parametrize(("request_line", "chunked", "headers", "limit"), OVER_LIMIT.values(), ids=OVER_LIMIT)
async def test_a_body_over_the_limit_is_refused_before_anything_reads_it(
    kickoff: Kickoff, bystander: str, request_line: str, chunked: bool, headers: dict[str, str], limit: int
) -> None:
    """413 with a JSON reason, before the signature check (the signature here is bogus) and the
    Idempotency-Key middleware; the connection is closed, so of 64 MiB offered the server took
    at most a few MiB. Measured before: a Content-Length over the limit got a plain-text
    "Content Too Large", and the server kept reading: all 64 MiB went in (300 MB took 15 s)."""
    lines = {"Host": "kickoff.test", "Content-Type": "application/json", **kickoff.api.auth, **headers}
    head = f"{request_line.format(oid=bystander)} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in lines.items())

    sent, answer = await asyncio.to_thread(_push, str(kickoff.http.base_url), head, chunked)

    status_line, _, rest = answer.partition(b"\r\n")
    raw_headers, _, body = rest.partition(b"\r\n\r\n")
    assert status_line.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"content-type: application/json" in raw_headers.lower()
    assert b"connection: close" in raw_headers.lower()
    assert json.loads(body) == {"detail": f"the body is larger than the {limit} bytes this endpoint accepts"}
    assert sent < PUSHED // 2, f"the server read {sent} bytes of a refused body"


async def test_a_body_at_the_limit_is_read_and_checked(kickoff: Kickoff, bystander: str) -> None:
    """A contract of exactly 64 KiB is checked (a bogus signature 401, a good one 202) and one byte
    more is 413; a staff body of exactly 1 MiB reaches its route (409: onboarding has begun)."""
    contract = contract_payload()
    at_limit = _padded(contract, CONTRACT_MAX_BYTES)
    bogus = await kickoff.http.post("/contracts", content=at_limit, headers=BOGUS)
    assert bogus.status_code == 401, bogus.text
    accepted = await kickoff.http.post("/contracts", content=at_limit, headers=_signed(at_limit))
    assert accepted.status_code == 202, accepted.text
    kickoff.started.append(accepted.json()["id"])
    over = at_limit + b" "
    refused = await kickoff.http.post("/contracts", content=over, headers=_signed(over))
    assert refused.status_code == 413, refused.text

    amend = _padded({"delivery_start": LATER}, MAX_BODY)
    headers = {**kickoff.api.auth, "Content-Type": "application/json"}
    checked = await kickoff.http.patch(f"/onboardings/{bystander}", content=amend, headers=headers)
    assert checked.status_code == 409, checked.text
    assert "onboarding has begun" in checked.json()["detail"]
    too_large = await kickoff.http.patch(f"/onboardings/{bystander}", content=amend + b" ", headers=headers)
    assert too_large.status_code == 413, too_large.text


@pytest.fixture
async def small_limit(
    dev_server: Client, task_queue: str, tmp_path: Path, smtp: MailCatcher
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with KICKOFF_MAX_BODY_BYTES=4096 (no worker: nothing here starts a run)."""
    settings = api_settings(task_queue, tmp_path, smtp, max_body_bytes=4096)
    async with (
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield http


async def test_the_limit_is_kickoff_max_body_bytes_and_the_contract_limit_the_stricter(
    small_limit: httpx.AsyncClient,
) -> None:
    """With KICKOFF_MAX_BODY_BYTES below POST /contracts' own 64 KiB, it applies there too."""
    at_limit = _padded(contract_payload(), 4096)
    assert (await small_limit.post("/contracts", content=at_limit, headers=BOGUS)).status_code == 401
    refused = await small_limit.post("/contracts", content=at_limit + b" ", headers=BOGUS)
    assert refused.status_code == 413, refused.text
    assert refused.json() == {"detail": "the body is larger than the 4096 bytes this endpoint accepts"}
    auth = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    amend = await small_limit.patch("/onboardings/SE-C-x", content=_padded({}, 4097), headers=auth)
    assert amend.status_code == 413, amend.text


# ---------------------------------------------------------------- 2. a body that is not JSON

CONTRACT = json.dumps(contract_payload(contract_id="C-not-json")).replace(
    '"language": "sv"', '"language": @@"'
)
JSON_ROUTES = {
    "contract": ("POST", "/contracts", CONTRACT),
    "amend": ("PATCH", "/onboardings/{oid}", '{"delivery_start": @@"}'),
    "meeting-booked": (
        "POST",
        "/onboardings/{oid}/meeting-booked",
        f'{{"meeting_at": "{MEETING["meeting_at"]}", "booked_by": @@"}}',
    ),
    "calls": ("POST", "/onboardings/{oid}/calls", '{"outcome": "answered", "note": @@"}'),
    "park": ("POST", "/onboardings/{oid}/park", '{"reason": @@"}'),
    "restart": ("POST", "/onboardings/{oid}/restart", '{"reason": @@"}'),
    "kickoff-outcome": (
        "POST",
        "/onboardings/{oid}/kickoff-outcome",
        '{"outcome": "completed", "segment": "B", "owner": @@"}',
    ),
    "event": ("POST", "/onboardings/{oid}/events/park", '{"reason": @@"}'),
    "checklist": ("POST", "/onboardings/{oid}/checklist/any", '{"by": @@"}'),
}
"""Every route with a JSON body, as a body template whose ``@@`` is a string's opening quote."""
NOT_JSON = {
    "not-json": (lambda t: b"Yngvild, not JSON at all", "JSON"),
    "truncated": (lambda t: t.replace("@@", '"x').encode()[:-3], "JSON"),
    "not-utf8": (lambda t: t.replace("@@", '"Qvarnstr\xf6m').encode("latin-1"), "not UTF-8"),
    "nested-too-deeply": (lambda t: b"[" * 5000 + b"]" * 5000, "JSON"),
    "number-of-5000-digits": (lambda t: t.replace('@@"', "9" * 5000).encode(), ""),
    "lone-surrogate": (lambda t: t.replace("@@", '"\\ud800').encode(), "surrogate"),
    # The slot's member twice: `"reason": "ok", "reason": "ok"`.
    "key-twice": (lambda t: re.sub(r'"(\w+)": @@', r'"\1": "ok", "\1": "ok', t).encode(), "appears twice"),
}


@pytest.mark.parametrize(("method", "path", "template"), JSON_ROUTES.values(), ids=JSON_ROUTES)
@pytest.mark.parametrize(("make", "reason"), NOT_JSON.values(), ids=NOT_JSON)
async def test_a_body_that_is_not_json_is_422_in_fastapis_shape(
    kickoff: Kickoff, bystander: str, method: str, path: str, template: str, make: Any, reason: str
) -> None:
    """422 with ``detail: [{type, loc, msg}]`` naming the problem, on every JSON route, the signed
    contract included. Measured before: a lone surrogate (``"\\ud800"``, JSON that no UTF-8 can
    carry) in an event's payload was a 500 (Temporal's converter could not encode it), and a
    member twice was read with the last value winning (202 for the contract, a booking, an outcome)."""
    body: bytes = make(template)
    if path == "/contracts":
        headers = _signed(body)
    else:
        headers = {**kickoff.api.auth, "Content-Type": "application/json"}
    response = await kickoff.http.request(method, path.format(oid=bystander), content=body, headers=headers)

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    assert detail
    for error in detail:
        assert isinstance(error["type"], str)
        assert isinstance(error["loc"], list)
        assert isinstance(error["msg"], str)
    assert reason in " ".join(error["msg"] for error in detail)


# ---------------------------------------------------------------- 3. every 422 is a list

IN_1482 = {"meeting_at": "1482-06-01T10:00:00+01:00"}
PARKED_UNTIL_2001 = {"reason": "Semester", "until": "2001-01-01"}
REFUSALS = {
    "unknown-stage": ("GET", "/onboardings?stage=null", None, "unknown stage 'null'"),
    "meeting-in-1482": ("POST", "/onboardings/{oid}/meeting-booked", IN_1482, "outside 2000–2099"),
    "event-meeting-in-1482": (
        "POST",
        "/onboardings/{oid}/events/meeting_booked",
        IN_1482,
        "outside 2000–2099",
    ),
    "park-until-passed": (
        "POST",
        "/onboardings/{oid}/park",
        PARKED_UNTIL_2001,
        "until 2001-01-01 is too early",
    ),
    "event-payload-missing": ("POST", "/onboardings/{oid}/events/park", {}, "reason: required"),
    "bad-cursor": ("GET", "/tasks?after=nonsense", None, "after is not a cursor"),
    "unknown-pipeline": ("GET", "/reports/funnel?pipeline=nope", None, "unknown pipeline 'nope'"),
}


@pytest.mark.parametrize(("method", "path", "body", "reason"), REFUSALS.values(), ids=REFUSALS)
async def test_every_422_has_a_detail_list_with_the_reason(
    kickoff: Kickoff, bystander: str, method: str, path: str, body: Any, reason: str
) -> None:
    """The service's refusals too: one ``value_error`` whose ``msg`` is the reason. Measured before:
    ``{"detail": "unknown stage 'null' (stages: …)"}``, a string where the schema says a list."""
    url = path.format(oid=bystander)
    response = await kickoff.http.request(method, url, json=body, headers=kickoff.api.auth)

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list)
    assert any(reason in error["msg"] and isinstance(error["loc"], list) for error in detail), detail


# ---------------------------------------------------------------- 4. what OpenAPI documents


MEASURED_WITHOUT_401 = (
    "GET /pipelines",
    "GET /pipelines/{pipeline_id}",
    "GET /tasks",
    "POST /tasks/{task_id}/done",
)


async def test_every_operation_documents_its_errors_with_their_body(kickoff: Kickoff) -> None:
    """Every operation behind Bearer documents 401, 403 and 429 (with Retry-After); every error
    answer has a JSON body schema (ErrorMessage, or ValidationErrors for 422); an operation with a
    body documents 413. Measured before: no 401 on GET /pipelines, GET /pipelines/{id}, GET /tasks
    and POST /tasks/{id}/done, and error answers without a body schema."""
    schema = (await kickoff.http.get("/openapi.json")).json()
    operations = {f"{m.upper()} {p}": op for p, ops in schema["paths"].items() for m, op in ops.items()}
    for label in MEASURED_WITHOUT_401:
        assert "401" in operations[label]["responses"], label
    for label, operation in operations.items():
        responses = operation["responses"]
        if operation.get("security"):
            assert {"401", "403", "429"} <= set(responses), label
            assert "Retry-After" in responses["429"]["headers"], label
        if "requestBody" in operation:
            assert "413" in responses, label
        for status, answer in responses.items():
            if status.startswith(("4", "5")) and label != "GET /healthz":
                expected = "ValidationErrors" if status == "422" else "ErrorMessage"
                if status == "410":
                    expected = "PersonalDataErased"
                documented = answer["content"]["application/json"]["schema"]
                assert documented == {"$ref": f"#/components/schemas/{expected}"}, (label, status)


async def test_options_and_405_name_every_method_of_the_path(kickoff: Kickoff, bystander: str) -> None:
    """OPTIONS answers 204 with every method of the path in Allow, and a 405 lists them too.
    Measured before: ``OPTIONS /onboardings/{id}`` was a 405 with ``Allow: GET`` (no PATCH)."""
    options = await kickoff.http.options(f"/onboardings/{bystander}")
    assert options.status_code == 204, options.text
    assert options.headers["allow"] == "GET, OPTIONS, PATCH"
    put = await kickoff.http.put(f"/onboardings/{bystander}", headers=kickoff.api.auth)
    assert put.status_code == 405, put.text
    assert put.headers["allow"] == "GET, OPTIONS, PATCH"
    delete = await kickoff.http.delete("/pipelines", headers=kickoff.api.auth)
    assert delete.status_code == 405, delete.text
    assert delete.headers["allow"] == "GET, OPTIONS"
    assert (await kickoff.http.options("/no-such-path")).status_code == 404


# ---------------------------------------------------------------- 5. bounds and an ambiguous body


async def test_licenses_are_bounded(kickoff: Kickoff) -> None:
    """``licenses`` above 100,000 is 422 naming the bound; 100,000 is accepted. Measured before:
    ``licenses: 10**30`` started a run."""
    refused = await kickoff.submit(contract_payload(licenses=10**30))
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert (error["type"], error["loc"]) == ("less_than_equal", ["licenses"])
    assert error["ctx"] == {"le": MAX_LICENSES}
    accepted = await kickoff.submit(contract_payload(licenses=MAX_LICENSES))
    assert accepted.status_code == 202, accepted.text


async def test_a_signed_contract_with_a_key_twice_is_422_and_starts_nothing(kickoff: Kickoff) -> None:
    """Signed correctly, but ``licenses`` twice: 422 saying so, and no run. Measured before: 202,
    a run with the last value (5000 licences where the signer's reader may have seen 5)."""
    payload = contract_payload(licenses=5)
    body = json.dumps(payload).replace('"licenses": 5', '"licenses": 5, "licenses": 5000').encode()
    response = await kickoff.http.post("/contracts", content=body, headers=_signed(body))

    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [
        {"type": "json_invalid", "loc": [], "msg": "Invalid JSON: 'licenses' appears twice in one object"}
    ]
    missing = await kickoff.get(f"/onboardings/SE-{payload['contract_id']}")
    assert missing.status_code == 404, missing.text


async def test_an_event_number_beyond_two_to_the_53_is_422(kickoff: Kickoff, bystander: str) -> None:
    """An event's payload numbers stay within ±(2**53 - 1), what every JSON reader reads exactly."""
    body = {"title": "Stor affär", "value": 10**30}
    response = await kickoff.post(f"/onboardings/{bystander}/events/opportunity_logged", body)
    assert response.status_code == 422, response.text
    assert {"less_than_equal"} <= {error["type"] for error in response.json()["detail"]}


# ---------------------------------------------------------------- found by tests/api/test_schemathesis.py


async def test_an_unknown_query_parameter_is_422(kickoff: Kickoff) -> None:
    """A typo in a query parameter is refused instead of ignored. Found by Schemathesis:
    ``GET /onboardings?stag=new`` listed every onboarding, as if no stage had been asked for."""
    response = await kickoff.get("/onboardings", stag="new")
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [
        {"type": "extra_forbidden", "loc": ["query", "stag"], "msg": "Extra inputs are not permitted"}
    ]
