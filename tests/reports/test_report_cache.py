"""Reports are reused for report_cache_seconds: a board view must not re-read every onboarding."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from temporalio.client import Client

from kickoff.api import create_app
from kickoff.mailcatcher import MailCatcher
from kickoff.worker import create_worker
from tests.api.conftest import Kickoff
from tests.conftest import Api, api_settings, serve_app
from tests.support import eventually


async def test_reports_are_reused_within_the_cache_time(
    dev_server: Client, smtp: MailCatcher, tmp_path
) -> None:
    settings = api_settings(f"cache-{uuid.uuid4().hex}", tmp_path, smtp, report_cache_seconds=3600)
    async with (
        create_worker(dev_server, settings),
        serve_app(create_app(client=dev_server, settings=settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
    ):
        kickoff = Kickoff(Api(http=http, settings=settings, client=dev_server), smtp)

        async def report(kind: str) -> dict[str, Any]:
            response = await kickoff.get(f"/reports/{kind}", pipeline="assist-se")
            assert response.status_code == 200, response.text
            return response.json()

        assert (await report("funnel"))["total"] == 0
        assert (await report("stage-times"))["onboardings"] == 0
        try:
            await kickoff.start()  # an onboarding in `onboarding`, visible to visibility queries
            await eventually(
                lambda: kickoff.get("/onboardings", pipeline="assist-se"), lambda r: len(r.json()) == 1
            )

            assert (await report("funnel"))["total"] == 0
            assert (await report("stage-times"))["onboardings"] == 0
        finally:
            await kickoff.terminate_started()
