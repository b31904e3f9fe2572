"""Schemathesis over every operation of the OpenAPI schema, against the app on the dev server.

Each operation gets its schema's examples, the coverage phase's boundary values and a bounded
number of generated requests, valid and invalid (``mode = all``), seeded and derandomized so a
failure comes back on every run, without shrinking (a failure is reported as generated). Every
answer must be documented: no 5xx, a status the operation lists, a body and headers that match
the schema, 4xx for invalid input and 405 with ``Allow`` for a method the path does not have.

Calls carry a service key (``Authorization: Bearer``, as the suite's settings configure).
Schemathesis calls with blocking ``requests``; the app and a worker therefore run on their own
event loop in a thread (on the suite's loop, a blocking call would stop the server it waits for).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import BaseSchema, Case, GenerationMode
from schemathesis.core import NotSet
from temporalio.client import Client
from temporalio.service import RPCError

from kickoff.api import create_app
from kickoff.converter import encrypted
from kickoff.crypto import DataKeys, MasterKeys
from kickoff.db import Database
from kickoff.mailcatcher import MailCatcher
from kickoff.settings import Settings
from kickoff.signature import sign
from kickoff.temporal import connect_when_ready, ensure_search_attributes
from kickoff.worker import create_worker
from tests.conftest import API_KEY, TEST_KEYS, WEBHOOK_SECRET, api_settings, serve_app
from tests.support import ROOT, contract_payload

ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
"""What ``positive_data_acceptance`` takes as accepting a schema-valid request (its default)."""


def also_accepted(label: str, *statuses: str) -> dict[str, Any]:
    """For operation ``label`` ("METHOD /path"), ``statuses`` also count as accepting a schema-valid
    request: a refusal for a reason the JSON Schema cannot state (each use says which). Its other
    checks stay as they are; a 5xx or an undocumented answer still fails."""
    return {
        "include-name": label,
        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, *statuses]}},
    }


CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261,
        "generation": {
            "mode": "all",
            # Per operation and mode; with the examples and coverage phases about 25-60 requests
            # an operation, the whole schema in about a minute on two cores.
            "max-examples": 5,
            "no-shrink": True,
            "deterministic": True,
            "database": "none",
        },
        # A service key, as the suite's settings configure: Schemathesis sends it where the schema
        # asks for Bearer, and leaves it out where it tests the request without credentials.
        "auth": {"openapi": {"HTTPBearer": {"bearer": API_KEY}}},
        # The stateful phase (links between operations) is not run: the schema declares no links.
        "phases": {"stateful": {"enabled": False}},
        "operations": [
            # A contract's modules and dates must be ones its pipeline declares (pipelines.yaml).
            also_accepted("POST /contracts", "422"),
            # A preview's window and script are checked against each other (until after from,
            # actions inside the window): reasons a schema cannot express.
            also_accepted("POST /pipelines/{pipeline_id}/simulate", "422"),
            # `after` is an opaque cursor: only one from a Link header of this list reads.
            also_accepted("GET /tasks", "422"),
            # `completed` needs a segment and an advisor, the others neither (a model validator),
            # and a segment must be one of the pipeline's.
            also_accepted("POST /onboardings/{onboarding_id}/kickoff-outcome", "422"),
            # Once the fuzzer has erased the running onboarding's personal data, it is gone.
            also_accepted("GET /onboardings/{onboarding_id}/personal-data", "410"),
            # An owner must be an account that may take work: which ones exist is data, not schema.
            also_accepted("PUT /onboardings/{onboarding_id}/owner", "422"),
        ],
    }
)


@dataclass
class ThreadedApi:
    """The app and a worker on their own event loop in a thread, and one running onboarding."""

    address: str
    keys_url: str
    settings: Settings
    base_url: str = ""
    onboarding: str = ""
    started: set[str] = field(default_factory=set)
    keys: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _failure: BaseException | None = None

    def __enter__(self) -> ThreadedApi:
        self._thread = threading.Thread(target=self._run, name="schemathesis-api", daemon=True)
        self._thread.start()
        if not self._ready.wait(60) or self._failure is not None:
            raise RuntimeError("the app did not start in its thread") from self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test's thread by __enter__
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        keys = DataKeys(Database(self.keys_url), MasterKeys.parse(TEST_KEYS))
        client = await connect_when_ready(self.address, data_converter=encrypted(keys))
        await ensure_search_attributes(client)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(create_worker(client, self.settings))
            app = create_app(client=client, settings=self.settings)
            self.base_url = await stack.enter_async_context(serve_app(app))
            self._ready.set()
            await self._stop.wait()
            await _terminate(client, self.started | {self.onboarding})


async def _terminate(client: Client, onboardings: set[str]) -> None:
    for oid in onboardings:
        with contextlib.suppress(RPCError):  # completed, erased or never started
            await client.get_workflow_handle(oid).terminate(reason="schemathesis run finished")


def _post_contract(base_url: str, payload: dict[str, Any]) -> requests.Response:
    body = json.dumps(payload).encode()
    signature = sign(WEBHOOK_SECRET, body, int(time.time()))
    headers = {"Content-Type": "application/json", "X-Kickoff-Signature": signature}
    return requests.post(f"{base_url}/contracts", data=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def served(
    dev_server_address: str,
    data_keys: DataKeys,
    smtp: MailCatcher,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ThreadedApi]:
    """The app on the dev server, with one onboarding in `onboarding` for the fuzzer to act on."""
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    settings = api_settings(f"schemathesis-{folder.name}", folder, smtp)
    keys_url = data_keys.database.url.render_as_string(hide_password=False)
    with ThreadedApi(dev_server_address, keys_url, settings) as api:
        accepted = _post_contract(api.base_url, contract_payload())
        assert accepted.status_code == 202, accepted.text
        api.onboarding = accepted.json()["id"]
        yield api


def _load_schema() -> BaseSchema:
    """The schema the served app documents, built at collection from an app like it (the test
    items are made per operation from it before any fixture runs)."""
    settings = Settings(pipelines_file=ROOT / "pipelines.yaml", database_url="sqlite+aiosqlite:///:memory:")
    document = create_app(settings=settings).openapi()
    return schemathesis.openapi.from_file(json.dumps(document), config=CONFIG)


schema = _load_schema()

# Kickoff refuses dates outside 2000–2099, and its schema says so with a pattern beside the format;
# generated from the format alone, nearly every date would be filtered out by the pattern (the
# contract, with three of them, failed Hypothesis' filter_too_much health check).
FIRST, LAST = datetime(2000, 1, 2), datetime(2099, 12, 30)
OFFSETS: st.SearchStrategy[tzinfo] = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-11, minutes=-30))]
)
schemathesis.openapi.format("date", st.dates(FIRST.date(), LAST.date()).map(str))
schemathesis.openapi.format(
    "date-time", st.datetimes(FIRST, LAST, timezones=OFFSETS).map(lambda moment: moment.isoformat())
)


def _aim(case: Case[Any], served: ThreadedApi) -> None:
    """Point about half of the valid requests at things that exist (the running onboarding, a
    pipeline), so they get past the 404 and their success answers are checked too; and give
    each its own Idempotency-Key, as a client does (the fuzzer repeats its few generated keys
    across different requests, which the API rightly refuses with 422)."""
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return  # an invalid request keeps what made it invalid
    for name in list(case.headers or {}):
        if name.lower() == "idempotency-key":
            served.keys += 1
            case.headers[name] = f"schemathesis-{served.keys}"
    seed = zlib.crc32(repr(sorted((case.path_parameters or {}).items())).encode())
    if seed % 2:
        return
    known = {"onboarding_id": served.onboarding, "pipeline_id": "assist-se"}
    for name in case.path_parameters or {}:
        if name in known:
            case.path_parameters[name] = known[name]
    if case.query and "pipeline" in case.query:
        case.query["pipeline"] = "assist-se"


def _signed(case: Case[Any]) -> dict[str, Any]:
    """``POST /contracts`` is authenticated by an HMAC over its exact bytes, which a fuzzer cannot
    make: the body is serialized here and signed with the suite's secret (what the contract-signing
    system does), so the generated contracts reach the validation behind the signature. Only the
    signature's own answer (401) goes unfuzzed; tests/api/test_contracts.py covers it."""
    if isinstance(case.body, NotSet):
        body = b""
    else:
        body = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
    headers = {"Content-Type": case.media_type or "application/json"}
    headers["X-Kickoff-Signature"] = sign(WEBHOOK_SECRET, body, int(time.time()))
    return {"headers": headers, "data": body}


@schema.parametrize()
# Hypothesis flags any change to the global `random` state while it generates a case; the API
# under test runs in a thread beside it, and the Temporal client there draws retry jitter from
# `random`. No strategy of ours uses it: the warning (an error here) was intermittent noise.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
def test_every_operation_answers_as_its_schema_says(case: Case[Any], served: ThreadedApi) -> None:
    """No generated request, valid or not, gets a 5xx or an answer its operation does not document."""
    _aim(case, served)
    call = _signed(case) if case.operation.path == "/contracts" and case.method.upper() == "POST" else {}
    response = case.call_and_validate(base_url=served.base_url, **call)
    if case.operation.path == "/contracts" and response.status_code in (200, 202):
        served.started.add(response.json()["id"])
