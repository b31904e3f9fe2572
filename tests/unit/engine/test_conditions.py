"""Conditions (``if:``, ``to_if:``) evaluated by the engine on a plain clock, with the real pipelines."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from kickoff.domain import TickInput
from kickoff.engine import NotNow, Run, plan
from kickoff.engine.conditions import Facts, days_in_stage, holds
from kickoff.pipelines import parse_pipelines
from kickoff.pipelines.conditions import Condition
from kickoff.pipelines.model import Moment
from kickoff.schedule import is_business_day
from kickoff.wire import WIRE_CONTEXT
from tests.unit.engine.support import (
    OSLO,
    STOCKHOLM,
    advance,
    event,
    flush_mail,
    local,
    pipelines,
    start,
    tick_all,
)
from tests.unit.test_pipeline_validation import TEXT, edit

KP, PP = "kundprocess-se", "pakkepilot-no"
SIGNED = local(STOCKHOLM, date(2031, 1, 13), 10)  # a Monday
OSLO_SIGNED = local(OSLO, date(2031, 3, 3), 10)  # a Monday
SALES_TASK = "Stor expansionsmöjlighet: involvera säljteamet"
CAPACITY_TASK = "Kampanje med dobbelt volum om 5 arbeidsdager"


def cond(shape: dict[str, Any]) -> Condition:
    return Condition.model_validate(shape)


def in_partnership(run: Run | None = None) -> Run:
    """A kundprocess-se run past its delivery programme, in partnership."""
    run = run or start(KP, SIGNED, contract_id="C-1")
    tick_all(run, "customer_card", SIGNED)
    event(run, "start_delivery", SIGNED)
    advance(run, SIGNED + timedelta(weeks=8, days=1))
    assert run.state.stage == "partnership"
    return run


def opportunity(value: float, title: str = "Workshop") -> dict[str, Any]:
    return {"title": title, "value": value, "expected_on": "2031-09-01", "status": "pipeline"}


def subjects(run: Run, now: datetime) -> list[str]:
    return [mail.input.subject_template for mail in flush_mail(run, now)]


# --------------------------------------------------------------------------
# kundprocess-se: large expansion opportunities involve the sales team


def test_a_large_opportunity_involves_the_sales_team_and_a_small_one_does_not() -> None:
    """An opportunity of 500 000 SEK or more gives the sales role a task and the team a notice;
    a smaller one moves to expansion with only the expansion notice, as before."""
    run = in_partnership()
    logged = SIGNED + timedelta(weeks=9)
    event(run, "opportunity_logged", logged, **opportunity(85000))
    assert run.state.stage == "expansion"
    assert SALES_TASK not in [t.title for t in run.state.tasks]
    assert [s.split(":")[0] for s in subjects(run, logged)] == ["Expansion"]

    later = logged + timedelta(days=3)
    event(run, "opportunity_logged", later, **opportunity(600000, "Licenser för hela förbundet"))
    [task] = [t for t in run.state.tasks if t.title == SALES_TASK]
    assert (task.owner_role, task.kind, task.created_at) == ("sales", "sales", later)
    assert [s.split(":")[0] for s in subjects(run, later)] == ["Stor affär"]


@pytest.mark.parametrize(("value", "involved"), [(499999.99, False), (500000, True), (2_000_000, True)])
def test_the_sales_threshold_is_500000_inclusive(value: float, involved: bool) -> None:
    """The threshold is gte 500 000: just below it nobody from sales is involved."""
    run = in_partnership()
    event(run, "opportunity_logged", SIGNED + timedelta(weeks=9), **opportunity(value))
    assert (SALES_TASK in [t.title for t in run.state.tasks]) is involved


# --------------------------------------------------------------------------
# pakkepilot-no: operations is alerted five business days before a doubled campaign


def announced(factor: float, campaign: date) -> Run:
    """A pakkepilot-no run in access whose customer announced a campaign."""
    run = start(PP, OSLO_SIGNED, contract_id="C-2")
    flush_mail(run, OSLO_SIGNED)
    event(run, "kickoff_held", OSLO_SIGNED + timedelta(hours=2))
    at = OSLO_SIGNED + timedelta(hours=3)
    event(run, "campaign_announced", at, campaign_starts_on=campaign.isoformat(), volume_factor=factor)
    return run


@pytest.mark.parametrize(
    ("campaign", "alert"),
    [
        (date(2031, 3, 24), date(2031, 3, 17)),  # a Monday: the Monday before
        (date(2031, 3, 29), date(2031, 3, 24)),  # a Saturday: Friday is the first business day before
        (date(2031, 4, 16), date(2031, 4, 4)),  # after Easter: Thursday, Friday and Monday are closed
    ],
    ids=["monday", "saturday", "easter"],
)
def test_doubled_volume_alerts_operations_five_business_days_before_the_campaign(
    campaign: date, alert: date
) -> None:
    """volume_factor 2 or more: at 08:00 on the fifth business day before the campaign (Norway's
    holidays skipped), a task for operations and a notice to the team."""
    run = announced(2, campaign)
    moment = local(OSLO, alert, 8)
    advance(run, moment - timedelta(minutes=1))
    assert not [t for t in run.state.tasks if t.title.startswith(CAPACITY_TASK)]
    sent = advance(run, moment)
    [task] = [t for t in run.state.tasks if t.title.startswith(CAPACITY_TASK)]
    assert (task.owner_role, task.created_at) == ("operations", moment)
    assert [m.name for m in sent if m.input.subject_template.startswith("Kampanje")] == ["notify"]


def test_a_smaller_campaign_stays_planned_and_is_skipped_at_its_moment() -> None:
    """volume_factor 1.5: the warning stays the run's next step (its condition is read when it
    fires) and is then skipped with a timeline note; no task, no notice."""
    run = announced(1.5, date(2031, 3, 24))
    moment = local(OSLO, date(2031, 3, 17), 8)
    [step] = [s for s in plan.pending_steps(run.state, run.pipeline) if s.key == "campaign-capacity"]
    anchor = plan.anchor_of(run.state, step)
    assert anchor is not None
    assert plan.moment(run.pipeline, anchor, step.at) == moment
    sent = advance(run, moment + timedelta(days=1))
    assert not [t for t in run.state.tasks if t.title.startswith(CAPACITY_TASK)]
    assert not [m for m in sent if m.input.subject_template.startswith("Kampanje")]
    skipped = [(e.at, e.detail) for e in run.state.timeline if e.event == "step_skipped"]
    assert (moment, f"{step.summary}: condition not met") in skipped
    assert "campaign-capacity" in run.state.fired_deadlines


def test_the_last_announcement_decides() -> None:
    """A campaign announced again with a doubled volume replaces the date and the factor."""
    run = announced(1.2, date(2031, 3, 24))
    event(
        run,
        "campaign_announced",
        OSLO_SIGNED + timedelta(days=1),
        campaign_starts_on="2031-03-31",
        volume_factor=3,
    )
    advance(run, local(OSLO, date(2031, 3, 24), 8))
    [task] = [t for t in run.state.tasks if t.title.startswith(CAPACITY_TASK)]
    assert task.created_at == local(OSLO, date(2031, 3, 24), 8)


NORWAY = plan.closed_days(pipelines().pipelines[PP])


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=date(2021, 1, 1), max_value=date(2039, 12, 31)), count=st.integers(1, 40))
def test_business_days_before_leave_exactly_that_many_business_days(day: date, count: int) -> None:
    """before: true lands on a business day with exactly ``count`` business days from it up to
    (not including) the anchor's day."""
    pipeline = pipelines().pipelines[PP]
    anchor = local(OSLO, day, 0)
    moment = plan.moment(pipeline, anchor, Moment(anchor="x", days=count, unit="business_days", before=True))
    landed = moment.astimezone(OSLO).date()
    assert is_business_day(landed, NORWAY)
    between = [landed + timedelta(days=n) for n in range((day - landed).days)]
    assert sum(is_business_day(d, NORWAY) for d in between) == count
    assert moment.astimezone(OSLO).time() == anchor.astimezone(OSLO).time()


# --------------------------------------------------------------------------
# all / any / not, the contract, records, checklists and the time in stage


def facts_of(run: Run, now: datetime | None = None, **payload: Any) -> Facts:
    name = "opportunity_logged" if payload else None
    return Facts(run.state, run.pipeline, now or run.state.stage_entered_at, name, payload or None)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ({"field": "contract.licenses", "gt": 100}, True),
        ({"field": "contract.licenses", "gte": 10, "lt": 100}, False),
        ({"field": "contract.language", "eq": "en"}, True),
        ({"field": "contract.language", "in": ["sv", "fi"]}, False),
        ({"field": "event.value", "gte": 500000}, True),
        (
            {
                "all": [
                    {"field": "event.value", "gte": 500000},
                    {"not": {"field": "contract.language", "eq": "en"}},
                ]
            },
            False,
        ),
        ({"any": [{"field": "event.value", "lt": 1}, {"field": "event.status", "eq": "pipeline"}]}, True),
        (
            {"not": {"any": [{"field": "event.value", "lt": 1}, {"field": "contract.licenses", "eq": 250}]}},
            False,
        ),
        ({"field": "event.expected_on", "lt": "2031-10-01"}, True),
        ({"field": "contract.signed_at", "eq": "2031-01-13"}, True),
        ({"field": "contract.delivery_start", "gt": "2031-01-13"}, False),
        ({"field": "contract.dates.renewal", "gte": "2032-01-01"}, True),
        ({"field": "event.title", "ne": "Workshop"}, False),
    ],
)
def test_comparisons_and_all_any_not(shape: dict[str, Any], expected: bool) -> None:
    """Each comparison over the contract and the event's payload, alone and combined."""
    run = start(KP, SIGNED, contract_id="C-3", licenses=250, language="en", dates={"renewal": "2032-01-31"})
    assert holds(cond(shape), facts_of(run, **opportunity(600000))) is expected


def test_a_missing_value_satisfies_no_comparison_and_not_turns_it_around() -> None:
    """A contract date the contract lacks is neither equal nor unequal to anything."""
    run = start(KP, SIGNED, contract_id="C-4")
    facts = facts_of(run)
    for op in ("eq", "ne", "lt", "gte"):
        assert not holds(cond({"field": "contract.dates.renewal", op: "2032-01-01"}), facts)
    assert holds(cond({"not": {"field": "contract.dates.renewal", "eq": "2032-01-01"}}), facts)


def test_a_language_the_pipeline_does_not_offer_compares_as_the_default() -> None:
    """contract.language is the language the customer is written to in."""
    run = start(KP, SIGNED, contract_id="C-5", language="de")
    assert holds(cond({"field": "contract.language", "eq": "sv"}), facts_of(run))


def test_records_are_counted_summed_and_the_last_one_read() -> None:
    """count, sum, min, max and last over the opportunities an onboarding has logged."""
    run = in_partnership()
    facts = facts_of(run)
    assert holds(cond({"count": "opportunities", "eq": 0}), facts)
    assert holds(cond({"sum": "opportunities.value", "eq": 0}), facts)
    assert not holds(cond({"max": "opportunities.value", "gte": 0}), facts)
    for value in (300000, 450000, 80000):
        event(run, "opportunity_logged", SIGNED + timedelta(weeks=9), **opportunity(value))
    facts = facts_of(run)
    assert holds(cond({"count": "opportunities", "eq": 3}), facts)
    assert holds(cond({"sum": "opportunities.value", "gte": 830000, "lt": 830001}), facts)
    assert holds(cond({"min": "opportunities.value", "eq": 80000}), facts)
    assert holds(cond({"max": "opportunities.value", "eq": 450000}), facts)
    assert holds(cond({"last": "opportunities.value", "lt": 100000}), facts)
    assert holds(cond({"last": "opportunities.status", "eq": "pipeline"}), facts)


def test_checklists_items_and_modules() -> None:
    """A checklist complete, an item ticked, and a module in the contract."""
    run = start(KP, SIGNED, contract_id="C-6")
    assert holds(cond({"checklist": "customer_card", "complete": False}), facts_of(run))
    run.tick(TickInput(item="enrich_data"), SIGNED)
    assert holds(cond({"item": "enrich_data", "ticked": True}), facts_of(run))
    assert not holds(cond({"item": "decision_makers"}), facts_of(run))
    assert not holds(cond({"checklist": "customer_card"}), facts_of(run))
    tick_all(run, "customer_card", SIGNED)
    assert holds(cond({"checklist": "customer_card", "complete": True}), facts_of(run))
    wise = start("wisenetwork-fi", SIGNED, contract_id="C-7", modules=["crm", "accounting"])
    assert holds(cond({"module": "accounting"}), facts_of(wise))
    assert not holds(cond({"any": [{"module": "cms"}, {"module": "finance"}]}), facts_of(wise))


@pytest.mark.parametrize(
    ("entered", "now", "days"),
    [
        ((2031, 1, 13, 16), (2031, 1, 14, 8), 1),  # the next morning: a calendar day
        ((2031, 1, 13, 0), (2031, 1, 13, 23), 0),
        ((2031, 3, 29, 12), (2031, 3, 30, 12), 1),  # over the switch to summer time
        ((2031, 1, 13, 10), (2031, 2, 12, 8), 30),
    ],
)
def test_days_in_stage_counts_local_calendar_days(
    entered: tuple[int, int, int, int], now: tuple[int, int, int, int], days: int
) -> None:
    """days_in_stage counts calendar days in the pipeline's zone since the stage was entered."""
    y, m, d, h = entered
    run = start(KP, local(STOCKHOLM, date(y, m, d), h), contract_id="C-8")
    y, m, d, h = now
    facts = facts_of(run, local(STOCKHOLM, date(y, m, d), h))
    assert days_in_stage(facts) == days
    assert holds(cond({"days_in_stage": {"gte": days, "lt": days + 1}}), facts)


# --------------------------------------------------------------------------
# to_if on an event's move, and what the validator refuses


def with_to_if(**contract: Any) -> Run:
    """kundprocess-se where only an opportunity of 100 000 SEK or more moves to expansion, and
    start_delivery moves to delivery only for contracts of more than 100 licences."""
    text = edit(
        "        record: opportunities\n        to: expansion\n",
        "        record: opportunities\n        to: expansion\n"
        "        to_if: {field: event.value, gte: 100000}\n",
        KP,
        TEXT,
    )
    text = edit(
        "        allowed_in: [onboarding]\n        to: delivery\n",
        "        allowed_in: [onboarding]\n        to: delivery\n"
        "        to_if: {field: contract.licenses, gt: 100}\n",
        KP,
        text,
    )
    inp = parse_pipelines(text).pipelines[KP]
    return Run(inp, start(KP, SIGNED, contract_id="C-9", **contract).state)


def test_to_if_decides_whether_the_event_moves_the_run() -> None:
    """A small opportunity is recorded while the run stays in partnership; a larger one moves it."""
    run = in_partnership(with_to_if(licenses=150))
    logged = SIGNED + timedelta(weeks=9)
    event(run, "opportunity_logged", logged, **opportunity(50000))
    assert run.state.stage == "partnership"
    assert len(run.state.records["opportunities"]) == 1
    event(run, "opportunity_logged", logged, **opportunity(150000))
    assert run.state.stage == "expansion"


def test_a_move_that_will_not_happen_is_not_refused_by_its_gate() -> None:
    """The checklist gate refuses start_delivery only when its to_if lets it move the run."""
    run = with_to_if(licenses=12)  # start_delivery does not move it
    assert event(run, "start_delivery", SIGNED + timedelta(hours=1)) == "onboarding"
    with pytest.raises(NotNow, match="unticked checklist items"):
        event(with_to_if(licenses=150), "start_delivery", SIGNED + timedelta(hours=1))


def test_a_condition_travels_compactly_and_decodes_equal() -> None:
    """On the wire a condition keeps only what it says (aliases in, not), and decodes equal."""
    shape = {"all": [{"field": "event.value", "in": [1, 2.5]}, {"not": {"module": "crm"}}]}
    wire = to_json(cond(shape), context=WIRE_CONTEXT)
    assert wire == b'{"all":[{"in":[1,2.5],"field":"event.value"},{"not":{"module":"crm"}}]}'
    assert Condition.model_validate_json(wire) == cond(shape)
