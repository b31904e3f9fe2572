"""The onboarding page and its action forms, over real HTTP against a real worker."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from tests.accounts import ADVISOR, STAFF, VIEWER
from tests.board.support import (
    FUTURE_DELIVERY,
    LATER_DELIVERY,
    PAST_DELIVERY,
    BoardServer,
    alert,
    csrf_token,
    text_of,
)
from tests.support import days_ahead, local_today

NO_ANSWER = "Inget svar – försök till kontakt för onboarding"
# A kick-off three days from now at 10:00 Stockholm time, as typed into a datetime-local input.
MEETING_AT = days_ahead(3, 10)
TYPED_MEETING = MEETING_AT.strftime("%Y-%m-%dT%H:%M")


async def _page(staff: httpx.AsyncClient, oid: str) -> httpx.Response:
    response = await staff.get(f"/board/onboardings/{oid}")
    assert response.status_code == 200, response.text
    return response


async def _post(staff: httpx.AsyncClient, oid: str, action: str, **fields: str) -> httpx.Response:
    """Submit one of the page's forms the way a browser would (with the page's CSRF token)."""
    token = csrf_token((await _page(staff, oid)).text)
    return await staff.post(f"/board/onboardings/{oid}/{action}", data={**fields, "csrf_token": token})


async def _followed(staff: httpx.AsyncClient, response: httpx.Response) -> str:
    """The page a successful post redirects to (303), with its flash message."""
    assert response.status_code == 303, response.text
    page = await staff.get(response.headers["location"])
    assert page.status_code == 200
    return page.text


async def test_the_page_shows_the_run(board: BoardServer, staff: httpx.AsyncClient) -> None:
    """Stage, next step, tasks, mails and timeline of a run that has just begun onboarding."""
    oid = await board.start()
    text = text_of((await _page(staff, oid)).text)
    assert "Åre Hälsa & Söner AB" in text
    assert "Onboarding – Pågår" in text
    assert "day 3 call task at" in text
    assert "Välkomstsamtal till huvudanvändaren" in text  # an open task
    assert "welcome to orjan@are-halsa.example" in text  # a mail sent
    assert "contract received" in text  # the timeline
    assert "Restart onboarding" in text
    assert "Amended contract" not in text  # onboarding has begun


async def test_logging_a_call_through_its_form_shows_on_the_timeline(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    """The call form posts the call_logged event; the page comes back with it on the timeline and the
    welcome call task done (the event completes the oldest call task)."""
    oid = await board.start()
    response = await _post(
        staff, oid, "events/call_logged", **{"p.outcome": "no_answer", "p.note": "Röstbrevlåda"}
    )
    assert response.headers["location"] == f"/board/onboardings/{oid}"
    text = text_of(await _followed(staff, response))
    assert "Samtal loggat: done. Stage: Onboarding – Pågår." in text
    assert f"Samtal loggat {NO_ANSWER}; note: Röstbrevlåda" in text
    state = await board.state(oid)
    assert [e["detail"] for e in state["timeline"] if e["event"] == "call_logged"] == [
        f"{NO_ANSWER}; note: Röstbrevlåda"
    ]
    welcome_call = next(t for t in state["tasks"] if t["title"] == "Välkomstsamtal till huvudanvändaren")
    assert welcome_call["status"] == "done"


async def test_a_refused_action_shows_the_engines_reason(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    """Resume is not accepted outside manual follow-up: the page says why, with 409, and nothing changes."""
    oid = await board.start()
    before = await board.state(oid)
    response = await _post(staff, oid, "events/resume")
    assert response.status_code == 409
    assert alert(response.text) == (
        "Not done: resume is not accepted in stage 'onboarding' (accepted in: manual_follow_up)"
    )
    assert "<h1>Åre Hälsa &amp; Söner AB" in response.text  # still the onboarding page
    assert (await board.state(oid))["timeline"] == before["timeline"]


async def test_a_refused_form_keeps_what_was_typed(board: BoardServer, staff: httpx.AsyncClient) -> None:
    """Parking until a day that has passed is refused (422, the engine's reason) and the reason typed
    into the park form is still there to correct the date."""
    oid = await board.start()
    response = await _post(
        staff, oid, "events/park", **{"p.reason": "Semester i Thailand", "p.until": PAST_DELIVERY}
    )
    assert response.status_code == 422
    message = alert(response.text)
    assert message is not None
    assert message.startswith(f"Not done: until {PAST_DELIVERY} is too early")
    assert ">Semester i Thailand</textarea>" in response.text
    assert f'name="p.until" type="date" value="{PAST_DELIVERY}"' in response.text


async def test_park_then_resume(board: BoardServer, staff: httpx.AsyncClient) -> None:
    """Park (reason, until-date) moves the run to manual follow-up, whose page offers resume."""
    oid = await board.start()
    until = (local_today() + timedelta(days=40)).isoformat()
    parked = await _post(staff, oid, "events/park", **{"p.reason": "Semester", "p.until": until})
    text = text_of(await _followed(staff, parked))
    assert "Stage: Manuell uppföljning." in text
    assert "Onboarding återupptagen" in text  # the resume form
    resumed = await _post(staff, oid, "events/resume")
    assert "Stage: Onboarding – Pågår." in text_of(await _followed(staff, resumed))


async def test_booking_then_recording_a_completed_kickoff(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    """The meeting time typed as local wall-clock time is sent as Stockholm time; the booked run then
    completes and awaits its outcome, which the outcome form records with segment and advisor."""
    oid = await board.start()
    booked = await _post(staff, oid, "events/meeting_booked", **{"p.meeting_at": TYPED_MEETING})
    assert "Stage: Avslutad." in text_of(await _followed(staff, booked))
    state = await board.until(oid, lambda s: s["stage"] == "closed" and "kickoff_booked" in str(s["emails"]))
    [detail] = [e["detail"] for e in state["timeline"] if e["event"] == "meeting_booked"]
    assert MEETING_AT.isoformat() in detail  # e.g. ...T10:00:00+01:00 in winter, +02:00 in summer
    page = (await _page(staff, oid)).text
    assert "Kick-off held: record the outcome" in page
    # The advisor is one of the staff accounts (a viewer is none).
    [advisors] = re.findall(r'<select id="outcome-owner".*?</select>', page, re.S)
    assert ADVISOR.name in advisors
    assert VIEWER.name not in advisors
    recorded = await _post(staff, oid, "kickoff-outcome", outcome="completed", segment="B", owner="Sara Lind")
    text = text_of(await _followed(staff, recorded))
    assert "Kick-off outcome recorded: Completed." in text
    assert "Completed · B-kund" in text
    assert "Responsible advisor Sara Lind" in text
    assert f"Recorded by {STAFF.email}" in text
    # The booking completed the run; the outcome is in Kickoff's database, with who recorded it.
    after = await board.until(oid, lambda s: bool(s["kickoff_outcomes"]))
    assert after["status"] == "completed"
    assert [(o["outcome"], o["recorded_by"]) for o in after["kickoff_outcomes"]] == [
        ("completed", STAFF.email)
    ]


async def test_an_incomplete_outcome_is_refused_with_the_reason(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    """A completed kick-off without a segment is refused (422) with the engine's words."""
    oid = await board.start()
    await _post(staff, oid, "events/meeting_booked", **{"p.meeting_at": TYPED_MEETING})
    await board.until(oid, lambda s: s["stage"] == "closed")
    response = await _post(staff, oid, "kickoff-outcome", outcome="completed", owner="Sara Lind")
    assert response.status_code == 422
    assert "segment must be one of ['A', 'B', 'C', 'D']" in (alert(response.text) or "")
    assert 'value="Sara Lind"' in response.text  # the advisor typed stays in the form


async def test_a_no_show_outcome_restarts_onboarding(board: BoardServer, staff: httpx.AsyncClient) -> None:
    """ "No-show" on a booked run's outcome form records the outcome and starts cycle 2."""
    oid = await board.start()
    await _post(staff, oid, "events/meeting_booked", **{"p.meeting_at": TYPED_MEETING})
    await board.until(oid, lambda s: s["stage"] == "closed" and "kickoff_booked" in str(s["emails"]))
    response = await _post(staff, oid, "kickoff-outcome", outcome="no_show")
    text = text_of(await _followed(staff, response))
    assert (
        "Kick-off outcome recorded: No-show: onboarding restarted (cycle 2, stage Onboarding – Pågår)."
        in text
    )
    state = await board.until(oid, lambda s: s["cycle"] == 2)
    assert state["stage"] == "onboarding"


async def test_checklist_items_are_ticked_and_unticked(board: BoardServer, staff: httpx.AsyncClient) -> None:
    """A pipeline with a checklist lists its items; Tick records who ticked it, Untick opens it again."""
    oid = await board.start(pipeline="pakkepilot-no", language="nb")
    page = (await _page(staff, oid)).text
    assert "Før go-live (kunde)" in page
    assert "5 open" in text_of(page)
    ticked = await _post(staff, oid, "checklist/portal_access", ticked="true")
    text = text_of(await _followed(staff, ticked))
    assert "Item ticked." in text
    assert "4 open" in text
    assert f"by {STAFF.email}" in text
    [item] = [i for i in (await board.state(oid))["checklist"] if i["id"] == "portal_access"]
    assert item["ticked_by"] == STAFF.email
    unticked = await _post(staff, oid, "checklist/portal_access", ticked="false")
    assert "5 open" in text_of(await _followed(staff, unticked))
    unknown = await _post(staff, oid, "checklist/no_such_item", ticked="true")
    assert unknown.status_code == 404
    assert "has no checklist item 'no_such_item'" in (alert(unknown.text) or "")


async def test_a_no_show_restarts_onboarding(board: BoardServer, staff: httpx.AsyncClient) -> None:
    """The restart form starts cycle 2 in onboarding with a booking reminder."""
    oid = await board.start()
    response = await _post(staff, oid, "restart", reason="no_show")
    assert "Onboarding restarted: cycle 2, stage Onboarding – Pågår." in text_of(
        await _followed(staff, response)
    )
    state = await board.until(oid, lambda s: s["cycle"] == 2 and "booking_reminder" in str(s["emails"]))
    assert state["stage"] == "onboarding"


async def test_the_delivery_start_can_be_amended_before_onboarding_begins(
    board: BoardServer, staff: httpx.AsyncClient
) -> None:
    """In its first stage the page offers the amendment; after that the engine refuses it (409)."""
    waiting = await board.start(delivery_start=FUTURE_DELIVERY)
    assert "Amended contract: new delivery start" in (await _page(staff, waiting)).text
    moved = await _post(staff, waiting, "amend", delivery_start=LATER_DELIVERY)
    assert f"Delivery start moved to {LATER_DELIVERY}." in text_of(await _followed(staff, moved))
    assert (await board.state(waiting))["delivery_start"] == LATER_DELIVERY

    begun = await board.start()
    refused = await _post(staff, begun, "amend", delivery_start=LATER_DELIVERY)
    assert refused.status_code == 409
    assert "onboarding has begun" in (alert(refused.text) or "")


async def test_a_task_is_marked_done_from_the_page(board: BoardServer, staff: httpx.AsyncClient) -> None:
    """Mark done on an open task closes it and returns to the same page."""
    oid = await board.start()
    task = (await board.state(oid))["tasks"][0]
    token = csrf_token((await _page(staff, oid)).text)
    response = await staff.post(
        f"/board/tasks/{task['id']}/done", data={"back": "onboarding", "csrf_token": token}
    )
    assert response.headers["location"] == f"/board/onboardings/{oid}"
    assert "Task done." in await _followed(staff, response)
    done = next(t for t in (await board.state(oid))["tasks"] if t["id"] == task["id"])
    assert done["status"] == "done"


async def test_an_unknown_onboarding_is_a_404_page(staff: httpx.AsyncClient) -> None:
    """The reason is shown on an HTML page, not as JSON."""
    response = await staff.get("/board/onboardings/SE-C-nobody")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert alert(response.text) == "no onboarding SE-C-nobody"
