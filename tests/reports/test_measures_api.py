"""GET /reports/records and /reports/compliance through HTTP on the Temporal dev server: a logged
opportunity reaches its status's sum, a logged contact moves the contact share, and a run started
before the report facts gets them through ``kickoff-admin rebuild-read-model``.

kundprocess-se's opportunities and its quarterly-contact share concern onboardings in
partnership, eight weeks after delivery starts: the app here reads a copy of pipelines.yaml in
which the onboarding stage also accepts opportunities and counts for the share, so a real-time
run can show both at once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.api import create_app
from kickoff.crypto.fields import sealer_of
from kickoff.db import Database
from kickoff.db.read_model import ReadModelStore
from kickoff.domain import OnboardingInput, OnboardingState
from kickoff.mailcatcher import MailCatcher
from kickoff.readmodel.from_temporal import rebuild
from kickoff.worker import WORKFLOW_RUNNER, create_worker
from kickoff.workflows.onboarding import OnboardingWorkflow
from kickoff.workflows.read_model_writer import ReadModelWriter
from tests.api.conftest import Kickoff
from tests.conftest import Api, api_settings, serve_app
from tests.support import PIPELINES_FILE, eventually, kickoff_activities, local_today

PIPELINE = "kundprocess-se"
REPORTS = {
    "records": {
        "opportunity_value": {
            "label": "Möjligheter per status (SEK)",
            "record": "opportunities",
            "sum": "value",
            "by": "status",
        }
    },
    "compliance": {
        "quarterly_contact": {
            "label": "Kontakt senaste kvartalet",
            "recent": {
                "anchor": ["last_contact", "entered:partnership"],
                "days": 90,
                "in_stages": ["onboarding", "partnership", "expansion"],
            },
        }
    },
}
CONTACT = {"channel": "phone", "summary": "Hälsokontroll och framtida behov"}


def opportunity(value: int, status: str = "pipeline") -> dict[str, Any]:
    expected = local_today().replace(day=1).isoformat()
    return {
        "title": "Workshop för ledningsgruppen",
        "value": value,
        "expected_on": expected,
        "status": status,
    }


def _pipelines_file(folder: Path) -> Path:
    """pipelines.yaml with kundprocess-se's opportunities and contact share open in onboarding."""
    document = yaml.safe_load(PIPELINES_FILE.read_text(encoding="utf-8"))
    kundprocess = document["pipelines"][PIPELINE]
    kundprocess["events"]["opportunity_logged"]["allowed_in"].insert(0, "onboarding")
    kundprocess["reports"] = REPORTS
    path = folder / "pipelines.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
async def app(dev_server: Client, smtp: MailCatcher, tmp_path: Path) -> AsyncIterator[Kickoff]:
    """The API on a task queue and database of its own, with no worker: each test runs its own."""
    settings = api_settings(
        f"measures-{uuid.uuid4().hex}", tmp_path, smtp, pipelines_file=_pipelines_file(tmp_path)
    )
    async with (
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        helper = Kickoff(Api(http=http, settings=settings, client=dev_server), smtp)
        yield helper
        await helper.terminate_started()


async def _report(kickoff: Kickoff, name: str, **params: str) -> dict[str, Any]:
    response = await kickoff.get(f"/reports/{name}", pipeline=PIPELINE, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _groups(kickoff: Kickoff) -> dict[str, tuple[int, float]]:
    [measure] = (await _report(kickoff, "records"))["measures"]
    assert measure["id"] == "opportunity_value"
    return {group["key"]: (group["records"], group["sum"]) for group in measure["groups"]}


async def _contact_share(kickoff: Kickoff) -> tuple[int, int]:
    [measure] = (await _report(kickoff, "compliance"))["measures"]
    assert measure["id"] == "quarterly_contact"
    return measure["met"], measure["of"]


async def _start(kickoff: Kickoff) -> str:
    return await kickoff.start(pipeline=PIPELINE, delivery_start=local_today().isoformat())


async def _event(kickoff: Kickoff, oid: str, name: str, body: dict[str, Any]) -> None:
    response = await kickoff.post(f"/onboardings/{oid}/events/{name}", body)
    assert response.status_code == 202, response.text


async def test_a_logged_opportunity_reaches_the_sum_of_its_status(app: Kickoff, dev_server: Client) -> None:
    """Every declared status is listed with zeros at first; logging an 85,000 SEK pipeline
    opportunity and a 12,000 SEK recurring one adds each to its own status's sum and count."""
    async with create_worker(dev_server, app.api.settings):
        oid = await _start(app)
        empty = {"invoiced": (0, 0.0), "recurring": (0, 0.0), "pipeline": (0, 0.0)}
        assert await _groups(app) == empty
        await _event(app, oid, "opportunity_logged", opportunity(85_000))
        await _event(app, oid, "opportunity_logged", opportunity(12_000, "recurring"))
        expected = {"invoiced": (0, 0.0), "recurring": (1, 12_000.0), "pipeline": (1, 85_000.0)}
        await eventually(lambda: _groups(app), lambda groups: groups == expected, within=15)
        [measure] = (await _report(app, "records"))["measures"]
        assert (measure["records"], measure["total"], measure["sum_of"]) == (2, 97_000.0, "value")


async def test_the_contact_share_rises_when_a_contact_is_logged(app: Kickoff, dev_server: Client) -> None:
    """Two onboardings without a contact: 0 of 2 have had one in 90 days; a logged contact for
    one makes it 1 of 2, and the report says when it judged."""
    async with create_worker(dev_server, app.api.settings):
        first, _second = await _start(app), await _start(app)
        assert await _contact_share(app) == (0, 2)
        await _event(app, first, "contact_logged", CONTACT)
        await eventually(lambda: _contact_share(app), lambda share: share == (1, 2), within=15)
        body = await _report(app, "compliance")
        assert body["measures"][0]["share"] == 0.5
        assert body["pipeline"] == PIPELINE
        assert datetime.fromisoformat(body["as_of"]).tzinfo is not None


async def test_without_a_pipeline_or_with_an_unknown_one_both_reports_are_422(app: Kickoff) -> None:
    """The refusal names the known pipelines, as the funnel's does."""
    for name in ("records", "compliance"):
        assert (await app.get(f"/reports/{name}")).status_code == 422
        response = await app.get(f"/reports/{name}", pipeline="nope")
        assert response.status_code == 422, response.text
        assert PIPELINE in response.text


class WriterBeforeRecords(ReadModelWriter):
    """The read-model writer of the release before the report facts: it never writes them."""

    def writes_facts(self) -> bool:
        return False


@workflow.defn(name="Onboarding", sandboxed=False)  # a test module: not re-imported per run
class BeforeRecords(OnboardingWorkflow):
    """The workflow as runs started before the report facts run it (no ``read-model-records``)."""

    @workflow.init
    def __init__(self, input: OnboardingInput) -> None:
        super().__init__(input)
        self._writer = WriterBeforeRecords(self._run, self._writer.on, self._changed)

    @workflow.run
    async def run(self, input: OnboardingInput) -> OnboardingState:
        return await super().run(input)


def _store(kickoff: Kickoff) -> ReadModelStore:
    sealer = sealer_of(kickoff.api.client.data_converter)
    return ReadModelStore(Database(kickoff.api.settings.database_url), sealer)


async def _anchors(store: ReadModelStore, oid: str) -> set[str]:
    [snapshot] = [s for s in await store.dump() if s.entry.id == oid]
    return {a.name for a in snapshot.facts.anchors} if snapshot.facts else set()


async def test_a_run_started_before_the_facts_gets_them_from_the_rebuild_and_writes_them_on(
    app: Kickoff, dev_server: Client, smtp: MailCatcher
) -> None:
    """A contact logged on the earlier release's worker never reaches the read model; on this
    release's worker the run replays the same way, the rebuild stores its facts (the query has
    them) and its join signal has the run write them from then on (a later opportunity)."""
    settings = app.api.settings
    store = _store(app)
    mail = MailActivities(SmtpConfig(smtp.host, smtp.port, settings.mail_from), MailLedger(store.database))
    earlier = Worker(
        dev_server,
        task_queue=settings.task_queue,
        workflows=[BeforeRecords],
        activities=kickoff_activities(mail),
        workflow_runner=WORKFLOW_RUNNER,
    )
    async with earlier:
        oid = await _start(app)
        await _event(app, oid, "contact_logged", CONTACT)
        await app.until(oid, lambda s: any(e["event"] == "contact_logged" for e in s["timeline"]))
        assert "last_contact" not in await _anchors(store, oid)
    async with create_worker(dev_server, settings):
        await app.state(oid)  # this release's worker replays the run
        assert await _contact_share(app) == (0, 1)

        result = await rebuild(dev_server, store, settings.task_queue)
        assert (result.joined, result.failed) == (1, [])
        assert "last_contact" in await _anchors(store, oid)
        assert await _contact_share(app) == (1, 1)

        await _event(app, oid, "opportunity_logged", opportunity(40_000, "invoiced"))
        await eventually(lambda: _groups(app), lambda groups: groups["invoiced"] == (1, 40_000.0), within=15)
