"""The codec server the Temporal UI calls: plaintext only for staff (board session or API key),
CORS only for the configured UI origin, a note for erased payloads; and the run's own payloads
in Temporal are ciphertext that only the codec server turns back into values."""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from kickoff.crypto import EnvelopeCodec
from kickoff.mailcatcher import MailCatcher
from tests.api.conftest import Kickoff
from tests.board.support import served_board, signed_in_client

UI = "http://localhost:8233"


def _staff(kickoff: Kickoff) -> dict[str, str]:
    return {**kickoff.api.auth, "Content-Type": "application/json"}


def _body(payloads: list[dict[str, Any]]) -> str:
    return json.dumps({"payloads": payloads})


async def _input_payload(client: Client, oid: str) -> dict[str, Any]:
    """The run's input as Temporal holds it (protobuf JSON): what the UI sends to the codec."""
    history = await client.get_workflow_handle(oid).fetch_history()
    started = json.loads(history.to_json())["events"][0]["workflowExecutionStartedEventAttributes"]
    payload: dict[str, Any] = started["input"]["payloads"][0]
    return payload


async def test_temporal_holds_ciphertext_and_staff_get_it_decoded(kickoff: Kickoff) -> None:
    oid = await kickoff.start()
    payload = await _input_payload(kickoff.api.client, oid)
    assert b64decode(payload["metadata"]["encoding"]) == b"binary/encrypted"
    assert b64decode(payload["metadata"]["encryption-key-id"]) == f"onboarding/{oid}".encode()
    assert "Ängström".encode() not in b64decode(payload["data"])

    response = await kickoff.http.post("/codec/decode", content=_body([payload]), headers=_staff(kickoff))
    assert response.status_code == 200, response.text
    [decoded] = response.json()["payloads"]
    assert b64decode(decoded["metadata"]["encoding"]) == b"json/plain"
    assert json.loads(b64decode(decoded["data"]))["contract"]["main_user"]["name"] == "Örjan Ängström"


async def test_the_ui_with_the_boards_session_gets_plaintext_and_cors_headers(
    dev_server: Client, smtp: MailCatcher, tmp_path: Path
) -> None:
    """What the Temporal UI does with "include cross-origin credentials": a preflight, then the
    POST with the board's session cookie (on /board/codec, where the cookie reaches)."""
    async with served_board(dev_server, smtp, tmp_path, session_cookie_secure=False) as board:
        oid = await board.start()
        payload = await _input_payload(dev_server, oid)
        async with signed_in_client(board.base_url) as browser:
            preflight = await browser.options(
                "/board/codec/decode",
                headers={
                    "Origin": UI,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-namespace",
                },
            )
            decoded = await browser.post(
                "/board/codec/decode",
                content=_body([payload]),
                headers={"Origin": UI, "Content-Type": "application/json", "X-Namespace": "default"},
            )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == UI
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "x-namespace" in preflight.headers["access-control-allow-headers"].lower()
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == UI
    assert "Ängström" in b64decode(decoded.json()["payloads"][0]["data"]).decode()


@pytest.mark.parametrize("path", ["/codec/decode", "/board/codec/decode", "/codec/encode"])
async def test_without_a_session_or_key_the_codec_refuses_with_401(kickoff: Kickoff, path: str) -> None:
    oid = await kickoff.start()
    payload = await _input_payload(kickoff.api.client, oid)
    response = await kickoff.http.post(
        path, content=_body([payload]), headers={"Origin": UI, "Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert "sign in to the board" in response.json()["detail"]
    assert "Ängström" not in response.text
    # The UI can read the refusal (CORS headers on it), so it shows ciphertext, not a network error.
    assert response.headers["access-control-allow-origin"] == UI


@pytest.mark.parametrize("method", ["OPTIONS", "POST"])
async def test_an_origin_that_is_not_configured_is_refused(kickoff: Kickoff, method: str) -> None:
    response = await kickoff.http.request(
        method,
        "/codec/decode",
        content=_body([]),
        headers={
            **_staff(kickoff),
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
        },
    )
    assert response.status_code == 403
    assert "KICKOFF_CODEC_CORS_ORIGINS" in response.json()["detail"]
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("body", "says"),
    [(b"\xff\xfe", "protobuf JSON"), (b'{"payloads": "x"}', "protobuf JSON"), (b"[]", "protobuf JSON")],
    ids=["not-utf8", "wrong-shape", "not-an-object"],
)
async def test_a_bad_body_is_a_422_with_a_reason(kickoff: Kickoff, body: bytes, says: str) -> None:
    response = await kickoff.http.post("/codec/decode", content=body, headers=_staff(kickoff))
    assert response.status_code == 422
    assert says in response.json()["detail"]


async def test_encode_then_decode_round_trips_for_staff(kickoff: Kickoff) -> None:
    plain = {"metadata": {"encoding": b64encode(b"json/plain").decode()}, "data": b64encode(b'"hi"').decode()}
    headers = _staff(kickoff)
    encoded = await kickoff.http.post("/codec/encode", content=_body([plain]), headers=headers)
    assert encoded.status_code == 200
    [sealed] = encoded.json()["payloads"]
    assert b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
    decoded = await kickoff.http.post("/codec/decode", content=_body([sealed]), headers=headers)
    assert decoded.json()["payloads"] == [plain]


async def test_an_erased_onboardings_payload_decodes_to_a_note_saying_when(kickoff: Kickoff) -> None:
    oid = await kickoff.start()
    payload = await _input_payload(kickoff.api.client, oid)
    codec = kickoff.api.client.data_converter.payload_codec
    assert isinstance(codec, EnvelopeCodec)
    erased_at = await codec.keys.erase(oid)
    response = await kickoff.http.post("/codec/decode", content=_body([payload]), headers=_staff(kickoff))
    assert response.status_code == 200
    note = json.loads(b64decode(response.json()["payloads"][0]["data"]))
    assert note == {"erased": f"personal data erased at {erased_at.isoformat()}"}
    assert "Ängström" not in response.text
