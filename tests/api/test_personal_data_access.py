"""Access (GDPR art. 15) through the HTTP API on the dev server: ``GET /onboardings/{id}/personal-data``
answers everything Kickoff holds of the onboarding's people, and 410 once it was erased."""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus

from tests.api.conftest import MEETING, Kickoff
from tests.api.erasure_support import (
    ADVISOR,
    CUSTOMER,
    EMAIL,
    MAIN_USER,
    NOTE,
    ORG_NUMBER,
    PERSONAL_FIELDS,
    PHONE,
    body_text,
    erase,
    personal_values_in,
)


async def _access(kickoff: Kickoff, oid: str):
    return await kickoff.get(f"/onboardings/{oid}/personal-data")


async def test_access_answers_the_contract_mails_timeline_and_database_rows(kickoff: Kickoff) -> None:
    """The contract (customer, org number, main user with phone, dates), the mails sent (template,
    to, when), the call note with who logged it, and the read-model, outcome and ledger rows."""
    oid = await kickoff.start(**PERSONAL_FIELDS)
    call = {"outcome": "no_answer", "note": NOTE}
    assert (await kickoff.post(f"/onboardings/{oid}/calls", call)).status_code == 202
    assert (await kickoff.post(f"/onboardings/{oid}/meeting-booked", MEETING)).status_code == 202
    await kickoff.until(oid, lambda s: s["awaiting_outcome"])
    await kickoff.record_completed(oid, owner=ADVISOR)

    response = await _access(kickoff, oid)

    assert response.status_code == 200, response.text
    held = response.json()
    assert (held["id"], held["pipeline"]) == (oid, "assist-se")
    contract = held["contract"]
    assert contract["customer"] == {"name": CUSTOMER, "org_number": ORG_NUMBER}
    assert contract["main_user"] == {"name": MAIN_USER, "email": EMAIL, "phone": PHONE}
    assert contract["signed_at"]
    assert contract["delivery_start"]
    [run] = held["runs"]
    assert (run["cycle"], run["status"]) == (1, "completed")
    assert run["contract"] == contract
    assert [(m["template"], m["to"]) for m in run["emails"]][:1] == [("welcome", EMAIL)]
    assert all(m["sent_at"] for m in run["emails"])
    assert {"welcome", "kickoff_booked"} <= {m["template"] for m in run["emails"]}
    assert any(NOTE in entry["detail"] for entry in run["timeline"] if entry["event"] == "call_logged")
    assert run["tasks"]
    database = held["database"]
    assert database["read_model"]["customer"] == CUSTOMER
    assert database["visits"]
    [outcome] = database["kickoff_outcomes"]
    assert (outcome["outcome"], outcome["owner"], outcome["recorded_by"]) == ("completed", ADVISOR, "api")
    ledger = database["mail_ledger"]
    assert ledger
    assert all(row["message_id"].startswith(f"<{oid}.") for row in ledger)
    assert {row["state"] for row in ledger} == {"sent"}


async def test_access_to_a_running_onboarding_lists_its_open_tasks(kickoff: Kickoff) -> None:
    """A running run's state is read through its query; the read model's open tasks come too."""
    oid = await kickoff.start(**PERSONAL_FIELDS)

    response = await _access(kickoff, oid)

    assert response.status_code == 200, response.text
    held = response.json()
    [run] = held["runs"]
    assert run["status"] == "running"
    open_in_run = {t["id"] for t in run["tasks"] if t["status"] == "open"}
    assert open_in_run
    assert {t["id"] for t in held["database"]["read_tasks"]} == open_in_run


async def test_access_covers_every_cycle_of_a_restarted_onboarding(kickoff: Kickoff) -> None:
    """A no-show starts a new run of the same id: both cycles' runs are answered, oldest first."""
    oid = await kickoff.start(**PERSONAL_FIELDS)
    assert (await kickoff.post(f"/onboardings/{oid}/meeting-booked", MEETING)).status_code == 202
    await kickoff.until(oid, lambda s: s["awaiting_outcome"])
    no_show = await kickoff.post(f"/onboardings/{oid}/kickoff-outcome", {"outcome": "no_show"})
    assert no_show.status_code == 202, no_show.text
    await kickoff.until(oid, lambda s: s["cycle"] == 2)

    response = await _access(kickoff, oid)

    assert response.status_code == 200, response.text
    runs = response.json()["runs"]
    assert [(r["cycle"], r["status"]) for r in runs] == [(1, "completed"), (2, "running")]
    assert [o["outcome"] for o in response.json()["database"]["kickoff_outcomes"]] == ["no_show"]


async def test_after_erasure_access_is_410_saying_when(kickoff: Kickoff) -> None:
    """Once erased: 410 with the id and the time of the erasure, and nothing personal."""
    oid = await kickoff.start(**PERSONAL_FIELDS)
    assert (await _access(kickoff, oid)).status_code == 200
    erased_at = (await erase(kickoff, oid)).json()["erased_at"]

    response = await _access(kickoff, oid)

    assert response.status_code == 410, response.text
    body = response.json()
    assert (body["id"], body["erased_at"]) == (oid, erased_at)
    assert body["detail"].startswith("personal data erased at ")
    assert personal_values_in(body_text(response)) == []
    description = await kickoff.api.client.get_workflow_handle(oid).describe()
    assert description.status == WorkflowExecutionStatus.TERMINATED
