"""GET /reports/funnel and /reports/stage-times through HTTP on the Temporal dev server."""

from __future__ import annotations

import contextlib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError

from kickoff.api import create_app
from kickoff.reports import FunnelReport, StageTimesReport, funnel_svg, stage_times_svg
from tests.api.conftest import PAST_DELIVERY
from tests.conftest import Api, api_settings, serve_app
from tests.reports.conftest import Scenario
from tests.support import contract_payload, eventually, refusal

ASSIST_STAGES = ["new", "onboarding", "follow_up", "manual_follow_up", "inactive", "closed"]
# The scenario's onboardings by stage: waiting and the two restarted ones in onboarding, one
# parked, and in closed the booked one (running, awaiting its outcome) and the finished one.
EXPECTED_FUNNEL = {
    "new": 0,
    "onboarding": 3,
    "follow_up": 0,
    "manual_follow_up": 1,
    "inactive": 0,
    "closed": 2,
}


async def _report(api: Api, name: str, **params: str) -> dict[str, Any]:
    response = await api.http.get(f"/reports/{name}", params=params, headers=api.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _statuses(api: Api, oid: str) -> list[str]:
    """The statuses of every execution of ``oid`` in visibility, oldest first."""
    executions = [ex async for ex in api.client.list_workflows(f"WorkflowId = '{oid}'")]
    return [ex.status.name for ex in sorted(executions, key=lambda ex: ex.start_time) if ex.status]


def _counts(report: dict[str, Any]) -> dict[str, int]:
    return {row["stage"]: row["count"] for row in report["stages"]}


def _by_stage(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["stage"]: row for row in report["stages"]}


async def test_funnel_counts_each_onboarding_once_in_its_current_stage(
    reports_api: Api, scenario: Scenario
) -> None:
    """Per stage in pipeline order, each onboarding once: the completed (booked) run of an
    onboarding restarted afterwards is not counted besides its successor."""
    # The scenario really leaves those executions behind.
    await eventually(
        lambda: _statuses(reports_api, scenario.restarted_after_completion),
        lambda s: s == ["COMPLETED", "RUNNING"],
    )
    await eventually(
        lambda: _statuses(reports_api, scenario.restarted), lambda s: s == ["COMPLETED", "RUNNING"]
    )
    report = await eventually(
        lambda: _report(reports_api, "funnel", pipeline="assist-se"),
        lambda r: _counts(r) == EXPECTED_FUNNEL,
        within=20,
    )
    assert [row["stage"] for row in report["stages"]] == ASSIST_STAGES
    assert report == {
        "pipeline": "assist-se",
        "total": 6,
        "stages": [
            {"stage": "new", "label": "Ny", "count": 0},
            {"stage": "onboarding", "label": "Onboarding – Pågår", "count": 3},
            {"stage": "follow_up", "label": "Må följas upp", "count": 0},
            {"stage": "manual_follow_up", "label": "Manuell uppföljning", "count": 1},
            {"stage": "inactive", "label": "Inaktiva kunder", "count": 0},
            {"stage": "closed", "label": "Avslutad", "count": 2},
        ],
    }
    # The board's chart renders straight from the API's answer.
    svg = ET.fromstring(funnel_svg(FunnelReport.model_validate(report)))  # noqa: S314 - our own output
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}rect[@class='bar']")) == len(ASSIST_STAGES)


async def test_funnel_of_another_pipeline_is_all_zeros(reports_api: Api, scenario: Scenario) -> None:
    """assist-se onboardings are not counted in pakkepilot-no's funnel, whose stages all show 0."""
    report = await _report(reports_api, "funnel", pipeline="pakkepilot-no")
    assert report["pipeline"] == "pakkepilot-no"
    assert report["total"] == 0
    assert report["stages"]
    assert all(row["count"] == 0 for row in report["stages"])


async def test_stage_times_count_finished_visits_of_every_cycle(reports_api: Api, scenario: Scenario) -> None:
    """Each of the 6 first cycles left new for onboarding (the restarted ones' second cycles began
    in onboarding); 5 visits of onboarding finished (parked, booked, finished, and the first cycles
    of both restarted ones); the no-show's visit of closed ended at its restart. Visits still open
    (the last one of each run, a completed run's goal stage) do not count."""
    report = await eventually(
        lambda: _report(reports_api, "stage-times", pipeline="assist-se"),
        lambda r: r["onboardings"] == 6 and _by_stage(r)["new"]["visits"] == 6,
        within=20,
    )
    stages = _by_stage(report)
    assert list(stages) == ASSIST_STAGES
    new = stages["new"]
    assert new["label"] == "Ny"
    assert 0 <= new["median_hours"] <= new["p90_hours"] < 1  # it left new at once
    onboarding = stages["onboarding"]
    assert onboarding["visits"] == 5
    assert 0 <= onboarding["median_hours"] <= onboarding["p90_hours"] < 1
    assert stages["closed"]["visits"] == 1
    for stage in ("follow_up", "manual_follow_up", "inactive"):
        assert (stages[stage]["visits"], stages[stage]["median_hours"], stages[stage]["p90_hours"]) == (
            0,
            None,
            None,
        ), stage
    assert report["goal_stages"] == ["closed"]
    assert report["unreadable"] == 0
    # Decided: the four that reached closed at once (booked, finished, and both restarted ones in
    # their first cycle); the other two are seconds, not 30 days, into onboarding.
    assert (report["closed_within_30_days"], report["closed_within_30_days_of"]) == (1.0, 4)
    svg = ET.fromstring(stage_times_svg(StageTimesReport.model_validate(report)))  # noqa: S314
    assert svg.get("role") == "img"


async def test_stage_times_of_a_pipeline_without_onboardings_have_no_figures(reports_api: Api) -> None:
    """No onboardings: zero visits everywhere, no percentiles and no share, not an error."""
    report = await _report(reports_api, "stage-times", pipeline="wisenetwork-fi")
    assert report["onboardings"] == 0
    assert report["closed_within_30_days"] is None
    assert all(row["visits"] == 0 and row["median_hours"] is None for row in report["stages"])


@pytest.mark.parametrize("name", ["funnel", "stage-times"])
async def test_reports_need_an_api_key(reports_api: Api, name: str) -> None:
    """Without a key, or with a wrong one, the reports answer 401."""
    url = f"/reports/{name}"
    assert (await reports_api.http.get(url, params={"pipeline": "assist-se"})).status_code == 401
    wrong = {"Authorization": "Bearer not-a-key"}
    assert (
        await reports_api.http.get(url, params={"pipeline": "assist-se"}, headers=wrong)
    ).status_code == 401


@pytest.mark.parametrize("name", ["funnel", "stage-times"])
async def test_unknown_pipeline_is_422_listing_the_known_ones(reports_api: Api, name: str) -> None:
    """A pipeline id pipelines.yaml does not declare is 422, naming it and the pipelines there are."""
    response = await reports_api.http.get(
        f"/reports/{name}", params={"pipeline": "assist-dk"}, headers=reports_api.auth
    )
    assert response.status_code == 422, response.text
    detail = refusal(response)
    assert "'assist-dk'" in detail
    for known in ("assist-se", "kundprocess-se", "pakkepilot-no", "wisenetwork-fi"):
        assert known in detail


@pytest.mark.parametrize("name", ["funnel", "stage-times"])
async def test_missing_pipeline_is_422(reports_api: Api, name: str) -> None:
    """The pipeline parameter is required."""
    response = await reports_api.http.get(f"/reports/{name}", headers=reports_api.auth)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "pipeline"]


# ---------------------------------------------------------------- without a worker


@pytest.fixture
async def workerless(dev_server, tmp_path, smtp) -> AsyncIterator[Api]:
    """The API on a task queue no worker polls."""
    settings = api_settings(f"reports-no-worker-{uuid.uuid4().hex}", tmp_path, smtp)
    async with (
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
    ):
        yield Api(http=http, settings=settings, client=dev_server)


async def test_reports_without_a_worker_count_the_run_from_its_provisional_row(workerless: Api) -> None:
    """A run no worker has picked up yet is in the read model from its start (the API writes its
    planned first state): the funnel counts it in its first stage, and stage times count it as
    an onboarding without finished visits, instead of failing or waiting for a worker."""
    created = await workerless.post_contract(contract_payload(delivery_start=PAST_DELIVERY))
    assert created.status_code == 202, created.text
    oid = created.json()["id"]
    try:
        funnel = await eventually(
            lambda: _report(workerless, "funnel", pipeline="assist-se"), lambda r: r["total"] == 1
        )
        assert _counts(funnel)["new"] == 1  # no worker has moved it on
        times = await _report(workerless, "stage-times", pipeline="assist-se")
        assert (times["onboardings"], times["unreadable"]) == (1, 0)
        assert all(stage["visits"] == 0 for stage in times["stages"])
        assert times["closed_within_30_days"] is None
    finally:
        with contextlib.suppress(RPCError):
            await workerless.client.get_workflow_handle(oid).terminate(reason="test finished")
