"""``kickoff-simulate``: the plan as a table or JSON, and a clear message with exit status 2 for
an unknown pipeline, a bad contract, a bad event or a bad date. Every date is fixed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kickoff.simulate import Simulation
from kickoff.simulate.cli import main
from tests.support import PIPELINES_FILE

CONTRACT: dict[str, Any] = {
    "contract_id": "C-3001",
    "customer": {"name": "Åre Hälsa AB"},
    "main_user": {"name": "Örjan", "email": "orjan@are-halsa.example"},
    "licenses": 12,
    "language": "sv",
    "delivery_start": "2027-05-03",
}
EVENTS = """\
# What staff do, in YAML: unquoted dates are fine.
- {at: 2027-05-05T10:00, event: call_logged, payload: {outcome: answered}}
- {at: 2027-05-06, event: park, payload: {reason: Semester, until: 2027-05-20}}
- {at: 2027-05-07, event: resume}
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    contract = tmp_path / "contract.json"
    contract.write_text(json.dumps(CONTRACT), encoding="utf-8")
    events = tmp_path / "events.yaml"
    events.write_text(EVENTS, encoding="utf-8")
    return {"contract": contract, "events": events, "dir": tmp_path}


def run(*args: str | Path) -> list[str]:
    return ["assist-se", "--pipelines", str(PIPELINES_FILE), *(str(a) for a in args)]


def test_the_table_lists_the_plan_in_time_order_with_the_scripts_outcomes(files, capsys):
    """Exit 0; one line per stage, task, mail and step at local time, then each action's result."""
    code = main(run("--contract", files["contract"], "--from", "2027-04-28", "--events", files["events"],
                    "--until", "2027-05-21"))  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("assist-se · Order/faktura · version ")
    assert "SE-C-3001: from Wed 2027-04-28 09:00 CEST until Sat 2027-05-22 00:00 CEST" in out
    assert "Tue 2027-05-04 08:00 CEST  step       onboarding        start onboarding" in out
    assert "mail       onboarding        welcome to main_user <orjan@are-halsa.example> in sv" in out
    assert "#1 Thu 2027-05-06 09:00 CEST  event park: accepted, onboarding → manual_follow_up;" in out
    assert "#2 Fri 2027-05-07 09:00 CEST  event resume: accepted, manual_follow_up → onboarding" in out
    assert "Ended: the preview's end came first · Onboarding – Pågår (onboarding), running" in out
    assert "\nTasks (" in out


def test_json_prints_the_model_the_api_answers(files, capsys):
    """``--json`` prints a Simulation (the same model POST /pipelines/{id}/simulate returns)."""
    assert main(run("--contract", files["contract"], "--from", "2027-04-28", "--json")) == 0
    sim = Simulation.model_validate_json(capsys.readouterr().out)
    assert (sim.pipeline, sim.onboarding_id, sim.start.local) == (
        "assist-se", "SE-C-3001", "Wed 2027-04-28 09:00 CEST",
    )  # fmt: skip
    assert sim.until.local == "Thu 2027-08-26 09:00 CEST"  # 120 days on


def test_without_from_the_contracts_signed_at_starts_the_preview(files, capsys):
    """A contract that carries signed_at needs no --from; one that does not is refused."""
    assert main(run("--contract", files["contract"])) == 2
    assert "from: give the moment the contract arrives, or its signed_at" in capsys.readouterr().err
    signed = files["dir"] / "signed.json"
    signed.write_text(json.dumps({**CONTRACT, "signed_at": "2027-04-28T13:15:00+02:00"}), encoding="utf-8")
    assert main(run("--contract", signed, "--json")) == 0
    assert Simulation.model_validate_json(capsys.readouterr().out).start.local == "Wed 2027-04-28 13:15 CEST"


def test_an_events_file_may_be_json_or_a_mapping_with_events(files, capsys):
    """JSON is read as well as YAML, and ``events:`` may hold the list."""
    listed = files["dir"] / "events.json"
    listed.write_text(json.dumps({"events": [{"at": "2027-05-05", "tick": "x"}]}), encoding="utf-8")
    assert main(run("--contract", files["contract"], "--from", "2027-04-28", "--events", listed)) == 2
    assert "events.0.tick: assist-se has no checklist item 'x'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nope"], "kickoff-simulate: no pipeline 'nope' (pipelines: assist-se, kundprocess-se"),
        (["assist-se", "--from", "next week"], "argument --from: 'next week' is not a date like 2027-05-17"),
        (["assist-se", "--until", "2027-04-01"], "  - until: must be after from"),
    ],
    ids=["unknown-pipeline", "bad-from", "until-before-from"],
)
def test_a_bad_pipeline_or_date_exits_2(files, capsys, arguments, message):
    """Named on stderr, nothing on stdout, exit status 2 (argparse's own status for its errors)."""
    argv = [*arguments, "--pipelines", str(PIPELINES_FILE), "--contract", str(files["contract"])]
    if "--from" not in arguments:
        argv += ["--from", "2027-04-28"]
    try:
        code = main(argv)
    except SystemExit as exited:  # argparse exits for the arguments it parses itself
        code = int(str(exited.code))
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("contract", "message"),
    [
        ("{not json", "not JSON (line 1"),
        ("[1, 2]", "must be a JSON object"),
        (
            json.dumps({**CONTRACT, "licenses": 0}),
            "contract.licenses: Input should be greater than or equal to 1",
        ),
        (json.dumps({**CONTRACT, "modules": ["crm"]}), "contract.modules: unknown module 'crm'"),
    ],
    ids=["not-json", "not-an-object", "no-licences", "unknown-module"],
)
def test_a_bad_contract_exits_2_naming_the_problem(files, capsys, contract, message):
    """The contract file is checked as POST /contracts checks a contract."""
    files["contract"].write_text(contract, encoding="utf-8")
    assert main(run("--contract", files["contract"], "--from", "2027-04-28")) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("- {at: 2027-05-05, event: booked}", "events.0.event: assist-se has no event 'booked'"),
        ("- {at: 2027-05-05, event: park}", "events.0.payload.reason: required"),
        ("{at: 2027-05-05}", "must be a list of actions"),
        ("- [unclosed", "not YAML or JSON (line 1)"),
        ("- {at: 2027-05-05, event: resume, tick: a}", "an action has exactly one of event, tick"),
    ],
    ids=["unknown-event", "missing-field", "not-a-list", "not-yaml", "two-kinds"],
)
def test_a_bad_event_exits_2_naming_its_place(files, capsys, events, message):
    """Each problem names the action by its index in the file."""
    files["events"].write_text(events, encoding="utf-8")
    assert (
        main(run("--contract", files["contract"], "--from", "2027-04-28", "--events", files["events"])) == 2
    )
    assert message in capsys.readouterr().err


def test_missing_files_and_a_broken_pipelines_file_exit_2(files, capsys):
    """A file that cannot be read is named with the reason."""
    assert main(run("--contract", files["dir"] / "none.json", "--from", "2027-04-28")) == 2
    assert "none.json: No such file or directory" in capsys.readouterr().err
    broken = files["dir"] / "pipelines.yaml"
    broken.write_text("pipelines: {}\n", encoding="utf-8")
    argv = ["assist-se", "--pipelines", str(broken), "--contract", str(files["contract"])]
    assert main(argv) == 2
    assert "invalid pipelines file" in capsys.readouterr().err


def test_the_installed_command_runs(files):
    """The ``kickoff-simulate`` entry point from pyproject.toml is installed and prints the plan."""
    command = Path(sys.executable).parent / "kickoff-simulate"
    done = subprocess.run(
        [command, *run("--contract", files["contract"], "--from", "2027-04-28", "--until", "2027-05-05")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "welcome to main_user" in done.stdout
