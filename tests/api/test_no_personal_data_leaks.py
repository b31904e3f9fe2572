"""Bad input never puts personal data in an answer or a log line.

Each request below carries distinctive personal values (a customer's name, e-mail address, phone
and org number, a staff member's name and note) in a body, header or query the API cannot accept.
It must get its status and a reason naming what is wrong, and none of those values may appear in
the answer or in any line logged while it was handled: Kickoff's JSON log, every stdlib record
(uvicorn's, Temporal's, httpx's) and whatever reached stdout or stderr, all at DEBUG. The board's
own pages may show what their user typed (they refill the form); its logs may not.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from pydantic import BaseModel, ValidationError, field_validator
from temporalio.client import Client

from kickoff.api.errors import public_errors
from kickoff.logging_setup import configure_logging
from kickoff.mailcatcher import MailCatcher
from kickoff.pipelines.payload import DATE_EXAMPLE
from kickoff.signature import sign
from tests.api.conftest import Kickoff
from tests.board.support import BoardServer, alert, csrf_token, served_board, signed_in_client
from tests.conftest import WEBHOOK_SECRET
from tests.support import contract_payload, days_ahead, local_today

NAME = "Yngvild Qvarnström-Zelmér"
EMAIL = "yngvild.qvarnstrom@zelmer-qvist.example"
PHONE = "+46 70 418 93 27"
ORG_NUMBER = "559876-4321"
STAFF = "Torbjörn Ekvallsdotter"
NOTE = "Yngvild ringde om fakturan, nås på 070-4189327"
PERSONAL = [
    *(NAME, EMAIL, PHONE, ORG_NUMBER, STAFF, NOTE),
    # Parts and other spellings, so that an escaped, encoded or reformatted copy is found too.
    *("Yngvild", "Qvarnstr", "Zelm", "zelmer-qvist", "418 93 27", "4189327", "559876", "5598764321"),
    *("Torbj", "Ekvallsdotter", "fakturan"),
]


def leaks(text: str) -> list[str]:
    """The personal values in ``text``, in any case; a JSON line is also read decoded."""
    texts = [text.casefold()]
    with contextlib.suppress(ValueError):
        texts.append(json.dumps(json.loads(text), ensure_ascii=False).casefold())
    return [value for value in PERSONAL if any(value.casefold() in t for t in texts)]


@dataclass
class Logs:
    """Everything logged or printed while a test ran."""

    stream: io.StringIO
    caplog: pytest.LogCaptureFixture
    capfd: pytest.CaptureFixture[str]

    def lines(self) -> list[str]:
        out, err = self.capfd.readouterr()
        records = [f"{record.name}: {record.getMessage()}" for record in self.caplog.records]
        return [*self.stream.getvalue().splitlines(), *records, *out.splitlines(), *err.splitlines()]

    def leaks(self) -> dict[str, list[str]]:
        return {line: found for line in self.lines() if (found := leaks(line))}

    def requests(self) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        return [line for line in lines if line.get("event") == "http.request"]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[Logs]:
    """Kickoff's production logging (JSON) at DEBUG into a buffer, plus pytest's own capture of
    every stdlib record and of the process's stdout and stderr; the set-up before is restored."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_structlog = structlog.get_config() if structlog.is_configured() else None
    # caplog first: it puts back the root logger's level it finds, after the restore below.
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    configure_logging(json=True, level=logging.DEBUG, stream=stream)
    structlog.configure(cache_logger_on_first_use=False)
    # The test's own HTTP client logs each URL it requests: those lines are not the system's.
    client_loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    saved_client_levels = [logger.level for logger in client_loggers]
    for logger in client_loggers:
        logger.setLevel(logging.WARNING)
    capfd.readouterr()
    try:
        yield Logs(stream, caplog, capfd)
    finally:
        for logger, level in zip(client_loggers, saved_client_levels, strict=True):
            logger.setLevel(level)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        if saved_structlog is None:
            structlog.reset_defaults()
        else:
            structlog.configure(**saved_structlog)


def _json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _latin1(body: Any) -> bytes:
    """JSON whose non-ASCII letters are Latin-1 bytes: not UTF-8."""
    return json.dumps(body, ensure_ascii=False).encode("latin-1")


def _contract(**overrides: Any) -> dict[str, Any]:
    """A contract full of personal data; ``customer_*`` and ``user_*`` replace single fields."""
    customer = {"name": NAME, "org_number": ORG_NUMBER}
    user = {"name": NAME, "email": EMAIL, "phone": PHONE}
    for key in [k for k in overrides if k.startswith(("customer_", "user_"))]:
        part, _, name = key.partition("_")
        (customer if part == "customer" else user)[name] = overrides.pop(key)
    return contract_payload(**{"customer": customer, "main_user": user, **overrides})


@dataclass(frozen=True)
class Bad:
    path: str
    """``{oid}`` stands for a running onboarding."""
    body: Any = None
    """Bytes are sent as they are, anything else as JSON; None sends no body."""
    status: int = 422
    reason: str = ""
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    echoes_nothing: tuple[str, ...] = ()
    """Further values of this request that the answer must not repeat."""


CONTRACT = "/contracts"
LATER = (local_today() + timedelta(days=60)).isoformat()
MEETING = days_ahead(3, 10).isoformat()
TEXT = {"Content-Type": "text/plain"}

CASES = {
    # POST /contracts, correctly signed: everything below happens after the signature check.
    "contract-not-utf8": Bad(CONTRACT, _latin1(_contract()), reason="Invalid JSON: the body is not UTF-8"),
    "contract-utf16": Bad(CONTRACT, json.dumps(_contract()).encode("utf-16"), reason="is not UTF-8"),
    "contract-not-json": Bad(CONTRACT, f"{NAME}, {EMAIL}, {PHONE}".encode(), reason="Invalid JSON"),
    "contract-empty": Bad(CONTRACT, b"", reason="Invalid JSON"),
    "contract-array": Bad(CONTRACT, _json([_contract()]), reason="Input should be an object"),
    "contract-string": Bad(CONTRACT, _json(NAME), reason="Input should be an object"),
    "contract-bad-email": Bad(
        CONTRACT,
        _json(_contract(user_email=EMAIL.replace("@", "@@"))),
        reason="main_user.email: value is not a valid email address",
    ),
    "contract-email-error-quoting-the-address": Bad(
        CONTRACT,
        _json(_contract(user_email="yngvild@[IPv6:Qvarnstrom]")),
        reason="main_user.email: value is not a valid email address",
    ),
    "contract-phone-too-long": Bad(
        CONTRACT,
        _json(_contract(user_phone=PHONE * 4)),
        reason="main_user.phone: String should have at most 40",
    ),
    "contract-org-number-too-long": Bad(
        CONTRACT,
        _json(_contract(customer_org_number=ORG_NUMBER * 5)),
        reason="customer.org_number: String should have at most 40",
    ),
    "contract-name-too-long": Bad(
        CONTRACT,
        _json(_contract(customer_name=NAME * 10)),
        reason="customer.name: String should have at most 200",
    ),
    "contract-id-is-an-email": Bad(
        CONTRACT, _json(_contract(contract_id=EMAIL)), reason="contract_id: String should match pattern"
    ),
    "contract-unknown-pipeline": Bad(
        CONTRACT, _json(_contract(pipeline="assist-xx")), reason="unknown pipeline 'assist-xx'"
    ),
    "contract-wrong-types": Bad(
        CONTRACT,
        _json(_contract(customer=NAME, main_user=[EMAIL, PHONE], licenses=PHONE)),
        reason="customer: Input should be an object",
    ),
    "contract-bad-dates": Bad(
        CONTRACT,
        _json(_contract(signed_at=NAME, delivery_start="1999-12-31")),
        reason="delivery_start: Value error, the date is outside 2000–2099",
        echoes_nothing=("1999-12-31",),
    ),
    "contract-naive-signing-time": Bad(
        CONTRACT,
        _json(_contract(signed_at="2026-01-01T10:00:00")),
        reason="signed_at: Input should have timezone info",
    ),
    "contract-extra-field": Bad(
        CONTRACT,
        _json(_contract(user_mobile=PHONE)),
        reason="main_user.mobile: Extra inputs are not permitted",
    ),
    "contract-key-holding-an-email": Bad(
        CONTRACT,
        _json(_contract(**{f"user_{EMAIL}": PHONE})),
        reason="main_user.?: Extra inputs are not permitted",
    ),
    "contract-too-large": Bad(
        CONTRACT, _json(_contract(customer_name=NAME * 3000)), 413, "larger than the 65536 bytes"
    ),
    # The staff API, on a running onboarding.
    "amend-not-utf8": Bad(
        "/onboardings/{oid}", _latin1({"delivery_start": NAME}), method="PATCH", reason="is not UTF-8"
    ),
    "amend-not-json": Bad(
        "/onboardings/{oid}", f"{NAME} {EMAIL}".encode(), method="PATCH", reason="body.0: JSON decode error"
    ),
    "amend-array": Bad("/onboardings/{oid}", [EMAIL], method="PATCH", reason="body: Input should be a valid"),
    "amend-garbage-date": Bad(
        "/onboardings/{oid}",
        {"delivery_start": NAME},
        method="PATCH",
        reason="body.delivery_start: Input should be a valid date",
    ),
    "amend-extra-field": Bad(
        "/onboardings/{oid}",
        {"delivery_start": LATER, "contact": EMAIL},
        method="PATCH",
        reason="body.contact: Extra inputs are not permitted",
    ),
    "amend-too-large": Bad(
        "/onboardings/{oid}",
        {"delivery_start": NAME * 200_000},
        413,
        "larger than the 1048576 bytes",
        method="PATCH",
    ),
    "booking-garbage-moment": Bad(
        "/onboardings/{oid}/meeting-booked",
        {"meeting_at": NAME, "booked_by": STAFF},
        reason="body.meeting_at: Input should be a valid datetime",
    ),
    "booking-name-too-long": Bad(
        "/onboardings/{oid}/meeting-booked",
        {"meeting_at": MEETING, "booked_by": STAFF * 10},
        reason="body.booked_by: String should have at most 200",
    ),
    "call-unknown-outcome": Bad(
        "/onboardings/{oid}/calls",
        {"outcome": NAME, "note": NOTE},
        reason="body.outcome: Input should be 'answered' or 'no_answer'",
    ),
    "call-note-too-long": Bad(
        "/onboardings/{oid}/calls",
        {"outcome": "answered", "note": NOTE * 50},
        reason="body.note: String should have at most 2000",
    ),
    "park-garbage-until": Bad(
        "/onboardings/{oid}/park",
        {"reason": NOTE, "until": NAME},
        reason="body.until: Input should be a valid date",
    ),
    "outcome-owner-of-a-no-show": Bad(
        "/onboardings/{oid}/kickoff-outcome",
        {"outcome": "no_show", "owner": STAFF},
        reason="body: Value error, segment and owner belong to a completed kick-off",
    ),
    "outcome-wrong-types": Bad(
        "/onboardings/{oid}/kickoff-outcome",
        {"outcome": "completed", "segment": "B", "owner": {"name": STAFF}},
        reason="body.owner: Input should be a valid string",
    ),
    "event-garbage-date": Bad(
        "/onboardings/{oid}/events/park",
        {"reason": NOTE, "until": NAME},
        reason=f"until: must be a date like {DATE_EXAMPLE}",
    ),
    "event-garbage-moment": Bad(
        "/onboardings/{oid}/events/meeting_booked",
        {"meeting_at": f"{NAME} kl 10", "booked_by": STAFF},
        reason="meeting_at: must be a date and time like",
    ),
    "event-unknown-field": Bad(
        "/onboardings/{oid}/events/park", {"reason": NOTE, "mobile": PHONE}, reason="mobile: unknown field"
    ),
    "event-nested-value": Bad(
        "/onboardings/{oid}/events/park",
        {"reason": {"text": NOTE}},
        reason="body.reason.str: Input should be a valid string",
    ),
    "event-not-utf8": Bad("/onboardings/{oid}/events/park", _latin1({"reason": NOTE}), reason="is not UTF-8"),
    "event-array": Bad(
        "/onboardings/{oid}/events/park", [NOTE], reason="body: Input should be a valid dictionary"
    ),
    "event-sent-as-text": Bad(
        "/onboardings/{oid}/events/park",
        _json({"reason": NOTE}),
        headers=TEXT,
        reason="body: Input should be a valid dictionary",
    ),
    "idempotency-key-too-long": Bad(
        "/onboardings/{oid}/events/park",
        {"reason": "semester"},
        headers={"Idempotency-Key": EMAIL * 6},
        reason="header.idempotency-key: String should have at most 200",
    ),
    "tick-name-too-long": Bad(
        "/onboardings/{oid}/checklist/any",
        {"by": STAFF * 10},
        reason="body.by: String should have at most 200",
    ),
    "tasks-bad-cursor": Bad(f"/tasks?after={EMAIL}", method="GET", reason="after is not a cursor"),
    "tasks-unknown-owner": Bad(
        f"/tasks?owner={NAME}", method="GET", reason="query.owner: Input should be 'customer' or 'vendor'"
    ),
    "onboardings-bad-limit": Bad(
        f"/onboardings?limit={PHONE}", method="GET", reason="query.limit: Input should be a valid integer"
    ),
}


def _text(body: bytes) -> str:
    """What a sent body says, whichever of the encodings used here it is in."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body.decode("utf-16")
    try:
        return body.decode()
    except UnicodeDecodeError:
        return body.decode("latin-1")


def _reasons(response: httpx.Response) -> str:
    """A 422's reasons as one text: the service's detail, or the field errors as 'loc: msg'."""
    try:
        detail = response.json()["detail"]
    except ValueError:
        return response.text
    if isinstance(detail, str):
        return detail
    return "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in detail)


async def _send(kickoff: Kickoff, bad: Bad, oid: str) -> httpx.Response:
    body = bad.body if isinstance(bad.body, bytes) or bad.body is None else _json(bad.body)
    headers = {"Content-Type": "application/json", **bad.headers}
    if bad.path == CONTRACT:
        headers["X-Kickoff-Signature"] = sign(WEBHOOK_SECRET, body or b"", int(time.time()))
    else:
        headers.update(kickoff.api.auth)
    return await kickoff.http.request(bad.method, bad.path.format(oid=oid), content=body, headers=headers)


@pytest.mark.parametrize("bad", CASES.values(), ids=CASES.keys())
async def test_a_bad_input_gets_its_reason_and_its_personal_data_goes_nowhere(
    kickoff: Kickoff, bystander: str, logs: Logs, bad: Bad
) -> None:
    """The answer has the expected status and reason; neither it nor any line logged while the
    request was handled holds a personal value the request carried."""
    sent = bad.path + repr(bad.headers) + (_text(bad.body) if isinstance(bad.body, bytes) else repr(bad.body))
    assert leaks(sent) or bad.body == b"", (
        "the request carries personal data: its absence below means something"
    )

    response = await _send(kickoff, bad, bystander)

    assert response.status_code == bad.status, response.text
    assert bad.reason in _reasons(response), response.text
    assert leaks(response.text) == []
    for value in bad.echoes_nothing:
        assert value not in response.text
    # The capture is live: the request's own line is in it.
    assert bad.status in [line["status"] for line in logs.requests()]
    assert logs.leaks() == {}


async def test_a_path_holding_personal_data_is_not_logged(kickoff: Kickoff, logs: Logs) -> None:
    """An id in the path that cannot be an onboarding id (an e-mail address) is not bound to the
    log context, and a path no route matches is logged as "unmatched", not as typed."""
    found = await kickoff.get(f"/onboardings/{EMAIL}")
    unmatched = await kickoff.get(f"/customers/{EMAIL}/{PHONE}")

    assert found.status_code == 404, found.text
    assert unmatched.status_code == 404, unmatched.text
    routes = [(line["route"], line.get("onboarding_id")) for line in logs.requests()]
    assert routes == [("/onboardings/{onboarding_id}", None), ("unmatched", None)]
    assert logs.leaks() == {}


class _Signup(BaseModel):
    email: str

    @field_validator("email")
    @classmethod
    def _known(cls, value: str) -> str:
        raise ValueError(f"{value} is not a customer of ours")


def test_a_validator_message_repeating_the_value_is_withheld() -> None:
    """A value_error whose message repeats the input (a validator Kickoff does not control) keeps
    its type and field, with a message that does not; ``input`` and ``ctx`` are dropped."""
    with pytest.raises(ValidationError) as caught:
        _Signup.model_validate({"email": EMAIL})

    [error] = public_errors(caught.value.errors())
    assert error == {
        "type": "value_error",
        "loc": ["email"],
        "msg": "invalid value (not repeated here: it may be personal data)",
    }


# ---------------------------------------------------------------- the board's forms


@pytest.fixture(scope="module")
async def board_run(
    dev_server: Client, smtp: MailCatcher, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[BoardServer, str]]:
    """A board (its session cookie sent over plain HTTP) and one onboarding in `onboarding`."""
    folder: Path = tmp_path_factory.mktemp("board-leaks")
    async with served_board(dev_server, smtp, folder, session_cookie_secure=False) as server:
        yield server, await server.start()


BOARD_FORMS = {
    "event-garbage-date": ("events/park", {"p.reason": NOTE, "p.until": NAME}, 422, "until: must be a date"),
    "event-garbage-moment": (
        "events/meeting_booked",
        {"p.meeting_at": NAME, "p.booked_by": STAFF},
        422,
        "meeting_at: must be a date and time",
    ),
    "amend-garbage-date": ("amend", {"delivery_start": NAME}, 422, "delivery start: give a date"),
    "outcome-unknown": (
        "kickoff-outcome",
        {"outcome": NAME, "owner": STAFF},
        422,
        "choose how the kick-off went",
    ),
}


@pytest.mark.parametrize(("action", "form", "status", "reason"), BOARD_FORMS.values(), ids=BOARD_FORMS.keys())
async def test_a_refused_board_form_keeps_its_personal_data_out_of_the_logs(
    board_run: tuple[BoardServer, str],
    logs: Logs,
    action: str,
    form: dict[str, str],
    status: int,
    reason: str,
) -> None:
    """A board form the engine refuses is shown again with the reason (and what was typed, on the
    user's own page); none of what was typed, nor the staff member's name, is logged."""
    server, oid = board_run
    async with signed_in_client(server.base_url) as staff:
        page = await staff.get(f"/board/onboardings/{oid}")
        response = await staff.post(
            f"/board/onboardings/{oid}/{action}", data={**form, "csrf_token": csrf_token(page.text)}
        )

    assert response.status_code == status, response.text
    assert reason in (alert(response.text) or "")
    assert logs.leaks() == {}
