"""pipelines.yaml validation: versions, every problem the loader reports and where, refusal at start-up."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from unittest.mock import MagicMock

import pytest

from kickoff.api import create_app
from kickoff.pipelines import PipelineError, Problem, load_pipelines, parse_pipelines, pipeline_version
from kickoff.pipelines.cli import main as validate_main
from kickoff.settings import Settings
from kickoff.worker import create_worker
from tests.support import PIPELINES_FILE

PIPELINE = "assist-se"
PIPELINES = ("assist-se", "pakkepilot-no", "kundprocess-se", "wisenetwork-fi")
"""The pipelines the shipped file holds, in file order."""
TEXT = PIPELINES_FILE.read_text(encoding="utf-8")
BIN = Path(sys.executable).parent
PIPELINE_KEY = re.compile(r"^  (?P<id>[a-z][a-z0-9_-]*):[ \t]*$", re.MULTILINE)
"""A pipeline's key: the only lines indented by exactly two spaces that open a block."""


def block(text: str, pipeline: str | None) -> tuple[int, int]:
    """Where ``pipeline``'s block lies in ``text``: from its ``  <id>:`` line up to the next
    pipeline's key (the whole text for ``None``)."""
    if pipeline is None:
        return 0, len(text)
    keys = list(PIPELINE_KEY.finditer(text))
    for index, key in enumerate(keys):
        if key["id"] == pipeline:
            return key.start(), keys[index + 1].start() if index + 1 < len(keys) else len(text)
    raise AssertionError(f"no pipeline {pipeline!r} in the text")


def edit(old: str, new: str, pipeline: str | None = PIPELINE, text: str = TEXT) -> str:
    """``text`` (the real pipelines.yaml) with the one occurrence of ``old`` in ``pipeline``'s
    block replaced by ``new``; the rest of the file is left as it is."""
    start, end = block(text, pipeline)
    body = text[start:end]
    assert body.count(old) == 1, f"{old!r} must occur exactly once in the {pipeline or 'whole'} block"
    return text[:start] + body.replace(old, new) + text[end:]


def line_of(text: str, marker: str, pipeline: str | None = None) -> int:
    """The 1-based line of the whole ``text`` on which the single occurrence of ``marker``
    in ``pipeline``'s block (the whole text for ``None``) starts."""
    start, end = block(text, pipeline)
    body = text[start:end]
    assert body.count(marker) == 1, f"{marker!r} must occur exactly once in the edited {pipeline} block"
    return text[: start + body.index(marker)].count("\n") + 1


@cache
def baseline_versions() -> dict[str, str]:
    return dict(parse_pipelines(TEXT).versions)


def baseline_version() -> str:
    return baseline_versions()[PIPELINE]


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(PipelineError) as caught:
        parse_pipelines(text)
    return caught.value.problems


def broken_file(tmp_path: Path) -> tuple[Path, int]:
    """A pipelines file with an unknown move target, and the line that names it."""
    text = edit("- move: inactive", "- move: inactiv")
    path = tmp_path / "pipelines.yaml"
    path.write_text(text, encoding="utf-8")
    return path, line_of(text, "move: inactiv\n")


# --------------------------------------------------------------------------
# The helpers themselves: an edit stays inside one pipeline's block


def test_blocks_cover_each_pipeline_once_in_file_order() -> None:
    """The blocks of the four pipelines follow each other and end at the end of the file."""
    spans = [block(TEXT, pid) for pid in PIPELINES]
    assert [start for start, _ in spans[1:]] == [end for _, end in spans[:-1]]
    assert spans[-1][1] == len(TEXT)
    assert TEXT[spans[0][0] :].startswith(f"  {PIPELINE}:\n    name: Order/faktura\n")
    for pid, (start, _) in zip(PIPELINES, spans, strict=True):
        assert TEXT[start:].startswith(f"  {pid}:\n")


def test_edit_changes_only_the_named_pipeline_block() -> None:
    """A string found in several pipelines is replaced only in the block asked for."""
    assert TEXT.count("timezone: Europe/Stockholm") == 2
    text = edit("timezone: Europe/Stockholm", "timezone: Europe/Oslo", "kundprocess-se")
    start, end = block(text, "kundprocess-se")
    assert "timezone: Europe/Oslo" in text[start:end]
    assert text[:start] == TEXT[:start]
    assert text[end:] == TEXT[block(TEXT, "kundprocess-se")[1] :]
    with pytest.raises(AssertionError, match="exactly once"):
        edit("timezone: Europe/Stockholm", "x", "pakkepilot-no")
    with pytest.raises(AssertionError, match="exactly once"):
        edit("timezone: Europe/Stockholm", "x", None)


# --------------------------------------------------------------------------
# The real file and its versions


def test_real_pipelines_file_loads_with_a_12_hex_version_per_pipeline() -> None:
    """The shipped pipelines.yaml validates: four pipelines, each with its own 12-hex-digit version."""
    catalog = load_pipelines(PIPELINES_FILE)
    assert tuple(catalog.pipelines) == PIPELINES
    assert set(catalog.versions) == set(PIPELINES)
    for pid, pipeline in catalog.pipelines.items():
        assert re.fullmatch(r"[0-9a-f]{12}", catalog.version(pid))
        assert catalog.version(pid) == pipeline_version(pipeline)
        assert pipeline.id == pid
    assert len(set(catalog.versions.values())) == len(PIPELINES)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("name: Order/faktura", "name: Order/fakturor"),
        ("timezone: Europe/Stockholm", "timezone: Europe/Oslo"),
        ("email: onboarding-team@assist.example", "email: team@assist.example"),
        ("login: https://digital.assist.example/logga-in", "login: https://assist.example/login"),
        ("staff: Kundtjänst", "staff: Kundservice"),
        ("label: Ny\n", "label: Nya\n"),
        ("days: 33,", "days: 34,"),
        ('days: 3, time: "08:00"', 'days: 3, time: "08:30"'),
        ("title: Välkomstsamtal till huvudanvändaren", "title: Välkomstsamtal"),
        (
            "when: [restart]\n            summary: booking",
            "when: [reentry, restart]\n            summary: booking",
        ),
        ("label: Samtal loggat", "label: Samtal registrerat"),
        ("Hälsningar\n            Kickoff", "Hälsningar\n            Kickoff-teamet"),
    ],
    ids=[
        "name",
        "timezone",
        "team-email",
        "link",
        "role",
        "stage-label",
        "step-days",
        "step-time",
        "task-title",
        "action-when",
        "event-label",
        "template-body",
    ],
)
def test_version_changes_when_any_field_changes(old: str, new: str) -> None:
    """Editing any field of a pipeline gives it a different version, and only it."""
    after = parse_pipelines(edit(old, new)).versions
    assert re.fullmatch(r"[0-9a-f]{12}", after[PIPELINE])
    assert after[PIPELINE] != baseline_version()
    assert {pid: v for pid, v in after.items() if pid != PIPELINE} == {
        pid: v for pid, v in baseline_versions().items() if pid != PIPELINE
    }


@pytest.mark.parametrize(
    ("pipeline", "old", "new"),
    [
        ("pakkepilot-no", "calendar: {country: 'NO'}", 'calendar: {country: "NO", subdivision: "03"}'),
        ("pakkepilot-no", "- {id: returns_agreed, owner: customer,", "- {id: returns_agreed, owner: vendor,"),
        ("pakkepilot-no", "in_stages: [access, integration, testing, training]", "in_stages: [access]"),
        ("kundprocess-se", "categories: [public, de_facto]", "categories: [public]"),
        ("kundprocess-se", "renewal: Avtalets förnyelsedatum", "renewal: Förnyelsedatum"),
        ("kundprocess-se", "days: 13, unit: weeks", "days: 12, unit: weeks"),
        (
            "kundprocess-se",
            "record: opportunities\n",
            "record: opportunities\n        stamps: [last_opportunity]\n",
        ),
        (
            "wisenetwork-fi",
            "labels: {en: Accountant training}, default: false}",
            "labels: {en: Accountant training}}",
        ),
        ("wisenetwork-fi", "requires: [trainings, launch_ready]", "requires: [launch_ready]"),
        (
            "wisenetwork-fi",
            "web_address: {type: text, required: true, max_length: 300}",
            "web_address: {type: text, required: true}",
        ),
    ],
    ids=[
        "calendar-subdivision",
        "checklist-item-owner",
        "deadline-in-stages",
        "calendar-categories",
        "contract-date",
        "repeat-step-days",
        "event-record",
        "module-default",
        "stage-requires",
        "payload-max-length",
    ],
)
def test_version_of_a_new_pipeline_changes_with_its_new_fields(pipeline: str, old: str, new: str) -> None:
    """Calendars, checklists, deadlines, modules, payloads and records are part of a pipeline's version;
    editing them in one pipeline leaves the other three versions as they were."""
    after = parse_pipelines(edit(old, new, pipeline)).versions
    assert re.fullmatch(r"[0-9a-f]{12}", after[pipeline])
    assert after[pipeline] != baseline_versions()[pipeline]
    assert {pid: v for pid, v in after.items() if pid != pipeline} == {
        pid: v for pid, v in baseline_versions().items() if pid != pipeline
    }


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("", ""),
        (
            "# All automation pauses here; only the optional until-date resumes the run.\n",
            "# All automation pauses here (edited comment).\n",
        ),
        ("    name: Order/faktura\n", '    name: "Order/faktura"\n'),
        ("  assist-se:\n    name:", "  assist-se:\n    id: assist-se\n    name:"),
        ('due: {days: 2, time: "17:00"}', 'due: {time: "17:00", days: 2}'),
    ],
    ids=["identical", "comment", "quoting", "explicit-id", "key-order"],
)
def test_version_stays_when_nothing_changes(old: str, new: str) -> None:
    """Re-reading the file, or edits that change no field (comments, quoting, key order), keep the version."""
    text = edit(old, new) if old else TEXT
    assert parse_pipelines(text).version(PIPELINE) == baseline_version()


@pytest.mark.parametrize(
    ("pipeline", "old", "new"),
    [
        (
            None,
            "# Kickoff onboarding pipelines: assist-se,",
            "# Kickoff onboarding pipelines (edited): assist-se,",
        ),
        ("pakkepilot-no", "calendar: {country: 'NO'}", 'calendar: {country: "NO"}'),
        ("assist-se", "  # PakkePilot (seeds", "  # Pakkepilot (seeds"),
        (
            "wisenetwork-fi",
            "{id: content_moved, label: Teksti- ja kuvasisältö siirretty, modules: [cms]}",
            "{modules: [cms], label: Teksti- ja kuvasisältö siirretty, id: content_moved}",
        ),
    ],
    ids=["file-header-comment", "quoting", "comment-above-another-pipeline", "key-order-in-flow-mapping"],
)
def test_versions_stay_when_nothing_changes_in_any_pipeline(pipeline: str | None, old: str, new: str) -> None:
    """Comments, quoting and key order anywhere in the file leave all four versions as they are."""
    assert parse_pipelines(edit(old, new, pipeline)).versions == baseline_versions()


# --------------------------------------------------------------------------
# Every problem kind, with the place it is reported


@dataclass(frozen=True)
class Case:
    old: str
    new: str
    marker: str
    """Text in the edited pipeline block whose line (in the whole file) the problem must name."""
    stage: str | None
    message: str
    pipeline: str | None = PIPELINE
    """The pipeline the problem must name (``None``: the problem is about the file)."""
    within: str | None = None
    """The pipeline block edited and searched for ``marker``; default ``pipeline``, else assist-se."""

    @property
    def block(self) -> str:
        return self.within or self.pipeline or PIPELINE


def assert_reported(case: Case) -> Problem:
    """One small edit to the real file yields exactly one problem with ``case.message``, naming
    the pipeline, the stage and the exact line of ``case.marker`` in the edited file."""
    text = edit(case.old, case.new, case.block)
    problems = problems_of(text)
    matching = [p for p in problems if case.message in p.message]
    assert len(matching) == 1, [str(p) for p in problems]
    problem = matching[0]
    expected_line = line_of(text, case.marker, case.block)
    assert (problem.pipeline, problem.stage, problem.line) == (case.pipeline, case.stage, expected_line), str(
        problem
    )
    assert str(problem).startswith(f"pipelines.yaml:{expected_line}")
    return problem


ORPHAN = "      - id: orphan\n        label: Orphan\n\n      - id: closed\n"
GOAL_SCHEDULE = (
    "        goal: true\n        schedule:\n          - key: never\n            at: {anchor: entered}\n"
    "            summary: never\n            do:\n              - move: onboarding\n"
)

CASES = {
    "yaml-syntax": Case(
        "name: Order/faktura", "name: Order: faktura", "name: Order: faktura", None, "not valid YAML", None
    ),
    "shape-days-not-a-number": Case(
        "days: 3, time", 'days: "three", time', '"three"', "onboarding", "valid integer"
    ),
    "shape-unknown-key-in-action": Case(
        "- move: follow_up\n",
        "- move: follow_up\n                colour: red\n",
        "colour: red",
        "onboarding",
        "Extra inputs are not permitted",
    ),
    "shape-action-with-two-kinds": Case(
        "              - move: inactive\n",
        "              - note: {text: hej}\n                move: inactive\n",
        "note: {text: hej}",
        "follow_up",
        "exactly one of mail, task, note, move",
    ),
    "shape-missing-label": Case(
        "        label: Må följas upp\n", "", "- id: follow_up", "follow_up", "Field required"
    ),
    "instant-move-loop": Case(
        "            summary: manual outreach task\n",
        "            summary: manual outreach task\n          - move: inactive\n",
        "- id: inactive",
        "inactive",
        "moves on at once in a loop (inactive -> inactive)",
    ),
    "move-to-unknown-stage": Case(
        "- move: inactive",
        "- move: inactiv",
        "move: inactiv\n",
        "follow_up",
        "move refers to unknown stage 'inactiv'",
    ),
    "unknown-template": Case(
        "template: kickoff_booked", "template: kickoff_bookd", "kickoff_bookd", "closed", "unknown template"
    ),
    "unknown-anchor": Case(
        "anchor: park_until",
        "anchor: park_untl",
        "park_untl",
        "manual_follow_up",
        "unknown anchor 'park_untl'",
    ),
    "unknown-task-role": Case(
        "owner_role: onboarding_lead\n              due: {days: 2",
        "owner_role: onboarding_boss\n              due: {days: 2",
        "onboarding_boss",
        "inactive",
        "unknown role 'onboarding_boss'",
    ),
    "outcome-awaited-outside-a-goal": Case(
        "awaited_in: closed", "awaited_in: inactive", "awaited_in: inactive", None, "is not a goal"
    ),
    "outcome-awaited-in-unknown-stage": Case(
        "awaited_in: closed", "awaited_in: closd", "awaited_in: closd", None, "unknown stage 'closd'"
    ),
    "outcome-task-due-unknown-anchor": Case(
        "due: {anchor: meeting_at,",
        "due: {anchor: meeting_on,",
        "meeting_on",
        None,
        "unknown anchor 'meeting_on'",
    ),
    "outcome-task-unknown-role": Case(
        "owner_role: onboarding_lead\n        due: {anchor",
        "owner_role: ceo\n        due: {anchor",
        "owner_role: ceo",
        None,
        "unknown role 'ceo'",
    ),
    "outcome-without-restart-reasons": Case(
        "reasons: [no_show, rescheduled]",
        "reasons: [no_show]",
        "kickoff_outcome:",
        None,
        "add them to restart.reasons",
    ),
    "unknown-note-role": Case("for: onboarding_lead}", "for: nobody}", "for: nobody", "new", "unknown role"),
    "template-missing-a-language": Case(
        "languages: [sv]",
        "languages: [sv, en]",
        "      welcome:\n",
        None,
        "template 'welcome' has no 'en' version",
    ),
    "template-language-not-offered": Case(
        "      kickoff_booked:\n",
        "      kickoff_booked:\n        en:\n          subject: Kick-off booked\n          body: Booked.\n",
        "        en:\n",
        None,
        "language 'en' is not among languages",
    ),
    "template-syntax-error": Case(
        "Assist, {{ customer.name }}!",
        "Assist, {{ customer.name }!",
        "{{ customer.name }!",
        None,
        "template syntax error",
    ),
    "template-unknown-variable": Case(
        'uppstartsmöte för Assist"',
        'uppstartsmöte för Assist, {{ contact_person }}"',
        "contact_person",
        None,
        "unknown variable(s) ['contact_person']",
    ),
    "duplicate-stage-id": Case(
        "    events:\n",
        "      - id: closed\n        label: Avslutad igen\n        goal: true\n\n    events:\n",
        "- id: closed\n        label: Avslutad igen",
        "closed",
        "stage id 'closed' is used twice",
    ),
    "duplicate-step-key": Case(
        "key: day-7-call",
        "key: day-3-call",
        "key: day-3-call\n            at: {anchor: entered:onboarding, days: 7",
        "onboarding",
        "step key 'day-3-call' is used twice",
    ),
    "event-allowed-in-unknown-stage": Case(
        "allowed_in: [manual_follow_up]",
        "allowed_in: [manual_followup]",
        "allowed_in: [manual_followup]",
        None,
        "allowed_in refers to unknown stage 'manual_followup'",
    ),
    "event-to-unknown-stage": Case(
        "to: manual_follow_up",
        "to: manual_followup",
        "to: manual_followup",
        None,
        "to refers to unknown stage 'manual_followup'",
    ),
    "unreachable-stage": Case(
        "      - id: closed\n", ORPHAN, "- id: orphan", "orphan", "stage 'orphan' is unreachable"
    ),
    "no-goal-stage": Case("        goal: true\n", "", "    stages:\n", None, "no stage or event is a goal"),
    "goal-stage-with-schedule": Case(
        "        goal: true\n",
        GOAL_SCHEDULE,
        "schedule:\n          - key: never",
        "closed",
        "a goal stage completes the run at once",
    ),
    "bad-timezone": Case(
        "timezone: Europe/Stockholm",
        "timezone: Europe/Stokholm",
        "Europe/Stokholm",
        None,
        "unknown time zone 'Europe/Stokholm'",
    ),
    "default-language-not-offered": Case(
        "default_language: sv",
        "default_language: en",
        "default_language: en",
        None,
        "'en' is not among languages",
    ),
    "unknown-start-stage": Case(
        "start_stage: new", "start_stage: neww", "neww", None, "start_stage refers to unknown stage 'neww'"
    ),
    "unknown-restart-stage": Case(
        "      stage: onboarding\n",
        "      stage: onbording\n",
        "onbording",
        None,
        "restart.stage refers to unknown stage 'onbording'",
    ),
    "unknown-park-event": Case(
        "park_event: park", "park_event: parked", "parked", None, "unknown event 'parked'"
    ),
    "id-differs-from-key": Case(
        "  assist-se:\n", "  assist-se:\n    id: assist-no\n", "id: assist-no", None, "differs from its key"
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_each_problem_names_pipeline_stage_and_line(case: Case) -> None:
    """One small edit to the real file yields a problem naming the pipeline, stage and exact YAML line."""
    assert_reported(case)


def test_unreadable_file_is_a_problem_without_a_line(tmp_path: Path) -> None:
    """A missing pipelines file raises PipelineError naming the path, not an OSError."""
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(PipelineError) as caught:
        load_pipelines(missing)
    (problem,) = caught.value.problems
    assert problem.line is None
    assert problem.source == str(missing)
    assert "cannot read" in problem.message


def test_load_pipelines_names_the_file_in_each_problem(tmp_path: Path) -> None:
    """Problems from load_pipelines carry the file path, so str(problem) reads 'path:line'."""
    path, line = broken_file(tmp_path)
    with pytest.raises(PipelineError) as caught:
        load_pipelines(path)
    assert f"{path}:{line}, pipeline '{PIPELINE}', stage 'follow_up'" in str(caught.value)


# --------------------------------------------------------------------------
# Refusal at start-up, and the CLI


def settings_for(pipelines_file: Path, tmp_path: Path) -> Settings:
    return Settings(pipelines_file=pipelines_file, data_dir=tmp_path / "data")


def test_worker_refuses_an_invalid_pipelines_file(tmp_path: Path) -> None:
    """create_worker raises PipelineError naming the place before it touches the Temporal client."""
    path, line = broken_file(tmp_path)
    client = MagicMock()
    with pytest.raises(PipelineError, match=re.escape(f"{path}:{line}")):
        create_worker(client, settings_for(path, tmp_path))
    assert client.mock_calls == []
    assert not (tmp_path / "data").exists()


def test_api_refuses_an_invalid_pipelines_file(tmp_path: Path) -> None:
    """create_app raises PipelineError naming the place, so the API never serves a request."""
    path, line = broken_file(tmp_path)
    with pytest.raises(PipelineError, match=re.escape(f"{path}:{line}")):
        create_app(client=MagicMock(), settings=settings_for(path, tmp_path))


def test_cli_reports_a_broken_file_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """kickoff-validate returns 1 and prints the problem with file:line to stderr."""
    path, line = broken_file(tmp_path)
    assert validate_main([str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{path}:{line}" in err
    assert "move refers to unknown stage 'inactiv'" in err


STAGE_COUNTS = {"assist-se": 6, "pakkepilot-no": 7, "kundprocess-se": 5, "wisenetwork-fi": 4}


def ok_lines() -> list[str]:
    """What kickoff-validate prints for the real file: one line per pipeline, in file order."""
    catalog = load_pipelines(PIPELINES_FILE)
    return [f"ok  {pid}  version {catalog.version(pid)}  ({STAGE_COUNTS[pid]} stages)" for pid in PIPELINES]


def two_problem_file(tmp_path: Path) -> tuple[Path, list[tuple[int, str]]]:
    """A pipelines file with one problem in pakkepilot-no and one in wisenetwork-fi, and for each
    the line and the start of what kickoff-validate must say about it."""
    text = edit(
        "- mail: {template: live, to: main_user}",
        "- mail: {template: golive, to: main_user}",
        "pakkepilot-no",
    )
    text = edit(
        "requires: [trainings, launch_ready]", "requires: [trainings, launch_redy]", "wisenetwork-fi", text
    )
    path = tmp_path / "pipelines.yaml"
    path.write_text(text, encoding="utf-8")
    expected = [
        (
            line_of(text, "golive", "pakkepilot-no"),
            "pipeline 'pakkepilot-no', stage 'hypercare', stages.5.on_enter.0.mail.template: "
            "unknown template 'golive'",
        ),
        (
            line_of(text, "launch_redy", "wisenetwork-fi"),
            "pipeline 'wisenetwork-fi', stage 'live', stages.3.requires: unknown checklist 'launch_redy'",
        ),
    ]
    return path, expected


def assert_two_problems_reported(path: Path, expected: list[tuple[int, str]], err: str) -> None:
    header, *problem_lines = err.splitlines()
    assert header == "invalid pipelines file (2 problem(s)):"
    assert len(problem_lines) == 2, err
    for (line, says), printed in zip(expected, problem_lines, strict=True):
        assert printed.startswith(f"  - {path}:{line}, {says}"), printed


def test_cli_accepts_the_real_file(capsys: pytest.CaptureFixture[str]) -> None:
    """kickoff-validate returns 0 and prints one ok line with the version of each of the four pipelines."""
    assert validate_main([str(PIPELINES_FILE)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ok_lines()
    assert err == ""


def test_cli_reports_problems_in_two_pipelines_with_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Problems in two different pipelines are both printed, each with file:line, pipeline and stage."""
    path, expected = two_problem_file(tmp_path)
    assert validate_main([str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert_two_problems_reported(path, expected, err)


@pytest.mark.parametrize("file", ["valid", "broken", "two-pipelines"])
def test_installed_console_script_is_wired(tmp_path: Path, file: str) -> None:
    """The kickoff-validate console script runs the validator and exits with its status."""
    if file == "valid":
        path = PIPELINES_FILE
    elif file == "broken":
        path, line = broken_file(tmp_path)
    else:
        path, expected = two_problem_file(tmp_path)
    result = subprocess.run(
        [str(BIN / "kickoff-validate"), str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    if file == "valid":
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ok_lines()
        return
    assert (result.returncode, result.stdout) == (1, "")
    if file == "broken":
        assert f"{path}:{line}" in result.stderr
    else:
        assert_two_problems_reported(path, expected, result.stderr)
