"""POST /pipelines/{pipeline_id}/simulate over real HTTP: the plan as JSON, 404 and 422.

The app is served without a worker: a preview never reaches Temporal. Every date is fixed (a
preview reads no clock), so no test depends on the day it runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import MagicMock

import httpx
import pytest

from kickoff.api import create_app
from kickoff.db import Database
from kickoff.identity import AccountStore
from kickoff.identity.tokens import TokenStore
from kickoff.mailcatcher import MailCatcher
from tests.accounts import VIEWER
from tests.conftest import API_KEY, api_settings, serve_app
from tests.support import refusal

AUTH = {"Authorization": f"Bearer {API_KEY}"}
CONTRACT: dict[str, Any] = {
    "contract_id": "C-2001",
    "signed_at": "2027-04-28T10:00:00+02:00",
    "delivery_start": "2027-05-03",
    "customer": {"name": "Åre Hälsa AB"},
    "main_user": {"name": "Örjan Ängström", "email": "orjan@are-halsa.example"},
    "licenses": 12,
    "language": "sv",
}
NO_MAIN_USER = {k: v for k, v in CONTRACT.items() if k != "main_user"}
BOOKED = {
    "at": "2027-05-12T11:00",
    "event": "meeting_booked",
    "payload": {"meeting_at": "2027-05-14T10:00:00+02:00"},
}


@pytest.fixture(scope="module")
async def served(smtp: MailCatcher, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """The app on loopback with a Temporal client it never uses, and its database."""
    settings = api_settings("simulate-api", tmp_path_factory.mktemp("simulate"), smtp)
    database = Database(settings.database_url)
    async with (
        serve_app(create_app(client=MagicMock(), settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield http, database
    await database.dispose()


Served = tuple[httpx.AsyncClient, Database]


async def simulate(
    served: Served, body: dict[str, Any], pipeline: str = "assist-se", headers: dict[str, str] = AUTH
) -> httpx.Response:
    http, _ = served
    return await http.post(f"/pipelines/{pipeline}/simulate", json=body, headers=headers)


def locs(response: httpx.Response) -> list[list[str | int]]:
    return [error["loc"] for error in response.json()["detail"]]


async def test_a_preview_answers_the_plan_in_local_time(served):
    """200: stages, tasks, mails and steps in Stockholm time, and what the booking changed."""
    response = await simulate(served, {"contract": CONTRACT, "from": "2027-04-28", "events": [BOOKED]})
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"  # it names the main user; nothing keeps it
    plan = response.json()
    assert (plan["pipeline"], plan["onboarding_id"], plan["ended"], plan["status"]) == (
        "assist-se", "SE-C-2001", "goal", "completed",
    )  # fmt: skip
    assert [(s["stage"], s["at"], s["cause"]) for s in plan["stages"]] == [
        ("new", "2027-04-28T09:00:00+02:00", "contract received"),
        ("onboarding", "2027-05-04T08:00:00+02:00", "step start-onboarding"),
        ("closed", "2027-05-12T11:00:00+02:00", "event meeting_booked"),
    ]
    assert [(m["template"], m["recipient"], m["language"], m["local"]) for m in plan["mails"]] == [
        ("welcome", "main_user", "sv", "Tue 2027-05-04 08:00 CEST"),
        ("kickoff_booked", "team", "sv", "Wed 2027-05-12 11:00 CEST"),
    ]
    calls = [(t["title"], t["due"]["at"], t["status"]) for t in plan["tasks"] if t["kind"] == "call"]
    assert calls == [
        ("Välkomstsamtal till huvudanvändaren", "2027-05-04T17:00:00+02:00", "done"),
        ("Ring kunden: inget uppstartsmöte bokat (dag 3)", "2027-05-07T17:00:00+02:00", "done"),
        ("Ring kunden: inget uppstartsmöte bokat (dag 7)", "2027-05-11T17:00:00+02:00", "done"),
    ]
    [booked] = plan["script"]
    assert booked["accepted"]
    assert (booked["stage_before"], booked["stage_after"]) == ("onboarding", "closed")
    assert booked["changes"]["anchors"] == {"meeting_at": "Fri 2027-05-14 10:00 CEST"}
    assert [f["key"] for f in plan["firings"]] == ["start-onboarding", "day-3-call", "day-7-call"]


async def test_a_refused_event_is_part_of_the_plan_not_an_error(served):
    """An event the run refuses at its moment answers 200, saying why (as the run's 409 would)."""
    resume = {"at": "2027-05-06", "event": "resume"}
    response = await simulate(served, {"contract": CONTRACT, "events": [resume], "until": "2027-05-08"})
    assert response.status_code == 200, response.text
    [outcome] = response.json()["script"]
    assert (outcome["accepted"], outcome["refusal_kind"]) == (False, "not_now")
    assert "not accepted in stage 'onboarding'" in outcome["refusal"]
    assert response.json()["ended"] == "until"


async def test_a_viewer_may_preview_and_a_caller_without_credentials_may_not(served):
    """The reading role is enough; no Authorization header is 401."""
    _, database = served
    account = await AccountStore(database).by_email(VIEWER.email)
    assert account is not None
    token, _ = await TokenStore(database).create(account, "preview")
    viewer = await simulate(served, {"contract": CONTRACT}, headers={"Authorization": f"Bearer {token}"})
    assert viewer.status_code == 200, viewer.text
    assert (await simulate(served, {"contract": CONTRACT}, headers={})).status_code == 401


async def test_an_unknown_pipeline_is_404_naming_the_known_ones(served):
    """404 with the pipelines there are."""
    response = await simulate(served, {"contract": CONTRACT}, pipeline="nope")
    assert response.status_code == 404
    assert "assist-se" in response.json()["detail"]


@pytest.mark.parametrize(
    ("contract", "loc", "reason"),
    [
        ({**CONTRACT, "modules": ["crm"]}, ["body", "contract", "modules"], "unknown module 'crm'"),
        ({**CONTRACT, "licenses": 0}, ["body", "contract", "licenses"], "greater than or equal to 1"),
        (NO_MAIN_USER, ["body", "contract", "main_user"], "required"),
        ({**CONTRACT, "dates": {"renewal": "2028-01-31"}}, ["body", "contract", "dates"], "unknown date"),
    ],
    ids=["unknown-module", "no-licences", "no-main-user", "undeclared-date"],
)
async def test_a_bad_contract_is_422_naming_the_field(served, contract, loc, reason):
    """422 in the list-of-{type, loc, msg} shape, pointing into the contract."""
    response = await simulate(served, {"contract": contract})
    assert response.status_code == 422, response.text
    assert loc in locs(response)
    assert reason in refusal(response)


@pytest.mark.parametrize(
    ("action", "loc", "reason"),
    [
        ({"at": "2027-05-05", "event": "booked"}, ["body", "events", 0, "event"], "no event 'booked'"),
        (
            {"at": "2027-05-05", "event": "call_logged", "payload": {"outcome": "maybe"}},
            ["body", "events", 0, "payload", "outcome"],
            "must be one of",
        ),
        ({"at": "2027-05-05", "tick": "nothing"}, ["body", "events", 0, "tick"], "no checklist item"),
        ({"at": "2027-05-05", "event": "resume", "tick": "x"}, ["body", "events", 0], "exactly one of"),
        ({"at": "soon", "event": "resume"}, ["body", "events", 0, "at"], "must be a date"),
    ],
    ids=["unknown-event", "bad-payload", "unknown-item", "two-kinds", "bad-moment"],
)
async def test_a_bad_event_is_422_naming_the_action(served, action, loc, reason):
    """A script entry that cannot be an action of this pipeline is refused before anything runs."""
    response = await simulate(served, {"contract": CONTRACT, "events": [action]})
    assert response.status_code == 422, response.text
    assert loc in locs(response)
    assert reason in refusal(response)


@pytest.mark.parametrize(
    ("body", "loc", "reason"),
    [
        ({"from": "2027-05-01", "until": "2027-04-30"}, ["body", "until"], "must be after from"),
        ({"from": "2027-05-01", "until": "2035-01-01"}, ["body", "until"], "at most"),
        ({"events": [{"at": "2027-04-01", "event": "resume"}]}, ["body", "events", 0, "at"], "before"),
        ({"until": "2027-05-01", "events": [BOOKED]}, ["body", "events", 0, "at"], "after the preview's end"),
        ({"from": "1999-12-31"}, ["body", "from"], "outside 2000"),
    ],
    ids=["until-before-from", "too-long", "action-before-start", "action-after-end", "implausible"],
)
async def test_bad_dates_are_422(served, body, loc, reason):
    """The preview's window must be sane and hold every action."""
    response = await simulate(served, {"contract": CONTRACT, **body})
    assert response.status_code == 422, response.text
    assert loc in locs(response)
    assert reason in refusal(response)


async def test_a_preview_with_an_idempotency_key_is_run_again_not_replayed(served):
    """Its answer is marked no-store, so the Idempotency-Key middleware keeps no copy of it."""
    keyed = {**AUTH, "Idempotency-Key": "preview-1"}
    first = await simulate(served, {"contract": CONTRACT}, headers=keyed)
    again = await simulate(served, {"contract": CONTRACT}, headers=keyed)
    assert (first.status_code, again.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in again.headers
    assert again.json() == first.json()
