"""Validation of conditions (``if:``, ``to_if:``) and ``before:`` moments, on the real pipelines.yaml.

Each case makes one small edit inside one pipeline's block of the shipped file and expects
one problem naming the pipeline, the stage (where there is one) and the line to look at.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from kickoff.pipelines import parse_pipelines
from kickoff.pipelines.conditions import Condition
from kickoff.wire import WIRE_CONTEXT
from tests.unit.test_pipeline_validation import TEXT, Case, assert_reported, edit, line_of, problems_of

PP, KP, WN = "pakkepilot-no", "kundprocess-se", "wisenetwork-fi"

SALES_IF = (
    'owner_role: sales, due: {days: 1, unit: business_days, time: "16:00"}}\n'
    "            if: {field: event.value, gte: 500000}\n"
)
INVITE = (
    "- task: {title: Send invitasjon til kundeportalen, owner_role: customer_success, "
    'due: {days: 1, unit: business_days, time: "16:00"}}\n'
)
CHASE = "            summary: no kick-off after 3 business days – call\n"
CARD = "            unless_ticked: [customer_card]\n"
CAMPAIGN_IF = "        if: {last: campaigns.volume_factor, gte: 2}\n"
CAMPAIGN_AT = "at: {anchor: sales_campaign, days: 5, unit: business_days, before: true,"


def sales_if(condition: str) -> str:
    return SALES_IF.replace("{field: event.value, gte: 500000}", condition)


def on_invite(condition: str) -> str:
    return f"{INVITE}            if: {condition}\n"


def in_chase(condition: str) -> str:
    return f"{CHASE}            if: {condition}\n"


CASES = {
    # ---- types: a literal of the field's type, and comparisons that suit it
    "number-compared-with-text": Case(
        SALES_IF,
        sales_if('{field: event.value, gte: "500 000 kr"}'),
        'gte: "500 000 kr"',
        None,
        "event.value is a number: compare it with a number, not '500 000 kr'",
        KP,
    ),
    "text-ordered": Case(
        SALES_IF,
        sales_if("{field: event.title, gt: M}"),
        "{field: event.title, gt: M}",
        None,
        "event.title is text: compare it with eq, ne or in, not gt",
        KP,
    ),
    "not-a-choice": Case(
        SALES_IF,
        sales_if("{field: event.status, in: [pipeline, won]}"),
        "in: [pipeline, won]",
        None,
        "'won' is not a choice of event.status (choices: invoiced, recurring, pipeline)",
        KP,
    ),
    "bare-no-read-as-false": Case(
        SALES_IF,
        sales_if("{field: event.title, eq: no}"),
        "eq: no}",
        None,
        "event.title is text: compare it with text, not False (YAML reads a bare yes, no, on or off",
        KP,
    ),
    "date-compared-with-a-word": Case(
        INVITE,
        on_invite("{field: contract.delivery_start, gte: soon}"),
        "gte: soon",
        "access",
        "contract.delivery_start is a date: compare it with a date like 2027-05-17, not 'soon'",
        PP,
    ),
    "language-not-offered": Case(
        INVITE,
        on_invite("{field: contract.language, eq: sv}"),
        "eq: sv}",
        "access",
        "language 'sv' is not among the pipeline's languages (nb, en)",
        PP,
    ),
    "days-in-stage-with-a-word": Case(
        CHASE,
        in_chase("{days_in_stage: {gte: thirty}}"),
        "{days_in_stage:",
        "kickoff",
        "days_in_stage is a number: compare it with a number, not 'thirty'",
        PP,
    ),
    # ---- names: fields, records, checklists, items and modules the pipeline declares
    "unknown-contract-field": Case(
        INVITE,
        on_invite("{field: contract.licences, gt: 100}"),
        "field: contract.licences",
        "access",
        "unknown field 'contract.licences' (fields: contract.licenses, contract.language,",
        PP,
    ),
    "unknown-payload-field": Case(
        SALES_IF,
        sales_if("{field: event.valu, gte: 500000}"),
        "field: event.valu,",
        None,
        "event 'opportunity_logged' has no payload field 'valu' (fields: title, value, expected_on, status)",
        KP,
    ),
    "unknown-contract-date": Case(
        CARD,
        f"{CARD}            if: {{field: contract.dates.renewl, lt: 2030-01-01}}\n",
        "contract.dates.renewl",
        "onboarding",
        "unknown contract date 'renewl' (contract_dates: renewal)",
        KP,
    ),
    "unknown-checklist": Case(
        CHASE,
        in_chase("{checklist: before_golive, complete: false}"),
        "checklist: before_golive",
        "kickoff",
        "unknown checklist 'before_golive' (checklists: before_go_live)",
        PP,
    ),
    "unknown-item": Case(
        CHASE,
        in_chase("{item: portal_acess}"),
        "item: portal_acess",
        "kickoff",
        "unknown checklist item 'portal_acess' (items: portal_access,",
        PP,
    ),
    "unknown-module": Case(
        INVITE,
        on_invite("{module: fulfillment}"),
        "module: fulfillment",
        "access",
        "unknown module 'fulfillment' (modules: fulfilment, shipping)",
        PP,
    ),
    "unknown-record": Case(
        CAMPAIGN_IF,
        "        if: {last: campaign.volume_factor, gte: 2}\n",
        "last: campaign.volume_factor",
        None,
        "unknown record 'campaign' (records: campaigns)",
        PP,
    ),
    "unknown-record-field": Case(
        CAMPAIGN_IF,
        "        if: {last: campaigns.factor, gte: 2}\n",
        "last: campaigns.factor",
        None,
        "record 'campaigns' has no field 'factor' (fields: campaign_starts_on, volume_factor, note)",
        PP,
    ),
    "sum-of-text": Case(
        SALES_IF,
        sales_if("{sum: opportunities.title, gte: 1}"),
        "sum: opportunities.title",
        None,
        "sum needs a number field: opportunities.title is text",
        KP,
    ),
    "count-of-a-field": Case(
        SALES_IF,
        sales_if("{count: opportunities.value, gt: 2}"),
        "count: opportunities.value",
        None,
        "count counts a record list's entries: write count: opportunities",
        KP,
    ),
    # ---- where: no event outside an event, no time in a stage just entered
    "event-field-in-a-step": Case(
        CARD,
        f"{CARD}            if: {{field: event.value, gt: 0}}\n",
        "if: {field: event.value, gt: 0}",
        "onboarding",
        "event.value: a step has no event; an event's payload is seen only in that event's do and to_if",
        KP,
    ),
    "event-field-in-on-enter": Case(
        INVITE,
        on_invite("{field: event.note, eq: x}"),
        "field: event.note",
        "access",
        "event.note: a stage's on_enter has no event",
        PP,
    ),
    "event-field-in-a-deadline": Case(
        CAMPAIGN_IF,
        "        if: {field: event.volume_factor, gte: 2}\n",
        "field: event.volume_factor",
        None,
        "event.volume_factor: a deadline has no event",
        PP,
    ),
    "days-in-stage-on-entry": Case(
        INVITE,
        on_invite("{days_in_stage: {gt: 3}}"),
        "{days_in_stage:",
        "access",
        "days_in_stage is always 0 when a stage is entered: put the condition on a step",
        PP,
    ),
    "to-if-without-to": Case(
        "      churn_risk:\n        label: Risk för churn\n",
        "      churn_risk:\n        label: Risk för churn\n"
        "        to_if: {field: contract.licenses, gt: 1}\n",
        "to_if: {field",
        None,
        "to_if says when the event moves the run to its 'to' stage, and the event has no to",
        KP,
    ),
    # ---- shape: one head, and a comparison where one is needed
    "no-comparison": Case(
        INVITE,
        on_invite("{field: contract.licenses}"),
        "if: {field: contract.licenses}",
        "access",
        "field needs a comparison: one of eq, ne, lt, lte, gt, gte, in",
        PP,
    ),
    "two-heads": Case(
        INVITE,
        on_invite("{module: shipping, checklist: before_go_live}"),
        "if: {module: shipping",
        "access",
        "a condition has exactly one of field, count, sum,",
        PP,
    ),
    "unknown-comparison": Case(
        INVITE,
        on_invite("{field: contract.licenses, above: 3}"),
        "above: 3",
        "access",
        "Extra inputs are not permitted",
        PP,
    ),
    "comparison-on-a-checklist": Case(
        CHASE,
        in_chase("{checklist: before_go_live, gt: 3}"),
        "if: {checklist: before_go_live",
        "kickoff",
        "gt compares a field, count, sum, min, max or last, not checklist",
        PP,
    ),
    "a-date-with-a-time": Case(
        INVITE,
        on_invite("{field: contract.delivery_start, gt: 2031-01-01 10:00:00}"),
        "gt: 2031-01-01 10:00",
        "access",
        "conditions compare dates by day: write a date like 2027-05-17, without a time",
        PP,
    ),
    # ---- before: business days counted back
    "before-in-calendar-days": Case(
        CAMPAIGN_AT,
        "at: {anchor: sales_campaign, days: 5, unit: days, before: true,",
        "at: {anchor: sales_campaign",
        None,
        "before counts business days back (unit: business_days)",
        PP,
    ),
    "before-zero-days": Case(
        CAMPAIGN_AT,
        "at: {anchor: sales_campaign, days: 0, unit: business_days, before: true,",
        "at: {anchor: sales_campaign",
        None,
        "before counts at least one business day back",
        PP,
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_each_condition_mistake_names_pipeline_stage_and_line(case: Case) -> None:
    """One small edit to a condition yields one problem naming that pipeline, stage and line."""
    assert_reported(case)


def test_a_mistake_inside_all_in_block_style_names_its_own_line() -> None:
    """A condition written over several lines points at the line of the part that is wrong."""
    block = (
        "            if:\n              all:\n                - {field: event.value, gte: 500000}\n"
        "                - not: {field: event.statu, eq: invoiced}\n"
    )
    text = edit(SALES_IF, SALES_IF.replace("            if: {field: event.value, gte: 500000}\n", block), KP)
    [problem] = problems_of(text)
    assert problem.line == line_of(text, "not: {field: event.statu", KP)
    assert problem.path.endswith(".do.0.if.all.1.not.field")
    assert "has no payload field 'statu'" in problem.message


def test_a_repeating_step_cannot_count_business_days_back() -> None:
    """before on a repeating step would recur backwards: refused at the step."""
    old = 'at: {anchor: [last_contact, entered:partnership], days: 90, time: "08:00"}'
    new = "at: {anchor: [last_contact, entered:partnership], days: 90, unit: business_days, before: true}"
    messages = [p.message for p in problems_of(edit(old, new, KP))]
    assert any("it cannot be before" in m for m in messages), messages


def test_the_shipped_conditions_load() -> None:
    """kundprocess-se involves sales above a value; pakkepilot-no warns of a doubled campaign."""
    pipelines = parse_pipelines(TEXT).pipelines
    sales = [a.condition for a in pipelines[KP].events["opportunity_logged"].do]
    assert sales == [Condition.model_validate({"field": "event.value", "gte": 500000})] * 2
    [campaign] = [d for d in pipelines[PP].deadlines if d.key == "campaign-capacity"]
    assert campaign.condition == Condition.model_validate({"last": "campaigns.volume_factor", "gte": 2})
    assert (campaign.at.days, campaign.at.unit, campaign.at.before) == (5, "business_days", True)


# --------------------------------------------------------------------------
# Any well-typed condition loads and travels; any mistyped literal is refused at its line

FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "event.value": st.integers(0, 10**7) | st.floats(0, 1e7, allow_nan=False),
    "contract.licenses": st.integers(1, 10_000),
    "event.status": st.sampled_from(["invoiced", "recurring", "pipeline"]),
    "contract.language": st.sampled_from(["sv", "en"]),
    "event.expected_on": st.dates().map(lambda d: d.isoformat()),
    "contract.dates.renewal": st.dates().map(lambda d: d.isoformat()),
}
ORDERED = ("event.value", "contract.licenses", "event.expected_on", "contract.dates.renewal")


@st.composite
def comparisons(draw: st.DrawFn) -> dict[str, Any]:
    field = draw(st.sampled_from(sorted(FIELDS)))
    ops = ["eq", "ne", "in", *(["lt", "lte", "gt", "gte"] if field in ORDERED else [])]
    op = draw(st.sampled_from(ops))
    value = draw(st.lists(FIELDS[field], min_size=1, max_size=3)) if op == "in" else draw(FIELDS[field])
    return {"field": field, op: value}


LEAVES = (
    comparisons()
    | st.builds(lambda v: {"sum": "opportunities.value", "gte": v}, st.integers(0, 10**8))
    | st.builds(lambda v: {"count": "opportunities", "lt": v}, st.integers(0, 50))
    | st.builds(lambda v: {"days_in_stage": {"gte": v}}, st.integers(0, 400))
    | st.sampled_from([{"checklist": "customer_card", "complete": False}, {"item": "enrich_data"}])
)
CONDITIONS = st.recursive(
    LEAVES,
    lambda inner: (
        st.builds(lambda c: {"not": c}, inner)
        | st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=3))
        | st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=3))
    ),
    max_leaves=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=CONDITIONS)
def test_any_well_typed_condition_loads_and_decodes_equal_from_the_wire(shape: dict[str, Any]) -> None:
    """A condition over kundprocess-se's contract, payload, records, checklist and time in stage
    loads, and its wire form decodes to the same condition."""
    text = edit(SALES_IF, sales_if(json.dumps(shape)), KP)
    loaded = parse_pipelines(text).pipelines[KP].events["opportunity_logged"].do[0].condition
    assert loaded == Condition.model_validate(shape)
    assert Condition.model_validate_json(to_json(loaded, context=WIRE_CONTEXT)) == loaded


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(word=st.text("abcdefghijklmnopqrstuvwxyzåäö ", min_size=1, max_size=12).filter(str.strip))
def test_any_text_compared_with_a_number_field_is_refused_at_its_line(word: str) -> None:
    """Whatever text stands where a number belongs, the loader names the field and the line."""
    text = edit(SALES_IF, sales_if(json.dumps({"field": "contract.licenses", "lt": word})), KP)
    [problem] = problems_of(text)
    assert (problem.pipeline, problem.stage) == (KP, None)
    assert problem.line == line_of(text, json.dumps({"field": "contract.licenses", "lt": word}), KP)
    assert problem.message == f"contract.licenses is a number: compare it with a number, not {word!r}"
