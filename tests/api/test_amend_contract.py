"""PATCH /onboardings/{id}: an amended contract moves the delivery start until onboarding begins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.api.conftest import PAST_DELIVERY, Kickoff, comparable
from tests.support import contract_payload, local_today


def _next(month: int, after: date) -> date:
    """The first day of ``month`` that lies more than a week after ``after``."""
    first = date(after.year, month, 1)
    return first if first > after + timedelta(weeks=1) else date(after.year + 1, month, 1)


# A waiting run's delivery start in winter time, weeks or months ahead, and the one it is amended
# to in summer time (08:00 the day after it is then 06:00 UTC), so that the moved step shows the
# offset change too.
WAITING_DELIVERY = _next(3, local_today())
AMENDED_DELIVERY = _next(7, WAITING_DELIVERY)


async def _waiting(kickoff: Kickoff) -> str:
    """An assist-se onboarding still waiting in `new` for a delivery start weeks ahead."""
    response = await kickoff.submit(contract_payload(delivery_start=WAITING_DELIVERY.isoformat()))
    assert response.status_code == 202, response.text
    oid: str = response.json()["id"]
    await kickoff.until(oid, lambda s: s["next_step_at"] is not None and s["stage"] == "new")
    return oid


async def test_a_new_delivery_start_moves_the_waiting_step(kickoff: Kickoff) -> None:
    """The step "08:00 the day after the delivery start" moves with the amended date."""
    oid = await _waiting(kickoff)
    before = await kickoff.state(oid)
    # 08:00 on 2 March is winter time in Stockholm: 07:00 UTC.
    step_day = WAITING_DELIVERY + timedelta(days=1)
    assert datetime.fromisoformat(before["next_step_at"]) == datetime(
        step_day.year, step_day.month, step_day.day, 7, tzinfo=UTC
    )

    response = await kickoff.http.patch(
        f"/onboardings/{oid}", json={"delivery_start": AMENDED_DELIVERY.isoformat()}, headers=kickoff.api.auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["delivery_start"] == AMENDED_DELIVERY.isoformat()
    assert body["stage"] == "new"
    # 08:00 on 2 July is summer time in Stockholm: 06:00 UTC.
    moved = AMENDED_DELIVERY + timedelta(days=1)
    assert datetime.fromisoformat(body["next_step_at"]) == datetime(
        moved.year, moved.month, moved.day, 6, tzinfo=UTC
    )
    assert [e["detail"] for e in body["timeline"] if e["event"] == "contract_amended"] == [
        f"delivery start {WAITING_DELIVERY} -> {AMENDED_DELIVERY}"
    ]


async def test_after_onboarding_has_begun_the_delivery_start_is_409(kickoff: Kickoff) -> None:
    """Once the run has entered onboarding (welcome mail sent), the date no longer moves anything."""
    oid = await kickoff.start()
    before = await kickoff.state(oid)
    response = await kickoff.http.patch(
        f"/onboardings/{oid}", json={"delivery_start": AMENDED_DELIVERY.isoformat()}, headers=kickoff.api.auth
    )
    assert response.status_code == 409, response.text
    assert "onboarding has begun" in response.json()["detail"]
    assert comparable(await kickoff.state(oid)) == comparable(before)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"delivery_start": PAST_DELIVERY}, 422, "too early"),
        ({"delivery_start": "soon"}, 422, "delivery_start"),
        ({"delivery_start": "1999-12-31"}, 422, "outside 2000"),
        ({"delivery_start": AMENDED_DELIVERY.isoformat(), "licenses": 3}, 422, "licenses"),
        ({}, 422, "delivery_start"),
    ],
    ids=["in-the-past", "not-a-date", "implausible", "other-field", "empty"],
)
async def test_bad_amendments_are_refused_and_change_nothing(
    kickoff: Kickoff, body: dict[str, str], status: int, reason: str
) -> None:
    oid = await _waiting(kickoff)
    before = await kickoff.state(oid)
    response = await kickoff.http.patch(f"/onboardings/{oid}", json=body, headers=kickoff.api.auth)
    assert response.status_code == status, response.text
    assert reason in response.text
    assert comparable(await kickoff.state(oid)) == comparable(before)


async def test_amending_an_unknown_onboarding_is_404(kickoff: Kickoff) -> None:
    response = await kickoff.http.patch(
        "/onboardings/SE-nope-404",
        json={"delivery_start": AMENDED_DELIVERY.isoformat()},
        headers=kickoff.api.auth,
    )
    assert response.status_code == 404, response.text
