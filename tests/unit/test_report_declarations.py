"""The reports a pipeline declares: the loader reads them, and names the line of every mistake in
them (an unknown record, field, stage or anchor; a field that cannot be summed or grouped by)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from kickoff.pipelines import parse_pipelines
from kickoff.pipelines.reports import ComplianceMeasure, ReachedWithin, RecentAnchor, RecordMeasure
from tests.unit.test_pipeline_validation import TEXT, block, line_of, problems_of

PIPELINE = "kundprocess-se"
REPORTS = """\
    reports:
      records:
        opportunity_value:
          label: Värde per status
          record: opportunities
          sum: value
          by: status
        per_stage:
          label: Möjligheter per fas
          record: opportunities
          by: stage
      compliance:
        quarterly_contact:
          label: Kontakt senaste kvartalet
          recent:
            anchor: [last_contact, entered:partnership]
            days: 90
            in_stages: [partnership, expansion]
        in_time:
          label: Partnerskap i tid
          reached_within:
            anchor: entered:delivery
            days: 9
            unit: weeks
            stages: [partnership]
"""
_DECLARED = re.compile(r"(?m)^    reports:\n(?:(?:      .*)?\n)*")
"""A reports section already in the block (pipelines.yaml's own), replaced by the test's."""
_BEFORE = "    events:\n      start_delivery:"


def with_reports(reports: str = REPORTS) -> str:
    """pipelines.yaml with kundprocess-se declaring ``reports`` (instead of its own, if any)."""
    start, end = block(TEXT, PIPELINE)
    body = _DECLARED.sub("", TEXT[start:end])
    assert body.count(_BEFORE) == 1
    return TEXT[:start] + body.replace(_BEFORE, reports + _BEFORE) + TEXT[end:]


def test_declared_reports_load_into_the_pipeline_model() -> None:
    """Record measures (a sum by a choice, a count by stage) and both kinds of compliance share."""
    reports = parse_pipelines(with_reports()).pipelines[PIPELINE].reports
    assert reports is not None
    assert reports.records == {
        "opportunity_value": RecordMeasure(
            label="Värde per status", record="opportunities", sum="value", by="status"
        ),
        "per_stage": RecordMeasure(label="Möjligheter per fas", record="opportunities", by="stage"),
    }
    assert reports.compliance == {
        "quarterly_contact": ComplianceMeasure(
            label="Kontakt senaste kvartalet",
            recent=RecentAnchor(
                anchor=("last_contact", "entered:partnership"),
                days=90,
                in_stages=("partnership", "expansion"),
            ),
        ),
        "in_time": ComplianceMeasure(
            label="Partnerskap i tid",
            reached_within=ReachedWithin(
                anchor="entered:delivery", days=9, unit="weeks", stages=("partnership",)
            ),
        ),
    }


def test_the_shipped_file_declares_the_seeds_measures() -> None:
    """kundprocess-se sums opportunity values by status and shares quarterly contact; the two
    business-day pipelines share live-in-time from the kick-off, at their overdue deadline's 08:00."""
    pipelines = parse_pipelines(TEXT).pipelines
    kundprocess = pipelines[PIPELINE].reports
    assert kundprocess is not None
    value = kundprocess.records["opportunity_value"]
    assert (value.record, value.sum, value.by) == ("opportunities", "value", "status")
    contact = kundprocess.compliance["quarterly_contact"].recent
    assert contact is not None
    assert (set(contact.anchor_names()), contact.days) == ({"last_contact", "entered:partnership"}, 90)
    for pid, days in (("pakkepilot-no", 10), ("wisenetwork-fi", 20)):
        reports = pipelines[pid].reports
        assert reports is not None
        target = reports.compliance["live_in_time"].reached_within
        assert target is not None
        assert (target.anchor, target.days, target.unit, target.time) == (
            "kickoff_held",
            days,
            "business_days",
            dt.time(8),
        )


# (old text, new text, marker on the line named, path named, words of the message)
MISTAKES = [
    (
        "record: opportunities\n          sum",
        "record: opportunitys\n          sum",
        "record: opportunitys",
        "reports.records.opportunity_value.record",
        "unknown record 'opportunitys' (records: opportunities)",
    ),
    (
        "sum: value",
        "sum: valeu",
        "sum: valeu",
        "reports.records.opportunity_value.sum",
        "record 'opportunities' has no field 'valeu' (fields: title, value, expected_on, status)",
    ),
    (
        "sum: value",
        "sum: title",
        "sum: title",
        "reports.records.opportunity_value.sum",
        "field 'title' of record 'opportunities' is text: only a number field can be summed",
    ),
    (
        "by: status",
        "by: expected_on",
        "by: expected_on",
        "reports.records.opportunity_value.by",
        "is date: only a choice or boolean field can be grouped by, or by stage",
    ),
    (
        "in_stages: [partnership, expansion]",
        "in_stages: [partnership, expansoin]",
        "in_stages: [partnership, expansoin]",
        "reports.compliance.quarterly_contact.recent.in_stages.1",
        "in_stages refers to unknown stage 'expansoin'",
    ),
    (
        "anchor: [last_contact, entered:partnership]",
        "anchor: [last_contakt, entered:partnership]",
        "anchor: [last_contakt",
        "reports.compliance.quarterly_contact.recent.anchor.0",
        "unknown anchor 'last_contakt'",
    ),
    (
        "anchor: entered:delivery",
        "anchor: entered",
        "anchor: entered\n",
        "reports.compliance.in_time.reached_within.anchor",
        "'entered' is the current stage's entry: name the stage (entered:<stage>)",
    ),
    (
        "stages: [partnership]",
        "stages: [partnershp]",
        "stages: [partnershp]",
        "reports.compliance.in_time.reached_within.stages.0",
        "stages refers to unknown stage 'partnershp'",
    ),
    (
        "days: 90",
        "days: 0",
        "days: 0",
        "reports.compliance.quarterly_contact.recent.days",
        "greater than or equal to 1",
    ),
    (
        "          reached_within:\n            anchor: entered:delivery",
        "          recent: {anchor: last_contact, days: 1}\n          reached_within:\n"
        "            anchor: entered:delivery",
        "        in_time:",
        "reports.compliance.in_time",
        "exactly one of recent or reached_within",
    ),
]


@pytest.mark.parametrize(("old", "new", "marker", "path", "words"), MISTAKES, ids=[m[3] for m in MISTAKES])
def test_a_mistake_in_a_report_is_named_with_its_line(
    old: str, new: str, marker: str, path: str, words: str
) -> None:
    """One mistake, one problem: in kundprocess-se, at the line that holds it, with its path."""
    reports = REPORTS
    assert reports.count(old) == 1, old
    text = with_reports(reports.replace(old, new))
    [problem] = problems_of(text)
    assert (problem.pipeline, problem.path) == (PIPELINE, path)
    assert problem.line == line_of(text, marker, PIPELINE)
    assert words in problem.message


def test_by_stage_is_refused_when_the_record_has_a_field_named_stage() -> None:
    """``by: stage`` means the onboarding's stage, so a record field of that name would be ambiguous."""
    text = with_reports().replace(
        "          status: {type: choice, choices: [invoiced, recurring, pipeline], required: true}\n",
        "          status: {type: choice, choices: [invoiced, recurring, pipeline], required: true}\n"
        "          stage: {type: choice, choices: [early, late]}\n",
    )
    [problem] = problems_of(text)
    assert problem.path == "reports.records.per_stage.by"
    assert "has a field named 'stage'" in problem.message
