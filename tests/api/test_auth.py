"""API keys: every endpoint except /healthz and the webhook needs ``Authorization: Bearer <key>``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Kickoff
from tests.conftest import API_KEY
from tests.support import days_ahead

UNKNOWN = "SE-C-does-not-exist"

# (method, path, json body) of every API-key protected route, with bodies that would otherwise be valid.
PROTECTED = [
    pytest.param("GET", "/onboardings", None, id="list-onboardings"),
    pytest.param("GET", f"/onboardings/{UNKNOWN}", None, id="get-onboarding"),
    pytest.param(
        "POST",
        f"/onboardings/{UNKNOWN}/meeting-booked",
        {"meeting_at": days_ahead(3, 10).isoformat()},
        id="meeting-booked",
    ),
    pytest.param("POST", f"/onboardings/{UNKNOWN}/calls", {"outcome": "answered"}, id="calls"),
    pytest.param("POST", f"/onboardings/{UNKNOWN}/park", {"reason": "semester"}, id="park"),
    pytest.param("POST", f"/onboardings/{UNKNOWN}/resume", None, id="resume"),
    pytest.param("POST", f"/onboardings/{UNKNOWN}/restart", {"reason": "no_show"}, id="restart"),
    pytest.param("GET", "/tasks", None, id="list-tasks"),
    pytest.param("POST", f"/tasks/{UNKNOWN}.1.1/done", None, id="task-done"),
]

# The three ways the issue names, tried on every protected route.
BAD_CREDENTIALS = [
    pytest.param({}, id="missing-header"),
    pytest.param({"Authorization": "Bearer not-a-key"}, id="wrong-key"),
    pytest.param({"Authorization": f"Basic {API_KEY}"}, id="wrong-scheme"),
]

# Near misses, tried on one route.
NEAR_MISSES = [
    pytest.param({"Authorization": f"Bearer {API_KEY}x"}, id="key-with-suffix"),
    pytest.param({"Authorization": f"Bearer {API_KEY[:-1]}"}, id="key-prefix"),
    pytest.param({"Authorization": "Bearer"}, id="scheme-without-key"),
    pytest.param({"Authorization": f"Token {API_KEY}"}, id="token-scheme"),
    pytest.param({"Authorization": API_KEY}, id="no-scheme"),
    pytest.param({"X-Api-Key": API_KEY}, id="other-header"),
]


async def _call(kickoff: Kickoff, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return await kickoff.http.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("headers", BAD_CREDENTIALS)
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
async def test_protected_route_without_valid_bearer_key_is_401(
    kickoff: Kickoff, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    """A protected route refuses a missing, unknown or non-Bearer key with 401 and a Bearer challenge."""
    response = await _call(kickoff, method, path, body, headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "API key" in response.json()["detail"]


@pytest.mark.parametrize("headers", NEAR_MISSES)
async def test_near_miss_credentials_are_401(kickoff: Kickoff, headers: dict[str, str]) -> None:
    """A key that is almost right, or sent the wrong way, is refused like a wrong one."""
    response = await kickoff.http.get("/tasks", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("key", [API_KEY, "second-key"])
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
async def test_protected_route_accepts_every_configured_key(
    kickoff: Kickoff, method: str, path: str, body: Any, key: str
) -> None:
    """Any key from settings.api_keys gets past authentication (to a 200 list or a 404 for an unknown id)."""
    response = await _call(kickoff, method, path, body, {"Authorization": f"Bearer {key}"})
    assert response.status_code in (200, 404), response.text
    if response.status_code == 404:
        assert UNKNOWN in response.json()["detail"]


async def test_authentication_is_checked_before_the_body(kickoff: Kickoff) -> None:
    """An unauthenticated request with an invalid body gets 401, not a 422 that would describe the API."""
    response = await kickoff.http.post(f"/onboardings/{UNKNOWN}/calls", json={"outcome": "maybe"})
    assert response.status_code == 401, response.text


async def test_unauthenticated_action_changes_nothing(kickoff: Kickoff) -> None:
    """A park request with a wrong key gets 401 and leaves the onboarding where it was."""
    oid = await kickoff.start()
    response = await kickoff.http.post(
        f"/onboardings/{oid}/park", json={"reason": "semester"}, headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401, response.text
    state = await kickoff.state(oid)
    assert state["stage"] == "onboarding"
    assert "park" not in [entry["event"] for entry in state["timeline"]]


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json"])
async def test_health_and_schema_need_no_key(kickoff: Kickoff, path: str) -> None:
    """/healthz and the OpenAPI schema answer without any Authorization header."""
    response = await kickoff.http.get(path)
    assert response.status_code == 200, response.text


async def test_contract_webhook_needs_a_signature_not_an_api_key(kickoff: Kickoff) -> None:
    """An API key is no substitute for the webhook signature on POST /contracts."""
    response = await kickoff.http.post(
        "/contracts", json={"contract_id": "C-x"}, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert response.status_code == 401, response.text
    assert "X-Kickoff-Signature" in response.json()["detail"]
