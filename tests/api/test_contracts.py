"""POST /contracts: signature checks, validation, idempotency and conflicts over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, timedelta
from typing import Any

import pytest

from kickoff.signature import sign
from tests.api.conftest import PAST_DELIVERY, Kickoff, templates
from tests.conftest import WEBHOOK_SECRET
from tests.support import contract_payload, days_ahead


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


async def _post_raw(kickoff: Kickoff, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Kickoff-Signature"] = signature
    return await kickoff.http.post("/contracts", content=body, headers=headers)


async def _assert_not_started(kickoff: Kickoff, contract_id: str) -> None:
    response = await kickoff.get(f"/onboardings/SE-{contract_id}")
    assert response.status_code == 404, response.text


# ---------------------------------------------------------------- signatures


def _signature_cases() -> list[Any]:
    def now() -> int:
        return int(time.time())

    def valid(body: bytes, at: int) -> str:
        return sign(WEBHOOK_SECRET, body, at)

    mac = valid(b"x", 0).split("v1=", 1)[1]
    return [
        pytest.param(lambda body: None, "missing", id="missing-header"),
        pytest.param(lambda body: "", "missing", id="empty-header"),
        pytest.param(lambda body: "garbage", "no valid t=", id="malformed-no-fields"),
        pytest.param(lambda body: f"t=yesterday,v1={mac}", "no valid t=", id="malformed-timestamp"),
        pytest.param(lambda body: f"t={now()}", "no v1=", id="malformed-no-mac"),
        pytest.param(lambda body: sign("wrong-secret", body, now()), "does not match", id="wrong-secret"),
        pytest.param(
            lambda body: valid(body + b" ", now()),
            "does not match",
            id="signature-for-other-body",
        ),
        pytest.param(
            lambda body: valid(body, now()).replace(",v1=", ",v1=0"), "does not match", id="tampered-mac"
        ),
        pytest.param(lambda body: valid(body, now() - 301), "300 s", id="stale-301s-past"),
        pytest.param(lambda body: valid(body, now() - 3600), "300 s", id="stale-1h-past"),
        pytest.param(lambda body: valid(body, now() + 301), "300 s", id="301s-in-future"),
    ]


@pytest.mark.parametrize(("make_header", "reason"), _signature_cases())
async def test_contract_with_bad_signature_is_rejected_with_401_and_starts_nothing(
    kickoff: Kickoff, make_header: Any, reason: str
) -> None:
    """A missing, malformed, wrong or stale signature gets 401 with a reason and starts no run."""
    payload = contract_payload(delivery_start=PAST_DELIVERY)
    body = _body(payload)
    response = await _post_raw(kickoff, body, make_header(body))
    assert response.status_code == 401, response.text
    assert reason in response.json()["detail"]
    await _assert_not_started(kickoff, payload["contract_id"])


async def test_signature_for_a_different_body_is_rejected(kickoff: Kickoff) -> None:
    """A valid signature of one contract does not authorise another contract's body."""
    signed = contract_payload(delivery_start=PAST_DELIVERY)
    sent = contract_payload(delivery_start=PAST_DELIVERY)
    header = sign(WEBHOOK_SECRET, _body(signed), int(time.time()))
    response = await _post_raw(kickoff, _body(sent), header)
    assert response.status_code == 401, response.text
    assert "does not match" in response.json()["detail"]
    await _assert_not_started(kickoff, sent["contract_id"])


@pytest.mark.parametrize("skew", [-299, 299], ids=["299s-past", "299s-future"])
async def test_signature_within_tolerance_is_accepted(kickoff: Kickoff, skew: int) -> None:
    """A signature up to 300 s away from now is accepted."""
    response = await kickoff.submit(contract_payload(), timestamp=int(time.time()) + skew)
    assert response.status_code == 202, response.text


async def test_second_of_several_v1_values_may_match(kickoff: Kickoff) -> None:
    """A header listing several v1 MACs (secret rotation) is accepted when one of them matches."""
    payload = contract_payload()
    body = _body(payload)
    at = int(time.time())
    good = sign(WEBHOOK_SECRET, body, at).split("v1=", 1)[1]
    response = await _post_raw(kickoff, body, f"t={at},v1={'0' * 64},v1={good}")
    assert response.status_code == 202, response.text
    kickoff.started.append(response.json()["id"])


# ---------------------------------------------------------------- accepted


async def test_new_contract_is_accepted_and_starts_onboarding(kickoff: Kickoff) -> None:
    """A signed contract gets 202 with id SE-<contract_id>, and the run sends its welcome mail."""
    payload = contract_payload(delivery_start=PAST_DELIVERY)
    response = await kickoff.submit(payload)
    assert response.status_code == 202, response.text
    oid = f"SE-{payload['contract_id']}"
    assert response.json() == {
        "id": oid,
        "pipeline": "assist-se",
        "stage": "new",
        "url": f"http://kickoff.test/onboardings/{oid}",
    }
    state = await kickoff.until(oid, lambda s: "welcome" in templates(s))
    assert state["stage"] == "onboarding"
    assert state["emails"][0]["to"] == payload["main_user"]["email"]
    assert len(kickoff.mails(oid, "welcome")) == 1


async def test_pipeline_defaults_to_assist_se(kickoff: Kickoff) -> None:
    """A contract without a pipeline field runs the assist-se pipeline."""
    payload = contract_payload()
    del payload["pipeline"]
    response = await kickoff.submit(payload)
    assert response.status_code == 202, response.text
    assert response.json()["pipeline"] == "assist-se"
    assert (await kickoff.state(response.json()["id"]))["pipeline"] == "assist-se"


async def test_same_contract_again_returns_200_without_a_second_run(kickoff: Kickoff) -> None:
    """Re-posting an identical contract returns 200 with the same id, keeps the run and sends one welcome."""
    payload = contract_payload(delivery_start=PAST_DELIVERY)
    first = await kickoff.submit(payload)
    assert first.status_code == 202, first.text
    oid = first.json()["id"]
    run_id = await kickoff.run_id(oid)

    again = await kickoff.submit(payload)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == oid
    assert again.json()["url"] == first.json()["url"]

    state = await kickoff.until(oid, lambda s: "welcome" in templates(s))
    assert await kickoff.run_id(oid) == run_id
    assert state["cycle"] == 1
    assert templates(state).count("welcome") == 1
    assert len(kickoff.mails(oid, "welcome")) == 1


async def test_concurrent_deliveries_of_one_contract_start_one_run(kickoff: Kickoff) -> None:
    """Five simultaneous deliveries of a contract get one 202 and four 200s, all with the same id."""
    payload = contract_payload(delivery_start=PAST_DELIVERY)
    responses = await asyncio.gather(*(kickoff.submit(payload) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 202], [r.text for r in responses]
    oid = f"SE-{payload['contract_id']}"
    assert {r.json()["id"] for r in responses} == {oid}
    state = await kickoff.until(oid, lambda s: "welcome" in templates(s))
    assert templates(state) == ["welcome"]
    assert len(kickoff.mails(oid, "welcome")) == 1


async def test_same_contract_again_reports_the_current_stage(kickoff: Kickoff) -> None:
    """The 200 for a repeated contract names the stage the run is in now, not the start stage."""
    payload = contract_payload(delivery_start=PAST_DELIVERY)
    oid = await kickoff.start(contract_id=payload["contract_id"])
    again = await kickoff.submit(payload)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == oid
    assert again.json()["stage"] == "onboarding"


# ---------------------------------------------------------------- conflicts


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"licenses": 13}, "licenses"),
        (
            {"delivery_start": (date.fromisoformat(PAST_DELIVERY) + timedelta(days=1)).isoformat()},
            "delivery_start",
        ),
        ({"main_user": {"name": "Örjan Ängström", "email": "other@are-halsa.example"}}, "main_user"),
        ({"customer": {"name": "Annat AB"}}, "customer"),
    ],
    ids=["licenses", "delivery_start", "main_user-email", "customer"],
)
async def test_same_contract_id_with_different_content_is_409_and_keeps_the_original(
    kickoff: Kickoff, change: dict[str, Any], field: str
) -> None:
    """A contract id re-sent with other content gets 409 naming the field; the original run is untouched."""
    original = contract_payload(delivery_start=PAST_DELIVERY)
    oid = await kickoff.start(contract_id=original["contract_id"])
    before = await kickoff.state(oid)
    run_id = await kickoff.run_id(oid)

    response = await kickoff.submit({**original, **change})
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert field in detail
    assert original["contract_id"] in detail

    after = await kickoff.state(oid)
    assert await kickoff.run_id(oid) == run_id
    for key in ("customer", "main_user", "delivery_start", "stage", "cycle", "emails", "tasks"):
        assert after[key] == before[key], key
    assert len(kickoff.mails(oid, "welcome")) == 1


# ---------------------------------------------------------------- invalid bodies


def _without(key: str) -> dict[str, Any]:
    payload = contract_payload()
    del payload[key]
    return payload


_INVALID_BODIES = [
    pytest.param(contract_payload(licenses=0), "licenses", id="licenses-0"),
    pytest.param(contract_payload(licenses="many"), "licenses", id="licenses-not-int"),
    pytest.param(contract_payload(main_user={"name": "Ö", "email": "not-an-email"}), "email", id="bad-email"),
    pytest.param(_without("customer"), "customer", id="missing-customer"),
    pytest.param(_without("delivery_start"), "delivery_start", id="missing-delivery-start"),
    pytest.param(contract_payload(delivery_start="next week"), "delivery_start", id="bad-date"),
    pytest.param(
        contract_payload(signed_at=days_ahead(-2, 10).replace(tzinfo=None).isoformat()),
        "signed_at",
        id="naive-signed-at",
    ),
    pytest.param(contract_payload(contract_id="C 1/2"), "contract_id", id="bad-contract-id"),
    pytest.param(contract_payload(language="swedish"), "language", id="bad-language"),
    pytest.param(contract_payload(surprise=True), "surprise", id="unknown-field"),
    pytest.param(contract_payload(customer={"name": ""}), "customer", id="empty-customer-name"),
    pytest.param(contract_payload(pipeline="nope-pipeline"), "unknown pipeline", id="unknown-pipeline"),
]


@pytest.mark.parametrize(("payload", "reason"), _INVALID_BODIES)
async def test_invalid_contract_is_422_with_a_reason_and_starts_nothing(
    kickoff: Kickoff, payload: dict[str, Any], reason: str
) -> None:
    """A correctly signed but invalid contract gets 422 naming what is wrong, and no run starts."""
    response = await kickoff.submit(payload)
    assert response.status_code == 422, response.text
    assert reason in response.text
    if isinstance(payload.get("contract_id"), str) and "/" not in payload["contract_id"]:
        await _assert_not_started(kickoff, payload["contract_id"])


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"{not json", "json"), (b"", "json"), (b"[1, 2]", "object")],
    ids=["not-json", "empty", "json-array"],
)
async def test_non_json_or_non_object_body_is_422(kickoff: Kickoff, body: bytes, reason: str) -> None:
    """A correctly signed body that is not a JSON object gets 422."""
    response = await _post_raw(kickoff, body, sign(WEBHOOK_SECRET, body, int(time.time())))
    assert response.status_code == 422, response.text
    assert reason in response.text.lower()
    assert response.json()["detail"]


async def test_invalid_contract_does_not_block_a_later_valid_one(kickoff: Kickoff) -> None:
    """After a 422 for a contract id, the corrected contract with the same id is accepted as new."""
    payload = contract_payload(delivery_start=PAST_DELIVERY)
    rejected = await kickoff.submit({**payload, "licenses": 0})
    assert rejected.status_code == 422, rejected.text
    accepted = await kickoff.submit(payload)
    assert accepted.status_code == 202, accepted.text
