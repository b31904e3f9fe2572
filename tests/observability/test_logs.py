"""JSON logs of a whole run: every line parses, carries the onboarding and run ids, and no personal data."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from kickoff.logging_setup import ActivityLogContextInterceptor
from kickoff.mailcatcher import MailCatcher
from tests.api.conftest import SUBJECTS
from tests.observability.conftest import CapturedLogs, served_kickoff
from tests.observability.probe import LoggingProbeWorkflow, log_from_activity
from tests.support import days_ahead

# Distinctive values, so a hit in the logs cannot be a coincidence.
CUSTOMER = {"name": "Qvarnbäck Zelmerska Hälsa AB", "org_number": "559431-7782"}
MAIN_USER = {
    "name": "Xaviera Åkesdotter-Qvist",
    "email": "xaviera.qvist@qvarnback-zelmerska.example",
    "phone": "+46 70 913 52 86",
}
BOOKED_BY = "Ingeborg Yttergren"
ADVISOR = "Ebbe Zelmersson-Wiik"
PERSONAL_DATA = [
    BOOKED_BY,
    ADVISOR,
    CUSTOMER["name"],
    CUSTOMER["org_number"],
    CUSTOMER["org_number"].replace("-", ""),
    MAIN_USER["name"],
    MAIN_USER["email"],
    MAIN_USER["phone"],
    MAIN_USER["phone"].replace(" ", ""),
    "Qvarnbäck",
    "Åkesdotter",
]


def _leaks(record: dict[str, Any], line: str) -> list[str]:
    """The personal values found in a line, raw or JSON-decoded (the renderer escapes non-ASCII)."""
    decoded = json.dumps(record, ensure_ascii=False).casefold()
    return [
        value for value in PERSONAL_DATA if value.casefold() in decoded or value.casefold() in line.casefold()
    ]


async def test_a_full_run_logs_json_with_ids_and_without_personal_data(
    json_logs: CapturedLogs, dev_server: Client, smtp: MailCatcher, tmp_path: Path
) -> None:
    """Contract, welcome mail, a logged call, the booking and the kick-off outcome through the real API
    and worker: every log line is JSON,
    the mail activity's lines carry the onboarding and run ids, and no line holds a name, address,
    phone number or org number."""
    async with served_kickoff(dev_server, dev_server, smtp, tmp_path) as kickoff:
        oid = await kickoff.start(customer=CUSTOMER, main_user=MAIN_USER)
        response = await kickoff.post(f"/onboardings/{oid}/calls", {"outcome": "no_answer"})
        assert response.status_code == 202, response.text
        run_id = await kickoff.run_id(oid)
        booking = {"meeting_at": days_ahead(3, 10).isoformat(), "booked_by": BOOKED_BY}
        assert (await kickoff.post(f"/onboardings/{oid}/meeting-booked", booking)).status_code == 202
        await kickoff.until(oid, lambda s: s["awaiting_outcome"])
        outcome = {"outcome": "completed", "segment": "A", "owner": ADVISOR}
        assert (await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", outcome)).status_code == 202
        done = await kickoff.until(oid, lambda s: s["status"] == "completed")
        [welcome] = kickoff.mails(oid, "welcome")

    # The personal data really went through the system (into the mail), so its absence below means something.
    assert str(welcome["Subject"]).startswith(SUBJECTS["welcome"])
    assert CUSTOMER["name"] in str(welcome["Subject"])
    assert welcome["To"] == MAIN_USER["email"]
    assert done["kickoff_outcome"]["owner"] == ADVISOR

    records = json_logs.records()
    mail_lines = [r for r in records if r.get("logger") == "kickoff.activities.mail"]
    assert "mail.sent" in [r["event"] for r in mail_lines]
    for record in mail_lines:
        assert record["onboarding_id"] == oid
        assert record["run_id"] == run_id
        assert record["activity"] == "send_mail"
        assert record["attempt"] == 1
        assert record["message_id"].startswith(f"<{oid}.")

    requests = [r for r in records if r.get("event") == "http.request"]
    [call] = [r for r in requests if r["route"] == "/onboardings/{onboarding_id}/calls"]
    assert (call["method"], call["status"], call["onboarding_id"]) == ("POST", 202, oid)
    [contract] = [r for r in requests if r["route"] == "/contracts"]
    assert contract["status"] == 202

    leaks = {
        line: found
        for line, record in zip(json_logs.lines(), records, strict=True)
        if (found := _leaks(record, line))
    }
    assert leaks == {}


async def test_temporal_logger_lines_get_flat_onboarding_and_run_ids(
    json_logs: CapturedLogs, dev_server: Client
) -> None:
    """workflow.logger and activity.logger lines, and structlog lines inside an activity, carry
    onboarding_id and run_id as keys, and Temporal's info dict is not repeated in the message."""
    task_queue = f"probe-{uuid.uuid4().hex}"
    workflow_id = f"SE-probe-{uuid.uuid4().hex[:8]}"
    async with Worker(
        dev_server,
        task_queue=task_queue,
        workflows=[LoggingProbeWorkflow],
        activities=[log_from_activity],
        interceptors=[ActivityLogContextInterceptor()],
    ):
        handle = await dev_server.start_workflow(
            LoggingProbeWorkflow.run, id=workflow_id, task_queue=task_queue
        )
        await handle.result()

    by_event = {r["event"]: r for r in json_logs.records() if str(r.get("event", "")).startswith("probe.")}
    assert set(by_event) == {"probe.workflow_logger formatted", "probe.activity_logger", "probe.structlog"}
    for record in by_event.values():
        assert record["onboarding_id"] == workflow_id
        assert record["run_id"] == handle.result_run_id
    for event in ("probe.activity_logger", "probe.structlog"):
        assert by_event[event]["activity"] == "log_from_activity"
        assert by_event[event]["attempt"] == 1
