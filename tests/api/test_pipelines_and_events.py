"""GET /pipelines, the generic event endpoint, checklist ticks, contract modules and dates, task owners."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, timedelta
from typing import Any

import holidays
import httpx
import pytest

from kickoff.mailcatcher import MailCatcher
from kickoff.pipelines import load_pipelines
from tests.api.conftest import NO_ANSWER, PAST_DELIVERY, Kickoff, State, comparable, events, templates
from tests.conftest import Api
from tests.support import PIPELINES_FILE, contract_payload, days_ahead, local_today

UNKNOWN = "SE-C-nobody-signed-this"
PREFIXES = {"assist-se": "SE", "pakkepilot-no": "PP", "kundprocess-se": "KP", "wisenetwork-fi": "WN"}
LANGUAGES = {"assist-se": "sv", "pakkepilot-no": "nb", "kundprocess-se": "sv", "wisenetwork-fi": "fi"}
BEFORE_GO_LIVE = [
    "portal_access",
    "integration_tested",
    "shipping_agreed",
    "returns_agreed",
    "escalation_known",
]
# 10:00 in Stockholm three days from now, sent in UTC.
MEETING = {"meeting_at": days_ahead(3, 10).astimezone(UTC).isoformat(), "booked_by": "Anna på kundtjänst"}
# A renewal date about a year ahead (kundprocess-se's one contract date), and the day after it.
RENEWAL = (local_today() + timedelta(days=400)).isoformat()
RENEWAL_LATER = (local_today() + timedelta(days=401)).isoformat()


def _payload(pipeline: str, **overrides: Any) -> dict[str, Any]:
    return contract_payload(**{"pipeline": pipeline, "language": LANGUAGES[pipeline], **overrides})


async def _start(kickoff: Kickoff, pipeline: str, **overrides: Any) -> str:
    """Start a run of ``pipeline`` (delivery already begun) and wait for its welcome mail."""
    payload = _payload(pipeline, delivery_start=PAST_DELIVERY, **overrides)
    response = await kickoff.submit(payload)
    assert response.status_code == 202, response.text
    oid: str = response.json()["id"]
    assert oid == f"{PREFIXES[pipeline]}-{payload['contract_id']}"
    await kickoff.until(oid, lambda s: "welcome" in templates(s))
    return oid


def _item(state: State, item: str) -> dict[str, Any]:
    [found] = [i for i in state["checklist"] if i["id"] == item]
    return found


def _ticks(state: State, event: str) -> int:
    return events(state).count(event)


@pytest.fixture(scope="module")
async def closed_onboarding(shared_api: Api, smtp: MailCatcher) -> str:
    """An assist-se onboarding closed through the generic endpoint (meeting_booked) and, once its
    kick-off was recorded as held, its run completed."""
    helper = Kickoff(shared_api, smtp)
    oid = await helper.start()
    response = await helper.post(f"/onboardings/{oid}/events/meeting_booked", MEETING)
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "closed"}
    await helper.record_completed(oid)
    return oid


# ---------------------------------------------------------------- GET /pipelines


async def test_pipelines_lists_the_four_pipelines_with_their_versions(kickoff: Kickoff) -> None:
    """GET /pipelines summarises every pipeline in pipelines.yaml, with the version the loader computes."""
    catalog = load_pipelines(PIPELINES_FILE)
    response = await kickoff.get("/pipelines")
    assert response.status_code == 200, response.text
    summaries = {summary["id"]: summary for summary in response.json()}
    assert sorted(summaries) == sorted(PREFIXES)
    assert {pid: s["version"] for pid, s in summaries.items()} == dict(catalog.versions)
    assert {pid: s["id_prefix"] for pid, s in summaries.items()} == PREFIXES

    pakkepilot = summaries["pakkepilot-no"]
    assert pakkepilot["name"] == "PakkePilot oppstart"
    assert pakkepilot["timezone"] == "Europe/Oslo"
    assert pakkepilot["languages"] == ["nb", "en"]
    assert pakkepilot["checklists"] == ["before_go_live"]
    assert pakkepilot["modules"] == ["fulfilment", "shipping"]
    assert pakkepilot["events"] == [
        "kickoff_booked",
        "kickoff_held",
        "go_live",
        "call_logged",
        "campaign_announced",
        "issue_reported",
    ]
    assert [stage["id"] for stage in pakkepilot["stages"]] == [
        "kickoff",
        "access",
        "integration",
        "testing",
        "training",
        "hypercare",
        "done",
    ]
    assert pakkepilot["stages"][0] == {"id": "kickoff", "label": "Oppstartsmøte"}
    assert summaries["assist-se"]["checklists"] == []
    assert summaries["assist-se"]["modules"] == []


async def test_pipeline_shows_its_full_definition_and_calendar(kickoff: Kickoff) -> None:
    """GET /pipelines/pakkepilot-no: checklists, modules, deadlines, event payloads, Norwegian closed days."""
    catalog = load_pipelines(PIPELINES_FILE)
    response = await kickoff.get("/pipelines/pakkepilot-no")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == catalog.version("pakkepilot-no")
    assert body["id"] == "pakkepilot-no"
    assert body["id_prefix"] == "PP"

    [checklist] = body["checklists"].values()
    assert [item["id"] for item in checklist["items"]] == BEFORE_GO_LIVE
    assert {item["owner"] for item in checklist["items"]} == {"customer"}
    assert body["modules"] == {
        "fulfilment": {
            "label": "Lager/fulfilment",
            "labels": {"en": "warehouse/fulfilment"},
            "default": True,
        },
        "shipping": {
            "label": "Frakt/utkjøring",
            "labels": {"en": "shipping/last-mile delivery"},
            "default": True,
        },
    }
    deadline = next(d for d in body["deadlines"] if d["key"] == "overdue-day-10")
    assert [d["key"] for d in body["deadlines"]] == ["kickoff-overdue", "overdue-day-10", "campaign-capacity"]
    assert deadline["key"] == "overdue-day-10"
    assert deadline["at"] == {
        "anchor": "kickoff_held",
        "days": 10,
        "unit": "business_days",
        "time": "08:00:00",
        "before": False,
    }
    assert deadline["in_stages"] == ["access", "integration", "testing", "training"]
    assert body["events"]["kickoff_held"]["payload"]["held_at"]["type"] == "datetime"
    outcome = body["events"]["call_logged"]["payload"]["outcome"]
    assert (outcome["type"], outcome["required"], outcome["choices"]) == (
        "choice",
        True,
        ["answered", "no_answer"],
    )
    assert body["events"]["issue_reported"]["payload"]["description"]["required"] is True
    assert next(s for s in body["stages"] if s["id"] == "hypercare")["requires"] == ["before_go_live"]

    calendar = body["calendar"]
    assert calendar["country"] == "NO"
    # Next year's closed days are exactly Norway's public holidays, 17 May (Constitution Day)
    # and Christmas Day among them, and no other day.
    year = local_today().year + 1
    assert date(year, 5, 17).isoformat() in calendar["closed_days"]
    assert date(year, 12, 25).isoformat() in calendar["closed_days"]
    norway = holidays.country_holidays("NO", years=year)
    assert [day for day in calendar["closed_days"] if day.startswith(f"{year}-")] == sorted(
        day.isoformat() for day in norway
    )
    assert calendar["closed_days"] == sorted(calendar["closed_days"])

    # Exactly what this process validated: nothing added, nothing lost on the way.
    definition = catalog.pipelines["pakkepilot-no"].model_dump(mode="json", by_alias=True)
    assert body == {"version": catalog.version("pakkepilot-no"), **definition}


async def test_every_pipeline_definition_carries_its_version(kickoff: Kickoff) -> None:
    """GET /pipelines/{id} answers every listed pipeline with the same version as the summary."""
    listed = (await kickoff.get("/pipelines")).json()
    for summary in listed:
        response = await kickoff.get(f"/pipelines/{summary['id']}")
        assert response.status_code == 200, response.text
        assert response.json()["version"] == summary["version"]


async def test_unknown_pipeline_is_404_naming_the_known_ones(kickoff: Kickoff) -> None:
    """An unknown pipeline id gets 404 naming it and every pipeline there is."""
    response = await kickoff.get("/pipelines/pakkepilot-se")
    assert response.status_code == 404, response.text
    detail = response.json()["detail"]
    assert "pakkepilot-se" in detail
    for pid in PREFIXES:
        assert pid in detail


@pytest.mark.parametrize("path", ["/pipelines", "/pipelines/assist-se", "/pipelines/nope"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-key"}], ids=["no-key", "wrong-key"])
async def test_pipelines_require_the_api_key(kickoff: Kickoff, path: str, headers: dict[str, str]) -> None:
    """GET /pipelines and /pipelines/{id} answer 401 without a valid key (also for unknown ids)."""
    response = await kickoff.http.get(path, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"


# ---------------------------------------------------------------- the generic event endpoint


async def test_call_logged_event_behaves_like_the_calls_shorthand(kickoff: Kickoff) -> None:
    """POST /events/call_logged gets 202 and, like /calls, logs the outcome and closes the oldest call."""
    via_event = await kickoff.start()
    via_shorthand = await kickoff.start()
    body = {"outcome": "no_answer", "note": "ringde 10:05"}

    for oid, path in ((via_event, "events/call_logged"), (via_shorthand, "calls")):
        response = await kickoff.post(f"/onboardings/{oid}/{path}", body)
        assert response.status_code == 202, response.text
        assert response.json() == {"id": oid, "stage": "onboarding"}

    def outcome(state: State) -> tuple[list[str], list[tuple[str, str, str]]]:
        details = [e["detail"] for e in state["timeline"] if e["event"] == "call_logged"]
        tasks = [(t["kind"], t["title"], t["status"]) for t in state["tasks"]]
        return details, tasks

    event_state = await kickoff.state(via_event)
    shorthand_state = await kickoff.state(via_shorthand)
    assert outcome(event_state) == outcome(shorthand_state)
    [detail] = outcome(event_state)[0]
    assert detail.startswith(NO_ANSWER)
    assert "ringde 10:05" in detail
    [call] = [t for t in event_state["tasks"] if t["kind"] == "call"]
    assert call["status"] == "done"
    assert {t["status"] for t in event_state["tasks"] if t["kind"] == "todo"} == {"open"}


async def test_park_and_resume_events_match_their_shorthands(kickoff: Kickoff) -> None:
    """park and resume sent as generic events move the run like /park and /resume do."""
    oid = await kickoff.start()
    response = await kickoff.post(f"/onboardings/{oid}/events/park", {"reason": "semester"})
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "manual_follow_up"}
    response = await kickoff.post(f"/onboardings/{oid}/events/resume")
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "onboarding"}
    state = await kickoff.state(oid)
    assert [e for e in events(state) if e in ("park", "resume")] == ["park", "resume"]


@pytest.mark.parametrize(
    ("event", "body", "status", "reason"),
    [
        pytest.param("no_such_event", {}, 404, "no event 'no_such_event'", id="unknown-event"),
        pytest.param("kickoff_held", {}, 404, "no event 'kickoff_held'", id="event-of-another-pipeline"),
        pytest.param("call_logged", {"outcome": "answered", "mood": "glad"}, 422, "mood", id="unknown-field"),
        pytest.param("call_logged", {}, 422, "outcome: required", id="missing-required"),
        pytest.param("call_logged", {"outcome": None}, 422, "outcome: required", id="required-null"),
        pytest.param("call_logged", {"outcome": "maybe"}, 422, "outcome", id="not-a-choice"),
        pytest.param("call_logged", {"outcome": "answered", "note": 42}, 422, "note", id="number-for-text"),
        pytest.param("park", {"reason": 7}, 422, "reason", id="number-for-required-text"),
        pytest.param("park", {"reason": "semester", "until": "next week"}, 422, "until", id="non-date-until"),
        pytest.param(
            "park", {"reason": "semester", "until": "2027-02-30"}, 422, "until", id="impossible-date"
        ),
        pytest.param("park", {"reason": "semester", "until": "2020-01-01"}, 422, "until", id="until-passed"),
        pytest.param("park", {"reason": "x" * 501}, 422, "reason", id="text-too-long"),
        pytest.param(
            "meeting_booked",
            {"meeting_at": days_ahead(3, 10).replace(tzinfo=None).isoformat()},
            422,
            "meeting_at",
            id="naive",
        ),
        pytest.param("resume", {}, 409, "resume is not accepted in stage 'onboarding'", id="not-in-stage"),
        pytest.param("call_logged", ["answered"], 422, "dict", id="list-payload"),
        pytest.param("call_logged", "answered", 422, "dict", id="string-payload"),
        pytest.param("call_logged", {"outcome": {"nested": 1}}, 422, "outcome", id="nested-value"),
    ],
)
async def test_refused_event_gets_its_status_and_changes_nothing(
    kickoff: Kickoff, bystander: str, event: str, body: Any, status: int, reason: str
) -> None:
    """A refused event answers 404 (unknown event), 422 (payload naming the field) or 409 (stage),
    and the run keeps its stage, tasks and timeline."""
    before = await kickoff.state(bystander)
    response = await kickoff.post(f"/onboardings/{bystander}/events/{event}", body)
    assert response.status_code == status, response.text
    assert reason in response.text
    after = await kickoff.state(bystander)
    assert comparable(after) == comparable(before)
    assert len(after["timeline"]) == len(before["timeline"])


@pytest.mark.parametrize("path", ["events/park", "park"])
async def test_blank_required_text_is_422(kickoff: Kickoff, path: str) -> None:
    """A required text of only spaces (park's reason) is as missing as an absent one: 422, run unchanged."""
    oid = await kickoff.start()
    before = await kickoff.state(oid)
    response = await kickoff.post(f"/onboardings/{oid}/{path}", {"reason": "   "})
    assert response.status_code == 422, response.text
    assert "reason" in response.text
    assert comparable(await kickoff.state(oid)) == comparable(before)


@pytest.mark.parametrize("event", ["call_logged", "no_such_event"])
async def test_event_for_unknown_onboarding_is_404(kickoff: Kickoff, event: str) -> None:
    """An event for an onboarding that does not exist gets 404 naming the id."""
    response = await kickoff.post(f"/onboardings/{UNKNOWN}/events/{event}", {"outcome": "answered"})
    assert response.status_code == 404, response.text
    assert UNKNOWN in response.json()["detail"]


@pytest.mark.parametrize(
    ("event", "body"),
    [("call_logged", {"outcome": "answered"}), ("park", {"reason": "semester"}), ("no_such_event", {})],
)
async def test_event_on_a_finished_onboarding_is_409(
    kickoff: Kickoff, closed_onboarding: str, event: str, body: dict[str, Any]
) -> None:
    """Any event for a completed onboarding gets 409 and changes nothing."""
    before = await kickoff.state(closed_onboarding)
    response = await kickoff.post(f"/onboardings/{closed_onboarding}/events/{event}", body)
    assert response.status_code == 409, response.text
    assert "completed" in response.json()["detail"]
    assert comparable(await kickoff.state(closed_onboarding)) == comparable(before)


async def test_events_need_the_api_key(kickoff: Kickoff, bystander: str) -> None:
    """The event and checklist endpoints answer 401 without a key."""
    for path in (f"/onboardings/{bystander}/events/call_logged", f"/onboardings/{bystander}/checklist/x"):
        response = await kickoff.http.post(path, json={"outcome": "answered"})
        assert response.status_code == 401, response.text


# ---------------------------------------------------------------- checklist


async def test_pakkepilot_onboarding_shows_modules_checklist_records_and_owners(kickoff: Kickoff) -> None:
    """A pakkepilot-no run (PP- id) lists its default modules, an unticked checklist, no records,
    and tasks owned by the customer or by us."""
    oid = await _start(kickoff, "pakkepilot-no")
    state = await kickoff.state(oid)
    assert oid.startswith("PP-")
    assert state["pipeline"] == "pakkepilot-no"
    assert state["stage"] == "kickoff"
    assert state["modules"] == ["fulfilment", "shipping"]
    assert state["records"] == {}
    assert [item["id"] for item in state["checklist"]] == BEFORE_GO_LIVE
    for item in state["checklist"]:
        assert item["checklist"] == "before_go_live"
        assert item["owner"] == "customer"
        assert item["ticked_at"] is None
        assert item["ticked_by"] is None
    owners = {task["title"]: task["owner"] for task in state["tasks"]}
    assert owners["Volumestimat per uke (antall ordre, sesongtopper)"] == "customer"
    assert owners["Produktdata (SKU, vekt, dimensjoner, evt. farlig gods)"] == "customer"
    hold = next(t for t in state["tasks"] if t["title"].startswith("Hold oppstartsmøte"))
    assert (hold["owner"], hold["owner_role"]) == ("vendor", "customer_success")
    assert all(task["owner"] in ("customer", "vendor") for task in state["tasks"])


async def test_tick_and_untick_a_checklist_item(kickoff: Kickoff) -> None:
    """Ticking answers 200 with the item's checklist and the items still unticked; GET shows who and when;
    unticking clears both."""
    oid = await _start(kickoff, "pakkepilot-no")
    response = await kickoff.post(f"/onboardings/{oid}/checklist/portal_access", {"by": "Kari i CS"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": oid,
        "item": "portal_access",
        "checklist": "before_go_live",
        "ticked": True,
        "unticked": BEFORE_GO_LIVE[1:],
    }
    state = await kickoff.state(oid)
    item = _item(state, "portal_access")
    assert item["ticked_at"] is not None
    assert item["ticked_by"] == "Kari i CS"
    assert _item(state, "returns_agreed")["ticked_at"] is None
    assert _ticks(state, "checklist_ticked") == 1

    response = await kickoff.post(f"/onboardings/{oid}/checklist/portal_access", {"ticked": False})
    assert response.status_code == 200, response.text
    assert response.json()["ticked"] is False
    assert response.json()["unticked"] == BEFORE_GO_LIVE
    state = await kickoff.state(oid)
    assert _item(state, "portal_access")["ticked_at"] is None
    assert _item(state, "portal_access")["ticked_by"] is None
    assert _ticks(state, "checklist_unticked") == 1


async def test_ticking_without_a_body_ticks(kickoff: Kickoff) -> None:
    """A tick without a body ticks the item, with nobody named."""
    oid = await _start(kickoff, "pakkepilot-no")
    response = await kickoff.post(f"/onboardings/{oid}/checklist/returns_agreed")
    assert response.status_code == 200, response.text
    assert response.json()["ticked"] is True
    item = _item(await kickoff.state(oid), "returns_agreed")
    assert item["ticked_at"] is not None
    assert item["ticked_by"] is None


async def test_ticking_twice_is_idempotent(kickoff: Kickoff) -> None:
    """A second tick answers 200, keeps the first tick's time and author, and adds no timeline entry;
    so does unticking an unticked item."""
    oid = await _start(kickoff, "pakkepilot-no")
    first = await kickoff.post(f"/onboardings/{oid}/checklist/shipping_agreed", {"by": "Kari"})
    assert first.status_code == 200, first.text
    ticked = await kickoff.state(oid)
    second = await kickoff.post(f"/onboardings/{oid}/checklist/shipping_agreed", {"by": "Ola"})
    assert second.status_code == 200, second.text
    assert second.json() == first.json()
    state = await kickoff.state(oid)
    assert _item(state, "shipping_agreed") == _item(ticked, "shipping_agreed")
    assert _item(state, "shipping_agreed")["ticked_by"] == "Kari"
    assert _ticks(state, "checklist_ticked") == 1
    assert len(state["timeline"]) == len(ticked["timeline"])

    response = await kickoff.post(f"/onboardings/{oid}/checklist/returns_agreed", {"ticked": False})
    assert response.status_code == 200, response.text
    assert response.json()["ticked"] is False
    assert _ticks(await kickoff.state(oid), "checklist_unticked") == 0


async def test_concurrent_ticks_of_one_item_tick_it_once(kickoff: Kickoff) -> None:
    """Three ticks of the same item at once all answer 200 and leave one timeline entry."""
    oid = await _start(kickoff, "pakkepilot-no")
    path = f"/onboardings/{oid}/checklist/integration_tested"
    responses = await asyncio.gather(*(kickoff.post(path, {"by": f"staff {n}"}) for n in range(3)))
    assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    assert all(r.json()["ticked"] for r in responses)
    state = await kickoff.state(oid)
    assert _ticks(state, "checklist_ticked") == 1
    assert _item(state, "integration_tested")["ticked_by"] in {f"staff {n}" for n in range(3)}


@pytest.mark.parametrize(
    ("item", "body", "status", "reason"),
    [
        pytest.param("no_such_item", None, 404, "no checklist item 'no_such_item'", id="unknown-item"),
        pytest.param("training_finance", None, 404, "no checklist item", id="item-of-another-pipeline"),
        pytest.param("portal_access", {"ticked": "maybe"}, 422, "ticked", id="ticked-not-a-bool"),
        pytest.param("portal_access", {"who": "Kari"}, 422, "who", id="unknown-field"),
        pytest.param("portal_access", {"by": "x" * 201}, 422, "by", id="by-too-long"),
    ],
)
async def test_refused_tick_gets_its_status_and_changes_nothing(
    kickoff: Kickoff, item: str, body: dict[str, Any] | None, status: int, reason: str
) -> None:
    """An unknown item gets 404 naming it; a bad body gets 422; the checklist stays as it was."""
    oid = await _start(kickoff, "pakkepilot-no")
    before = await kickoff.state(oid)
    response = await kickoff.post(f"/onboardings/{oid}/checklist/{item}", body)
    assert response.status_code == status, response.text
    assert reason in response.text
    after = await kickoff.state(oid)
    assert comparable(after) == comparable(before)
    assert after["checklist"] == before["checklist"]


async def test_unknown_item_lists_the_items_there_are(kickoff: Kickoff) -> None:
    """The 404 for an unknown item names the items of the onboarding's checklists."""
    oid = await _start(kickoff, "pakkepilot-no")
    response = await kickoff.post(f"/onboardings/{oid}/checklist/portal")
    assert response.status_code == 404, response.text
    detail = response.json()["detail"]
    assert "'portal'" in detail
    for item in BEFORE_GO_LIVE:
        assert item in detail


async def test_item_of_a_module_the_contract_lacks_is_404_with_a_reason(kickoff: Kickoff) -> None:
    """On a wisenetwork-fi contract without finance, training_finance is not in the run: 404 saying so."""
    oid = await _start(kickoff, "wisenetwork-fi", modules=["cms", "crm", "sales"])
    assert oid.startswith("WN-")
    state = await kickoff.state(oid)
    assert state["modules"] == ["cms", "crm", "sales"]
    ids = [item["id"] for item in state["checklist"]]
    assert ids == ["training_crm_cms", "training_sales", "domain_dns", "content_moved", "settings_done"]

    response = await kickoff.post(f"/onboardings/{oid}/checklist/training_finance")
    assert response.status_code == 404, response.text
    detail = response.json()["detail"]
    assert "training_finance" in detail
    assert "modules" in detail
    assert comparable(await kickoff.state(oid)) == comparable(state)

    response = await kickoff.post(f"/onboardings/{oid}/checklist/training_sales", {"by": "Aino"})
    assert response.status_code == 200, response.text
    assert response.json()["checklist"] == "trainings"
    assert response.json()["unticked"] == ["training_crm_cms"]


async def test_checklist_on_unknown_or_finished_onboarding(kickoff: Kickoff, closed_onboarding: str) -> None:
    """A tick for an unknown onboarding gets 404; for a finished one 409."""
    response = await kickoff.post(f"/onboardings/{UNKNOWN}/checklist/portal_access")
    assert response.status_code == 404, response.text
    assert UNKNOWN in response.json()["detail"]
    response = await kickoff.post(f"/onboardings/{closed_onboarding}/checklist/portal_access")
    assert response.status_code == 409, response.text
    assert "completed" in response.json()["detail"]


async def test_go_live_waits_for_the_whole_checklist(kickoff: Kickoff) -> None:
    """go_live into hypercare is refused with 409 naming the unticked items until all five are ticked."""
    oid = await _start(kickoff, "pakkepilot-no")
    response = await kickoff.post(f"/onboardings/{oid}/events/go_live")
    assert response.status_code == 409, response.text
    assert "kickoff" in response.json()["detail"]  # not accepted before the kick-off meeting

    response = await kickoff.post(f"/onboardings/{oid}/events/kickoff_held", {"note": "30 min, Teams"})
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "access"}

    for item in BEFORE_GO_LIVE[:-1]:
        assert (await kickoff.post(f"/onboardings/{oid}/checklist/{item}")).status_code == 200
    before = await kickoff.state(oid)
    response = await kickoff.post(f"/onboardings/{oid}/events/go_live")
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert "escalation_known" in detail
    assert "portal_access" not in detail
    assert comparable(await kickoff.state(oid)) == comparable(before)

    last = await kickoff.post(f"/onboardings/{oid}/checklist/{BEFORE_GO_LIVE[-1]}")
    assert last.json()["unticked"] == []
    response = await kickoff.post(f"/onboardings/{oid}/events/go_live", {"note": "alt klart"})
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "hypercare"}
    state = await kickoff.until(oid, lambda s: "live" in templates(s))
    assert state["stage"] == "hypercare"


# ---------------------------------------------------------------- contracts: modules and dates


@pytest.mark.parametrize(
    ("pipeline", "overrides", "reasons"),
    [
        pytest.param(
            "pakkepilot-no", {"modules": ["shipping", "warehouse"]}, ["'warehouse'"], id="unknown-module"
        ),
        pytest.param(
            "assist-se", {"modules": ["finance"]}, ["'finance'", "none"], id="pipeline-without-modules"
        ),
        pytest.param("wisenetwork-fi", {"modules": ["CRM"]}, ["'CRM'"], id="module-wrong-case"),
        pytest.param("assist-se", {"dates": {"renewal": RENEWAL}}, ["date 'renewal'"], id="unknown-date"),
        pytest.param(
            "kundprocess-se",
            {"dates": {"renewal": RENEWAL, "ends": RENEWAL_LATER}},
            ["'ends'"],
            id="extra-date",
        ),
        pytest.param(
            "pakkepilot-no",
            {"modules": ["lager"], "dates": {"go_live": RENEWAL}},
            ["'lager'", "'go_live'"],
            id="both-named",
        ),
    ],
)
async def test_contract_with_unknown_module_or_date_is_422_and_starts_nothing(
    kickoff: Kickoff, pipeline: str, overrides: dict[str, Any], reasons: list[str]
) -> None:
    """A contract naming a module or date its pipeline lacks gets 422 naming each, and no run exists."""
    payload = _payload(pipeline, **overrides)
    response = await kickoff.submit(payload)
    assert response.status_code == 422, response.text
    detail = _reasons(response)
    for reason in reasons:
        assert reason in detail
    assert pipeline in detail
    missing = await kickoff.get(f"/onboardings/{PREFIXES[pipeline]}-{payload['contract_id']}")
    assert missing.status_code == 404, missing.text


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param({"modules": "shipping"}, "modules", id="modules-not-a-list"),
        pytest.param({"dates": {"renewal": "soon"}}, "renewal", id="date-not-a-date"),
        pytest.param({"dates": [RENEWAL]}, "dates", id="dates-not-an-object"),
    ],
)
async def test_contract_with_malformed_modules_or_dates_is_422(
    kickoff: Kickoff, overrides: dict[str, Any], reason: str
) -> None:
    """modules must be a list and dates an object of dates; otherwise 422 and no run."""
    payload = _payload("kundprocess-se", **overrides)
    response = await kickoff.submit(payload)
    assert response.status_code == 422, response.text
    assert reason in response.text
    assert (await kickoff.get(f"/onboardings/KP-{payload['contract_id']}")).status_code == 404


async def test_contract_resent_with_other_modules_is_409(kickoff: Kickoff) -> None:
    """The same contract again answers 200; the same id with other modules or dates gets 409 naming them."""
    payload = _payload("pakkepilot-no", modules=["shipping"])
    first = await kickoff.submit(payload)
    assert first.status_code == 202, first.text
    again = await kickoff.submit(payload)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    for change in ({"modules": ["fulfilment", "shipping"]}, {"modules": None}):
        response = await kickoff.submit({**payload, **change})
        assert response.status_code == 409, response.text
        assert "modules" in response.json()["detail"]

    dated = _payload("kundprocess-se", dates={"renewal": RENEWAL})
    assert (await kickoff.submit(dated)).status_code == 202
    response = await kickoff.submit({**dated, "dates": {"renewal": RENEWAL_LATER}})
    assert response.status_code == 409, response.text
    assert "dates" in response.json()["detail"]


async def test_contract_modules_limit_the_run(kickoff: Kickoff) -> None:
    """A pakkepilot-no contract with modules [shipping] shows them in GET and gets no fulfilment-only task."""
    oid = await _start(kickoff, "pakkepilot-no", modules=["shipping"])
    state = await kickoff.state(oid)
    assert state["modules"] == ["shipping"]
    titles = [task["title"] for task in state["tasks"]]
    assert "Fraktmetoder dere tilbyr i kassen (hjemlevering, hentepunkt, ekspress)" in titles
    assert "Produktdata (SKU, vekt, dimensjoner, evt. farlig gods)" not in titles


async def test_contract_without_modules_gets_the_default_modules(kickoff: Kickoff) -> None:
    """A wisenetwork-fi contract without modules gets every module but the non-default accounting."""
    oid = await _start(kickoff, "wisenetwork-fi")
    state = await kickoff.state(oid)
    assert state["modules"] == ["cms", "crm", "sales", "marketing", "booking", "finance", "customer_service"]
    assert "training_accountant" not in [item["id"] for item in state["checklist"]]
    assert "training_finance" in [item["id"] for item in state["checklist"]]


async def test_contract_with_a_declared_date_is_accepted(kickoff: Kickoff) -> None:
    """A kundprocess-se contract with its renewal date starts a KP- run."""
    oid = await _start(kickoff, "kundprocess-se", dates={"renewal": RENEWAL})
    assert oid.startswith("KP-")
    state = await kickoff.state(oid)
    assert state["stage"] == "onboarding"
    assert len(state["checklist"]) == 6
    assert state["modules"] == []


# ---------------------------------------------------------------- task owners


@pytest.mark.parametrize("pipeline", list(PREFIXES))
async def test_every_task_has_an_owner(kickoff: Kickoff, pipeline: str) -> None:
    """Each task in GET /onboardings/{id} says whether the customer or we own it."""
    oid = await _start(kickoff, pipeline)
    state = await kickoff.until(oid, lambda s: bool(s["tasks"]))
    for task in state["tasks"]:
        assert task["owner"] in ("customer", "vendor"), task
    if pipeline == "assist-se":
        assert {task["owner"] for task in state["tasks"]} == {"vendor"}


# ---------------------------------------------------------------- dates outside 2000–2099


def _reasons(response: Any) -> str:
    """A 422's reasons as one text: the service's detail, or FastAPI's field errors as 'loc: msg'."""
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return detail
    return "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in detail)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        pytest.param(
            "events/park",
            {"reason": "semester", "until": "0001-01-01"},
            "until",
            id="park-year-1",
        ),
        pytest.param("park", {"reason": "semester", "until": "0001-01-01"}, "until", id="park-route"),
        pytest.param("events/park", {"reason": "semester", "until": "2100-01-01"}, "until", id="park-2100"),
        pytest.param("events/park", {"reason": "semester", "until": "9999-12-31"}, "until", id="park-9999"),
        pytest.param(
            "events/meeting_booked",
            {"meeting_at": "1999-12-31T23:59:59+00:00"},
            "meeting_at",
            id="meeting-1999",
        ),
        pytest.param(
            "events/meeting_booked",
            {"meeting_at": "9999-12-31T23:59:59-12:00"},
            "meeting_at",
            id="meeting-9999",
        ),
        pytest.param(
            "meeting-booked",
            {"meeting_at": "0001-01-01T00:00:00+01:00"},
            "meeting_at",
            id="meeting-route-year-1",
        ),
    ],
)
async def test_a_payload_date_outside_2000_to_2099_is_422_naming_the_field(
    kickoff: Kickoff, bystander: str, path: str, body: dict[str, Any], field: str
) -> None:
    """A date or datetime far from today is a typo: 422 naming the field (not 409 from a date the
    run cannot plan with), through the generic endpoint and its shorthand; the run is unchanged."""
    before = await kickoff.state(bystander)
    response = await kickoff.post(f"/onboardings/{bystander}/{path}", body)
    assert response.status_code == 422, response.text
    # The run's payload check names the field; the shorthands' own models refuse it first.
    assert re.search(f"{field}: (Value error, )?the date is outside 2000–2099", _reasons(response))
    after = await kickoff.state(bystander)
    assert comparable(after) == comparable(before)


async def test_a_reported_date_in_the_past_but_before_2000_is_422(kickoff: Kickoff) -> None:
    """`past: true` bounds a date from above only: the year-1 kick-off or a 1999 contact is refused
    by the 2000–2099 bound instead, naming the field; the first day of 2000 is accepted."""
    pp = await _start(kickoff, "pakkepilot-no")
    response = await kickoff.post(
        f"/onboardings/{pp}/events/kickoff_held", {"held_at": "0001-01-01T09:00:00Z"}
    )
    assert response.status_code == 422, response.text
    assert "held_at: the date is outside 2000–2099" in _reasons(response)
    assert (await kickoff.state(pp))["stage"] == "kickoff"

    kp = await _start(kickoff, "kundprocess-se")
    contact = {"channel": "phone", "summary": "Avstämning"}
    response = await kickoff.post(
        f"/onboardings/{kp}/events/contact_logged", {**contact, "contacted_on": "1999-12-31"}
    )
    assert response.status_code == 422, response.text
    assert "contacted_on: the date is outside 2000–2099" in _reasons(response)
    assert _ticks(await kickoff.state(kp), "contact_logged") == 0

    response = await kickoff.post(
        f"/onboardings/{kp}/events/contact_logged", {**contact, "contacted_on": "2000-01-01"}
    )
    assert response.status_code == 202, response.text
    [entry] = [e for e in (await kickoff.state(kp))["timeline"] if e["event"] == "contact_logged"]
    assert "contacted_on: 2000-01-01" in entry["detail"]


async def test_parking_until_the_last_day_of_2099_is_accepted(kickoff: Kickoff) -> None:
    """The bound includes 2099-12-31: the run parks and plans its resumption for 08:00 that day."""
    oid = await kickoff.start()
    response = await kickoff.post(
        f"/onboardings/{oid}/events/park", {"reason": "lång paus", "until": "2099-12-31"}
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"id": oid, "stage": "manual_follow_up"}
    state = await kickoff.state(oid)
    assert state["next_step_at"] == "2099-12-31T07:00:00Z"


@pytest.mark.parametrize(
    ("pipeline", "overrides", "field", "reason"),
    [
        pytest.param(
            "assist-se", {"delivery_start": "1999-12-31"}, "delivery_start", "1999-12-31", id="start-1999"
        ),
        pytest.param(
            "assist-se", {"delivery_start": "2100-01-01"}, "delivery_start", "2100-01-01", id="start-2100"
        ),
        pytest.param(
            "pakkepilot-no",
            {"delivery_start": "0001-01-01"},
            "delivery_start",
            "0001-01-01",
            id="start-year-1",
        ),
        pytest.param(
            "kundprocess-se",
            {"dates": {"renewal": "2100-01-01"}},
            "dates.renewal",
            "2100-01-01",
            id="renewal-2100",
        ),
        pytest.param(
            "kundprocess-se",
            {"dates": {"renewal": "1999-12-31"}},
            "dates.renewal",
            "1999-12-31",
            id="renewal-1999",
        ),
    ],
)
async def test_contract_with_a_date_outside_2000_to_2099_is_422_and_starts_nothing(
    kickoff: Kickoff, pipeline: str, overrides: dict[str, Any], field: str, reason: str
) -> None:
    """delivery_start and the contract's dates must lie in 2000–2099: 422 naming the field, no run."""
    payload = _payload(pipeline, **overrides)
    response = await kickoff.submit(payload)
    assert response.status_code == 422, response.text
    assert f"{field}: Value error, the date is outside 2000–2099" in _reasons(response)
    assert reason not in response.text
    missing = await kickoff.get(f"/onboardings/{PREFIXES[pipeline]}-{payload['contract_id']}")
    assert missing.status_code == 404, missing.text


async def test_contract_dates_on_the_bounds_are_accepted(kickoff: Kickoff) -> None:
    """2000-01-01 and 2099-12-31 are inside the bound: both contracts start a run."""
    oid = await _start(kickoff, "kundprocess-se", dates={"renewal": "2099-12-31"})
    assert (await kickoff.state(oid))["stage"] == "onboarding"
    early = await kickoff.submit(_payload("assist-se", delivery_start="2000-01-01"))
    assert early.status_code == 202, early.text
    late = await kickoff.submit(_payload("assist-se", delivery_start="2099-12-31"))
    assert late.status_code == 202, late.text
    state = await kickoff.until(late.json()["id"], lambda s: s["next_step_at"] is not None)
    assert (state["stage"], state["next_step_at"]) == ("new", "2100-01-01T07:00:00Z")


@pytest.mark.parametrize("pipeline", ["pakkepilot-no", "assist-se"])
async def test_contract_with_empty_modules_is_422_and_starts_nothing(kickoff: Kickoff, pipeline: str) -> None:
    """`modules: []` would onboard nothing: 422 saying modules is empty (leave it out for the defaults)."""
    payload = _payload(pipeline, modules=[])
    response = await kickoff.submit(payload)
    assert response.status_code == 422, response.text
    detail = _reasons(response)
    assert "modules is empty" in detail
    assert "leave the field out" in detail
    missing = await kickoff.get(f"/onboardings/{PREFIXES[pipeline]}-{payload['contract_id']}")
    assert missing.status_code == 404, missing.text


@pytest.mark.parametrize("signed_at", ["1999-12-31T10:00:00+01:00", "9999-12-31T23:59:59-12:00"])
async def test_contract_signed_outside_2000_to_2099_is_422(kickoff: Kickoff, signed_at: str) -> None:
    """signed_at is an anchor (pakkepilot-no's kick-off chase counts from it) but takes any year: the
    contract gets 202, and with 9999-12-31 the run's workflow task fails on every attempt (OverflowError
    in offset_moment) so GET answers 503 for good."""
    payload = _payload("pakkepilot-no", signed_at=signed_at)
    response = await kickoff.submit(payload)
    assert response.status_code == 422, response.text
    assert "signed_at" in _reasons(response)


# ---------------------------------------------------------------- Idempotency-Key


async def _keyed(kickoff: Kickoff, path: str, body: Any, key: str) -> httpx.Response:
    """POST with the API key and an Idempotency-Key header."""
    headers = {**kickoff.api.auth, "Idempotency-Key": key}
    return await kickoff.http.post(path, json=body, headers=headers)


def _key() -> str:
    return f"key-{uuid.uuid4().hex}"


ANSWERED = {"outcome": "answered", "note": "bokar möte"}


async def test_an_event_sent_twice_with_one_key_is_applied_once(kickoff: Kickoff) -> None:
    """call_logged sent twice with the same Idempotency-Key: both answer 202 alike, one timeline entry;
    a different key is a different request and adds a second."""
    oid = await kickoff.start()
    path, key = f"/onboardings/{oid}/events/call_logged", _key()
    first = await _keyed(kickoff, path, ANSWERED, key)
    again = await _keyed(kickoff, path, ANSWERED, key)
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json() == first.json() == {"id": oid, "stage": "onboarding"}
    state = await kickoff.state(oid)
    assert _ticks(state, "call_logged") == 1
    assert [t["status"] for t in state["tasks"] if t["kind"] == "call"] == ["done"]

    other = await _keyed(kickoff, path, ANSWERED, _key())
    assert other.status_code == 202, other.text
    assert _ticks(await kickoff.state(oid), "call_logged") == 2


async def test_concurrent_retries_with_one_key_apply_once(kickoff: Kickoff) -> None:
    """Three requests with the same key at once all answer 202 and leave one timeline entry."""
    oid = await kickoff.start()
    path, key = f"/onboardings/{oid}/events/call_logged", _key()
    responses = await asyncio.gather(*(_keyed(kickoff, path, ANSWERED, key) for _ in range(3)))
    assert [r.status_code for r in responses] == [202, 202, 202], [r.text for r in responses]
    assert _ticks(await kickoff.state(oid), "call_logged") == 1


async def test_a_key_belongs_to_one_onboarding(kickoff: Kickoff) -> None:
    """A key names one request of its caller: on a second onboarding it is 422 and that run logs no
    call; the first onboarding's retry is answered again and its run logs the call once."""
    first, second = await kickoff.start(), await kickoff.start()
    key = _key()
    for oid, status in ((first, 202), (second, 422), (first, 202)):
        response = await _keyed(kickoff, f"/onboardings/{oid}/events/call_logged", ANSWERED, key)
        assert response.status_code == status, response.text
    assert [_ticks(await kickoff.state(oid), "call_logged") for oid in (first, second)] == [1, 0]


async def test_a_key_sent_again_with_another_request_is_422(kickoff: Kickoff) -> None:
    """A key names a request: sent again with another payload or another event it is 422 and nothing
    more is applied (the run is not parked, the outcome stays 'answered')."""
    oid = await kickoff.start()
    key = _key()
    first = await _keyed(kickoff, f"/onboardings/{oid}/events/call_logged", ANSWERED, key)
    assert first.status_code == 202, first.text
    before = await kickoff.state(oid)
    for event, body in (("call_logged", {"outcome": "no_answer"}), ("park", {"reason": "semester"})):
        response = await _keyed(kickoff, f"/onboardings/{oid}/events/{event}", body, key)
        assert response.status_code == 422, response.text
        assert "used for another request" in _reasons(response)
    after = await kickoff.state(oid)
    assert comparable(after) == comparable(before)
    [detail] = [e["detail"] for e in after["timeline"] if e["event"] == "call_logged"]
    assert detail.startswith("Samtal genomfört")


async def test_a_refused_request_does_not_use_up_its_key(kickoff: Kickoff) -> None:
    """A request refused with 422 or 409 is not remembered: the same key, sent once the request can
    be applied, applies it (once)."""
    oid = await kickoff.start()
    key = _key()
    path = f"/onboardings/{oid}/events/call_logged"
    refused = await _keyed(kickoff, path, {"outcome": "maybe"}, key)
    assert refused.status_code == 422, refused.text
    for _ in range(2):
        response = await _keyed(kickoff, path, ANSWERED, key)
        assert response.status_code == 202, response.text
    assert _ticks(await kickoff.state(oid), "call_logged") == 1

    resume = f"/onboardings/{oid}/events/resume"
    key = _key()
    refused = await _keyed(kickoff, resume, {}, key)
    assert refused.status_code == 409, refused.text
    parked = await kickoff.post(f"/onboardings/{oid}/events/park", {"reason": "semester"})
    assert parked.json()["stage"] == "manual_follow_up"
    for _ in range(2):
        response = await _keyed(kickoff, resume, {}, key)
        assert response.status_code == 202, response.text
        assert response.json() == {"id": oid, "stage": "onboarding"}
    assert _ticks(await kickoff.state(oid), "resume") == 1


async def test_checklist_ticks_with_keys_apply_once_each(kickoff: Kickoff) -> None:
    """tick, untick, tick with three keys: three changes. Sending the first tick's key again with an
    untick is 422 and leaves the item ticked; the untick's key sent with a tick is 422, and nothing
    changes either."""
    oid = await _start(kickoff, "pakkepilot-no")
    path = f"/onboardings/{oid}/checklist/portal_access"
    tick_key, untick_key, retick_key = _key(), _key(), _key()
    ticked = await _keyed(kickoff, path, {"by": "Kari"}, tick_key)
    unticked = await _keyed(kickoff, path, {"ticked": False}, untick_key)
    reticked = await _keyed(kickoff, path, {"by": "Ola"}, retick_key)
    assert [r.status_code for r in (ticked, unticked, reticked)] == [200, 200, 200], reticked.text
    assert [r.json()["ticked"] for r in (ticked, unticked, reticked)] == [True, False, True]
    assert unticked.json()["unticked"] == BEFORE_GO_LIVE
    state = await kickoff.state(oid)
    assert (_ticks(state, "checklist_ticked"), _ticks(state, "checklist_unticked")) == (2, 1)
    assert _item(state, "portal_access")["ticked_by"] == "Ola"

    retried = await _keyed(kickoff, path, {"ticked": False}, tick_key)
    assert retried.status_code == 422, retried.text
    retried = await _keyed(kickoff, path, {"by": "Per"}, untick_key)
    assert retried.status_code == 422, retried.text
    after = await kickoff.state(oid)
    assert after["checklist"] == state["checklist"]
    assert comparable(after) == comparable(state)


async def test_concurrent_checklist_ticks_with_one_key_answer_alike(kickoff: Kickoff) -> None:
    """Concurrent retries of a tick with one key answer the same 200 and leave one tick."""
    oid = await _start(kickoff, "pakkepilot-no")
    path, key = f"/onboardings/{oid}/checklist/returns_agreed", _key()
    responses = await asyncio.gather(*(_keyed(kickoff, path, {"by": "staff 1"}, key) for _ in range(3)))
    assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    state = await kickoff.state(oid)
    assert _ticks(state, "checklist_ticked") == 1
    assert _item(state, "returns_agreed")["ticked_by"] == "staff 1"


@pytest.mark.parametrize(
    ("path", "body", "entry"),
    [("events/call_logged", ANSWERED, "call_logged"), ("checklist/portal_access", None, "checklist_ticked")],
    ids=["event", "checklist"],
)
async def test_an_idempotency_key_over_200_characters_is_422(
    kickoff: Kickoff, path: str, body: dict[str, Any] | None, entry: str
) -> None:
    """A key of 201 characters gets 422 naming the header and changes nothing; 200 are accepted."""
    oid = await _start(kickoff, "pakkepilot-no")
    before = await kickoff.state(oid)
    response = await _keyed(kickoff, f"/onboardings/{oid}/{path}", body, "k" * 201)
    assert response.status_code == 422, response.text
    assert "header.idempotency-key: String should have at most 200 characters" in _reasons(response)
    after = await kickoff.state(oid)
    assert comparable(after) == comparable(before)
    assert after["checklist"] == before["checklist"]

    accepted = await _keyed(kickoff, f"/onboardings/{oid}/{path}", body, _key().ljust(200, "k"))
    assert accepted.status_code in (200, 202), accepted.text
    assert _ticks(before, entry) == 0
    assert _ticks(await kickoff.state(oid), entry) == 1


async def test_retrying_a_goal_event_with_its_key_after_the_run_completed_answers_alike(
    kickoff: Kickoff,
) -> None:
    """meeting_booked closes the run; a retry of it with the same key after the run has completed is
    answered 409 'completed' although Temporal still holds the update's result for that id."""
    oid = await kickoff.start()
    path, key = f"/onboardings/{oid}/events/meeting_booked", _key()
    first = await _keyed(kickoff, path, MEETING, key)
    assert first.status_code == 202, first.text
    await kickoff.record_completed(oid)
    retried = await _keyed(kickoff, path, MEETING, key)
    assert (retried.status_code, retried.json()) == (202, first.json()), retried.text


@pytest.mark.parametrize(
    ("first", "then"),
    [
        (("events/call_logged", ANSWERED), ("checklist/portal_access", None)),
        (("checklist/portal_access", None), ("events/call_logged", ANSWERED)),
    ],
    ids=["event-then-tick", "tick-then-event"],
)
async def test_a_key_reused_on_the_other_endpoint_is_not_a_500(
    kickoff: Kickoff, first: tuple[str, Any], then: tuple[str, Any]
) -> None:
    """A key first used for an event and then for a checklist tick (or the other way round) makes the
    API decode the event's stage as a checklist (or a checklist as a stage): 500."""
    oid = await _start(kickoff, "pakkepilot-no")
    key = _key()
    response = await _keyed(kickoff, f"/onboardings/{oid}/{first[0]}", first[1], key)
    assert response.status_code in (200, 202), response.text
    response = await _keyed(kickoff, f"/onboardings/{oid}/{then[0]}", then[1], key)
    assert response.status_code < 500, response.text


async def test_a_key_reused_for_an_item_of_another_checklist_is_not_a_500(kickoff: Kickoff) -> None:
    """On wisenetwork-fi a key first used to tick training_sales (checklist trainings) and then sent
    to tick settings_done (launch_ready) returns the trainings items, in which the route's
    next(...) finds no settings_done: StopIteration, 500."""
    oid = await _start(kickoff, "wisenetwork-fi")
    key = _key()
    response = await _keyed(kickoff, f"/onboardings/{oid}/checklist/training_sales", None, key)
    assert response.status_code == 200, response.text
    response = await _keyed(kickoff, f"/onboardings/{oid}/checklist/settings_done", None, key)
    assert response.status_code < 500, response.text
