"""Evaluating ``if:`` and ``to_if:`` conditions over a run: pure, with the clock passed in.

What a condition looks at is gathered in ``Facts``: the run's state (contract, modules,
checklist, records, the stage and when it was entered), its pipeline snapshot, the moment
it is evaluated at (an action's or a step's planned moment, so a late worker decides as
an on-time one would) and, for an event's ``do`` and ``to_if``, the event with its payload.

A value that is not there (an optional payload field left empty, a contract date the
contract lacks, ``min``/``max``/``last`` of an empty record list) satisfies no comparison;
``not`` turns that around. The loader has checked every condition against the pipeline
(``kickoff.pipelines.checks.conditions``), so the types compared here are the declared ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import assert_never

from kickoff.domain import OnboardingState
from kickoff.pipelines.conditions import (
    Comparison,
    Condition,
    Op,
    Operand,
    Scalar,
    UnknownOperandError,
    operand,
    record_operand,
)
from kickoff.pipelines.model import Action, Pipeline
from kickoff.pipelines.payload import JsonScalar
from kickoff.schedule import zone

Records = Mapping[str, Sequence[Mapping[str, JsonScalar]]]
Value = JsonScalar


@dataclass(frozen=True)
class Facts:
    """What a condition is evaluated over, at ``now``."""

    state: OnboardingState
    pipeline: Pipeline
    now: datetime
    event: str | None = None
    """The event whose ``do`` or ``to_if`` is evaluated (its payload is ``payload``)."""
    payload: Mapping[str, JsonScalar] | None = None
    records: Records | None = None
    """The records to count (default: the run's): a validator sees the event's own record
    before the event has kept it."""

    def record_list(self, name: str) -> Sequence[Mapping[str, JsonScalar]]:
        records = self.records if self.records is not None else self.state.records
        return records.get(name, ())


def event_facts(
    state: OnboardingState,
    pipeline: Pipeline,
    name: str,
    payload: Mapping[str, JsonScalar],
    now: datetime,
    *,
    kept: bool,
) -> Facts:
    """The facts an event's conditions see: its payload, and the records with its own entry
    (``kept``: the run has appended it already; otherwise it is added here, as it will be)."""
    spec = pipeline.events[name]
    records: Records | None = None
    if spec.record is not None and not kept:
        entry: dict[str, JsonScalar] = {"at": now.isoformat(), **payload}
        records = {**state.records, spec.record: [*state.records.get(spec.record, []), entry]}
    return Facts(state, pipeline, now, name, payload, records)


def holds(condition: Condition | None, facts: Facts) -> bool:
    """Whether ``condition`` holds (no condition always does)."""
    if condition is None:
        return True
    kind = condition.kind
    match kind:
        case "all":
            assert condition.all is not None
            return all(holds(part, facts) for part in condition.all)
        case "any":
            assert condition.any is not None
            return any(holds(part, facts) for part in condition.any)
        case "not":
            assert condition.not_ is not None
            return not holds(condition.not_, facts)
        case "module":
            return condition.module in facts.state.modules
        case "checklist":
            items = [i for i in facts.state.checklist if i.checklist == condition.checklist]
            complete = all(i.ticked_at is not None for i in items)
            return complete == (condition.complete is not False)
        case "item":
            ticked = any(i.id == condition.item and i.ticked_at is not None for i in facts.state.checklist)
            return ticked == (condition.ticked is not False)
        case "days_in_stage":
            assert condition.days_in_stage is not None
            return compare(days_in_stage(facts), "number", condition.days_in_stage)
        case "field":
            spec = _operand(facts, condition.path())
            return compare(_value(facts, condition.path(), spec), spec.type, condition)
        case "count" | "sum" | "min" | "max" | "last":
            value, type_ = aggregate(facts, condition)
            return compare(value, type_, condition)
        case _:
            assert_never(kind)


def chosen(actions: Sequence[Action], facts: Facts) -> list[int]:
    """The indexes of the actions whose ``if:`` holds, decided together before any is performed
    (an earlier move must not change what a later action's condition sees)."""
    return [index for index, action in enumerate(actions) if holds(action.condition, facts)]


def days_in_stage(facts: Facts) -> int:
    """Whole calendar days, in the pipeline's zone, from entering the current stage to ``now``."""
    tz = zone(facts.pipeline.timezone)
    return (facts.now.astimezone(tz).date() - facts.state.stage_entered_at.astimezone(tz).date()).days


def aggregate(facts: Facts, condition: Condition) -> tuple[Value, str]:
    """``count``, ``sum``, ``min``, ``max`` or ``last`` over a record list, with its type."""
    kind = condition.kind
    try:
        record, field, spec = record_operand(facts.pipeline, condition.path())
    except UnknownOperandError:
        return None, "number"  # refused by the loader: a run never has one
    rows = facts.record_list(record)
    if kind == "count":
        return len(rows), "number"
    if field is None or spec is None:
        return None, "number"
    if kind == "last":
        return (_normal(rows[-1].get(field), spec.type, facts) if rows else None), spec.type
    numbers = [
        float(v) for row in rows if isinstance(v := row.get(field), int | float) and not isinstance(v, bool)
    ]
    if kind == "sum":
        return sum(numbers), "number"
    if not numbers:
        return None, "number"
    return (min(numbers) if kind == "min" else max(numbers)), "number"


def compare(value: Value, type_: str, comparison: Comparison) -> bool:
    """Every comparison of ``comparison`` holds for ``value`` of declared ``type_``."""
    if value is None:
        return False
    return all(_one(value, type_, op, literal) for op, literal in comparison.comparisons())


def _one(value: Value, type_: str, op: Op, literal: Scalar | tuple[Scalar, ...]) -> bool:
    if op == "in":
        assert isinstance(literal, tuple)
        return any(_equal(value, type_, item) for item in literal)
    assert not isinstance(literal, tuple)
    if op == "eq":
        return _equal(value, type_, literal)
    if op == "ne":
        return not _equal(value, type_, literal)
    sign = _order(value, literal, type_)
    if sign is None:
        return False
    match op:
        case "lt":
            return sign < 0
        case "lte":
            return sign <= 0
        case "gt":
            return sign > 0
        case "gte":
            return sign >= 0
    raise AssertionError(op)


def _equal(value: Value, type_: str, literal: Scalar) -> bool:
    if type_ == "number":
        return _is_number(value) and _is_number(literal) and value == literal
    if type_ == "boolean":
        return isinstance(value, bool) and isinstance(literal, bool) and value == literal
    return isinstance(literal, str) and value == literal


def _order(value: Value, literal: Scalar, type_: str) -> int | None:
    """-1, 0 or 1 as ``value`` lies before, at or after ``literal``: numbers as numbers, dates
    as their ISO text (which orders like the dates); None when they do not order."""
    if type_ == "number" and isinstance(value, int | float) and isinstance(literal, int | float):
        if isinstance(value, bool) or isinstance(literal, bool):
            return None
        return (value > literal) - (value < literal)
    if type_ in ("date", "datetime") and isinstance(value, str) and isinstance(literal, str):
        return (value > literal) - (value < literal)
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _operand(facts: Facts, path: str) -> Operand:
    try:
        return operand(facts.pipeline, path, facts.event)
    except UnknownOperandError:
        # The loader refuses such a condition; a run never has one. Nothing is there to compare.
        return Operand("text")


def _value(facts: Facts, path: str, spec: Operand) -> Value:
    """The value ``path`` names now, in the form conditions compare (dates as ISO days)."""
    state, pipeline = facts.state, facts.pipeline
    contract = state.contract
    raw: object
    if path == "contract.licenses":
        raw = contract.licenses
    elif path == "contract.language":
        # The language the customer is written to in: the contract's if offered, else the default.
        language = contract.language
        raw = language if language in pipeline.languages else pipeline.default_language
    elif path == "contract.signed_at":
        raw = contract.signed_at
    elif path == "contract.delivery_start":
        raw = contract.delivery_start
    elif path.startswith("contract.dates."):
        raw = contract.dates.get(path.removeprefix("contract.dates."))
    elif path.startswith("event.") and facts.payload is not None:
        raw = facts.payload.get(path.removeprefix("event."))
    else:
        raw = None
    return _normal(raw, spec.type, facts)


def _normal(raw: object, type_: str, facts: Facts) -> Value:
    """Dates and datetimes as the ISO day in the pipeline's zone; empty text as nothing."""
    if raw is None or raw == "":
        return None
    if type_ in ("date", "datetime"):
        return _day(raw, facts.pipeline.timezone)
    if isinstance(raw, bool | int | float | str):
        return raw
    return None


def _day(raw: object, tz: str) -> str | None:
    if isinstance(raw, datetime):
        return raw.astimezone(zone(tz)).date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, str):
        try:
            if len(raw) == len("2027-05-17"):
                return date.fromisoformat(raw).isoformat()
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return None
        return moment.astimezone(zone(tz)).date().isoformat() if moment.tzinfo else moment.date().isoformat()
    return None
