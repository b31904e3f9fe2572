"""The board's Preview page over real HTTP: the form, the plan drawn as a timeline, refusals.

The app is served without a worker (a preview never reaches Temporal); every date posted is
fixed, since a preview reads no clock.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import MagicMock

import httpx
import pytest

from kickoff.api import create_app
from kickoff.mailcatcher import MailCatcher
from tests.accounts import VIEWER
from tests.board.support import alert, csrf_token, signed_in_client, text_of
from tests.conftest import api_settings, serve_app

EVENTS = """\
- {at: 2027-05-05T10:00, event: call_logged, payload: {outcome: answered}}
- {at: 2027-05-06, event: resume}
- {at: 2027-05-12T11:00, event: meeting_booked, payload: {meeting_at: "2027-05-14T10:00:00+02:00"}}
"""


@pytest.fixture(scope="module")
async def base_url(smtp: MailCatcher, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The app (API and board) on loopback, with a Temporal client it never uses."""
    settings = api_settings(
        "preview-board", tmp_path_factory.mktemp("preview"), smtp, session_cookie_secure=False
    )
    async with serve_app(create_app(client=MagicMock(), settings=settings)) as url:
        yield url


@pytest.fixture
async def staff(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in_client(base_url) as http:
        yield http


def form(page: str, **fields: Any) -> dict[str, Any]:
    """An assist-se contract signed 28 April 2027, with ``fields`` on top."""
    data: dict[str, Any] = {
        "csrf_token": csrf_token(page),
        "pipeline": "assist-se",
        "customer": "Åre Hälsa AB",
        "language": "sv",
        "licenses": "12",
        "signed": "2027-04-28T09:00",
        "delivery": "2027-05-03",
        "events": EVENTS,
        "until": "",
    }
    data.update(fields)
    return data


def svg_of(page: str) -> ET.Element:
    found = re.search(r"<svg .*?</svg>", page, re.S)
    assert found, "no timeline on the page"
    return ET.fromstring(found.group(0))  # noqa: S314 - the app's own markup


async def test_the_page_offers_a_form_for_the_chosen_pipeline(staff):
    """GET shows the pipeline's languages, its modules (the default ones ticked) and no script."""
    response = await staff.get("/board/preview", params={"pipeline": "wisenetwork-fi"})
    assert response.status_code == 200, response.text
    page = response.text
    assert '<a href="/board/preview" aria-current="page">Preview</a>' in page
    assert '<option value="fi" selected>fi</option>' in page
    assert re.search(r'value="crm" checked>', page)
    assert re.search(r'value="accounting">', page)  # not a default module
    assert "<script" not in page
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none'
    assert 'id="plan"' not in page


async def test_posting_the_form_draws_the_plan_as_a_timeline(staff):
    """The plan: stage bands, marks per lane with their text, the script's results, day by day."""
    page = (await staff.get("/board/preview")).text
    response = await staff.post("/board/preview", data=form(page))
    assert response.status_code == 200, response.text
    page = response.text
    assert 'data-ended="goal"' in page
    svg = svg_of(page)
    namespace = {"svg": "http://www.w3.org/2000/svg"}
    stages = [g.get("data-stage") for g in svg.iterfind(".//svg:g[@class='stage']", namespace)]
    assert stages == ["new", "onboarding", "closed"]
    tips = [t.text or "" for t in svg.iterfind(".//svg:g/svg:title", namespace)]
    assert "Tue 2027-05-04 08:00 CEST: mail welcome to main_user in sv" in tips
    assert any(
        tip.startswith("Thu 2027-05-06 09:00 CEST: event resume refused: resume is not") for tip in tips
    )
    text = text_of(page)
    assert "the onboarding completes in Avslutad" in text
    assert "Tue 2027-05-04 08:00 step start onboarding (day after delivery start)" in text
    assert "08:00 stage Onboarding – Pågår (onboarding) step start-onboarding" in text
    assert "refused resume is not accepted in stage 'onboarding'" in text
    assert 'data-index="2" data-accepted="true"' in page
    assert "Ring kunden: inget uppstartsmöte bokat (dag 7)" in text
    assert 'value="Åre Hälsa AB"' in page  # the form stays filled in


async def test_a_viewer_may_preview(base_url):
    """Previewing changes nothing, so the viewer role may do it."""
    async with signed_in_client(base_url, VIEWER) as viewer:
        page = (await viewer.get("/board/preview")).text
        response = await viewer.post("/board/preview", data=form(page, events=""))
    assert response.status_code == 200, response.text
    assert 'id="plan"' in response.text


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"events": "- {at: 2027-05-05, event: booked}"}, "events.0.event: assist-se has no event 'booked'"),
        ({"events": "just text"}, "Events: must be a list of actions"),
        ({"signed": "soon"}, "Signed: must be a date like 2027-05-17"),
        ({"licenses": "0"}, "contract.licenses: Input should be greater than or equal to 1"),
        ({"until": "2027-04-01"}, "until: must be after from"),
    ],
    ids=["unknown-event", "not-a-list", "bad-signed", "no-licences", "until-before-signed"],
)
async def test_bad_input_is_named_and_the_form_refilled(staff, fields, problem):
    """422 with the problem listed under the form, which keeps what was typed."""
    page = (await staff.get("/board/preview")).text
    response = await staff.post("/board/preview", data=form(page, **fields))
    assert response.status_code == 422, response.text
    assert alert(response.text) == "The preview could not run: see the problems below the form."
    assert problem in text_of(response.text)
    assert 'id="plan"' not in response.text
    assert 'value="Åre Hälsa AB"' in response.text


async def test_without_its_csrf_token_the_form_is_rejected(staff):
    """A forged post (no token) is refused before anything runs."""
    page = (await staff.get("/board/preview")).text
    response = await staff.post("/board/preview", data=form(page, csrf_token=""))
    assert response.status_code == 403


async def test_an_unknown_pipeline_is_404_and_signed_out_goes_to_sign_in(staff, base_url):
    """An unknown ``?pipeline=`` answers the error page; without a session, the sign-in page."""
    response = await staff.get("/board/preview", params={"pipeline": "nope"})
    assert response.status_code == 404
    assert "no pipeline 'nope'" in text_of(response.text)
    async with httpx.AsyncClient(base_url=base_url) as anonymous:
        signed_out = await anonymous.get("/board/preview")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/board/sign-in")
