"""Temporal unreachable: the board shows a 503 page saying so, the API answers 503 JSON (not a bare 500)."""

from __future__ import annotations

import subprocess

import httpx
from temporalio.client import Client
from temporalio.service import RetryConfig

from kickoff.api import create_app
from kickoff.converter import data_converter
from kickoff.devstack import DevServerPorts, dev_server_command, wait_for_port
from kickoff.mailcatcher import MailCatcher, free_port
from tests.board.support import signed_in_client
from tests.conftest import API_KEY, api_settings, serve_app
from tests.support import eventually


async def _client_of_a_stopped_server() -> Client:
    """A client connected to a dev server of its own, which is then stopped: Temporal gone away."""
    ports = DevServerPorts(frontend=free_port(), ui=free_port(), http=free_port(), metrics=free_port())
    process = subprocess.Popen(  # noqa: ASYNC220 - a server of its own, started once
        dev_server_command(ports, db_file=None, headless=True),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", ports.frontend, 60, process)
        client = await eventually(
            lambda: _connect(f"127.0.0.1:{ports.frontend}"), lambda found: found is not None, within=60
        )
        assert client is not None
        return client
    finally:
        process.terminate()
        process.wait(timeout=20)


async def _connect(address: str) -> Client | None:
    try:
        # Few retries: the client would otherwise retry a refused connection for ten seconds.
        return await Client.connect(
            address, data_converter=data_converter, retry_config=RetryConfig(max_retries=1)
        )
    except RuntimeError:  # the port opens before the frontend is healthy
        return None


async def test_board_and_api_say_temporal_is_unavailable(smtp: MailCatcher, tmp_path) -> None:
    client = await _client_of_a_stopped_server()
    settings = api_settings("down", tmp_path, smtp, session_cookie_secure=False)
    async with serve_app(create_app(client=client, settings=settings)) as base_url:
        async with signed_in_client(base_url) as board:
            page = await board.get("/board/onboardings/SE-C-1", timeout=60)
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert "Temporal did not answer" in page.text
            assert "Sign out" in page.text  # the board's layout, not a bare error

        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            api = await http.get("/onboardings/SE-C-1", headers={"Authorization": f"Bearer {API_KEY}"})
            assert api.status_code == 503
            assert "Temporal did not answer" in api.json()["detail"]
