"""Conditions: ``if:`` on an action, a step or a deadline, and ``to_if:`` on an event's move.

Declarative YAML, never code: a condition is one mapping with exactly one head key.

* ``{field: contract.licenses, gt: 100}``: a contract field (``contract.licenses``,
  ``contract.language``, ``contract.signed_at``, ``contract.delivery_start``,
  ``contract.dates.<name>``) or, in an event's ``do`` and ``to_if``, a declared field of its
  payload (``event.value``), compared with ``eq``, ``ne``, ``lt``, ``lte``, ``gt``, ``gte`` or
  ``in`` (several comparisons must all hold: ``{field: contract.licenses, gte: 10, lt: 100}``);
* ``{count: opportunities, gt: 0}``, ``{sum: opportunities.value, gte: 1000000}``, ``min``,
  ``max`` and ``last`` (the latest record's field): over a record list (``record:`` on an event);
* ``{checklist: trainings, complete: true}`` and ``{item: training_sales, ticked: true}``;
* ``{days_in_stage: {gte: 30}}``: whole calendar days since the current stage was entered;
* ``{module: accounting}``: the contract includes the module;
* ``{all: [...]}``, ``{any: [...]}``, ``{not: {...}}``.

The shape is checked here; what a condition names (fields and their types, records,
checklists, modules) is checked against the pipeline by ``kickoff.pipelines.checks.conditions``,
and ``kickoff.engine.conditions`` evaluates it. ``operand`` is the one place that says what a
path names and of which type, for both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from pydantic import ConfigDict, Field, field_validator, model_validator

from kickoff.wire import CompactOnTheWire

if TYPE_CHECKING:
    from kickoff.pipelines.model import FieldType, Pipeline

Scalar = bool | int | float | str
"""What a condition compares with. Dates are written as dates (``2027-05-17``) and kept as
their ISO text, which orders like the dates and travels unchanged on the wire."""

Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in"]
OPS: tuple[Op, ...] = get_args(Op)
ORDER_OPS: frozenset[Op] = frozenset({"lt", "lte", "gt", "gte"})

ConditionKind = Literal[
    "field",
    "count",
    "sum",
    "min",
    "max",
    "last",
    "checklist",
    "item",
    "days_in_stage",
    "module",
    "all",
    "any",
    "not",
]
"""The head key that says what a condition looks at; every dispatch on it ends in ``assert_never``."""
CONDITION_KINDS: tuple[ConditionKind, ...] = get_args(ConditionKind)
COMPARED: frozenset[ConditionKind] = frozenset({"field", "count", "sum", "min", "max", "last"})
"""Kinds that compare a value, and so take ``eq`` … ``in``."""
AGGREGATES: frozenset[ConditionKind] = frozenset({"count", "sum", "min", "max", "last"})


def _iso(value: object) -> object:
    """A date literal as ISO text; a date with a time is refused (conditions compare days)."""
    if isinstance(value, dt.datetime):
        raise ValueError("conditions compare dates by day: write a date like 2027-05-17, without a time")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class Comparison(CompactOnTheWire):
    """``eq``, ``ne``, ``lt``, ``lte``, ``gt``, ``gte`` and ``in``: each one given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    eq: Scalar | None = None
    ne: Scalar | None = None
    lt: Scalar | None = None
    lte: Scalar | None = None
    gt: Scalar | None = None
    gte: Scalar | None = None
    in_: tuple[Scalar, ...] | None = Field(default=None, alias="in", min_length=1)

    @field_validator("eq", "ne", "lt", "lte", "gt", "gte", mode="before")
    @classmethod
    def _date_as_text(cls, value: object) -> object:
        return _iso(value)

    @field_validator("in_", mode="before")
    @classmethod
    def _dates_as_text(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [_iso(item) for item in value]
        return value

    def comparisons(self) -> list[tuple[Op, Scalar | tuple[Scalar, ...]]]:
        """The comparisons given, in the order ``OPS`` lists them."""
        found: list[tuple[Op, Scalar | tuple[Scalar, ...]]] = []
        for op in OPS:
            value = self.in_ if op == "in" else getattr(self, op)
            if value is not None:
                found.append((op, value))
        return found


class Condition(Comparison):
    """Exactly one head (``field``, ``count``, ``sum``, ``min``, ``max``, ``last``,
    ``checklist``, ``item``, ``days_in_stage``, ``module``, ``all``, ``any``, ``not``), with
    the comparisons or flags that head takes."""

    field: str | None = None
    count: str | None = None
    sum: str | None = None
    min: str | None = None
    max: str | None = None
    last: str | None = None
    checklist: str | None = None
    complete: bool | None = None
    item: str | None = None
    ticked: bool | None = None
    days_in_stage: Comparison | None = None
    module: str | None = None
    all: tuple[Condition, ...] | None = Field(default=None, min_length=1)
    any: tuple[Condition, ...] | None = Field(default=None, min_length=1)
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_head(self) -> Condition:
        heads = [kind for kind in CONDITION_KINDS if self._head(kind) is not None]
        if len(heads) != 1:
            raise ValueError(
                f"a condition has exactly one of {', '.join(CONDITION_KINDS)} (found {heads or 'none'})"
            )
        kind = heads[0]
        compares = self.comparisons()
        if kind in COMPARED and not compares:
            raise ValueError(f"{kind} needs a comparison: one of {', '.join(OPS)}")
        if kind not in COMPARED and compares:
            raise ValueError(
                f"{compares[0][0]} compares a field, count, sum, min, max or last, not {kind}"
                + (": write days_in_stage: {gte: 30}" if kind == "days_in_stage" else "")
            )
        if self.complete is not None and kind != "checklist":
            raise ValueError("complete belongs to a checklist condition: {checklist: <id>, complete: true}")
        if self.ticked is not None and kind != "item":
            raise ValueError("ticked belongs to an item condition: {item: <id>, ticked: true}")
        days = self.days_in_stage
        if kind == "days_in_stage" and days is not None and not days.comparisons():
            raise ValueError(f"days_in_stage needs a comparison: one of {', '.join(OPS)}")
        return self

    def _head(self, kind: ConditionKind) -> object:
        return self.not_ if kind == "not" else getattr(self, kind)

    @property
    def kind(self) -> ConditionKind:
        for kind in CONDITION_KINDS:
            if self._head(kind) is not None:
                return kind
        raise AssertionError("validated to have one head")

    def path(self) -> str:
        """What a compared condition looks at (``contract.licenses``, ``opportunities.value``)."""
        value = self._head(self.kind)
        assert isinstance(value, str), f"{self.kind} names no path"
        return value


# ---------------------------------------------------------------- what a path names

CONTRACT_FIELDS: dict[str, FieldType] = {
    "contract.licenses": "number",
    "contract.language": "choice",
    "contract.signed_at": "datetime",
    "contract.delivery_start": "date",
}
"""Contract fields a condition may compare, besides ``contract.dates.<name>`` (a date)."""


@dataclass(frozen=True)
class Operand:
    """The type of what a path names, and its choices (a choice field, the offered languages)."""

    type: FieldType
    choices: tuple[str, ...] | None = None


class UnknownOperandError(ValueError):
    """A path that names nothing the condition can see, with what it could name instead."""


def record_fields(pipeline: Pipeline) -> dict[str, dict[str, Operand]]:
    """Every record list (``record:`` on an event) and its fields: the payload of the event
    that keeps it (the first such event, when several keep one list)."""
    records: dict[str, dict[str, Operand]] = {}
    for event in pipeline.events.values():
        if event.record is None:
            continue
        fields = records.setdefault(event.record, {})
        for name, spec in event.payload.items():
            fields.setdefault(name, Operand(spec.type, spec.choices))
    return records


def operand(pipeline: Pipeline, path: str, event: str | None) -> Operand:
    """What ``field: <path>`` names, seen from an event's ``do`` or ``to_if`` (``event``) or from
    anywhere else (None); ``UnknownOperandError`` says why it names nothing."""
    if path in CONTRACT_FIELDS:
        kind = CONTRACT_FIELDS[path]
        return Operand(kind, pipeline.languages if path == "contract.language" else None)
    if path.startswith("contract.dates."):
        name = path.removeprefix("contract.dates.")
        if name in pipeline.contract_dates:
            return Operand("date")
        known = ", ".join(pipeline.contract_dates) or "none declared"
        raise UnknownOperandError(f"unknown contract date {name!r} (contract_dates: {known})")
    if path.startswith("event."):
        name = path.removeprefix("event.")
        if event is None:
            raise UnknownOperandError(
                f"{path}: there is no event here; an event's payload is seen in that event's do and to_if"
            )
        declared = pipeline.events[event].payload
        if name in declared:
            spec = declared[name]
            return Operand(spec.type, spec.choices)
        raise UnknownOperandError(
            f"event {event!r} has no payload field {name!r} (fields: {', '.join(declared) or 'none'})"
        )
    known = ", ".join([*CONTRACT_FIELDS, "contract.dates.<name>", "event.<payload field>"])
    raise UnknownOperandError(f"unknown field {path!r} (fields: {known})")


def record_operand(pipeline: Pipeline, path: str) -> tuple[str, str | None, Operand | None]:
    """``opportunities.value`` -> (record, field, its operand); ``opportunities`` -> (record, None,
    None). ``UnknownOperandError`` when the record or its field is not declared."""
    records = record_fields(pipeline)
    record, _, name = path.partition(".")
    if record not in records:
        raise UnknownOperandError(f"unknown record {record!r} (records: {', '.join(records) or 'none'})")
    if not name:
        return record, None, None
    fields = records[record]
    if name not in fields:
        raise UnknownOperandError(f"record {record!r} has no field {name!r} (fields: {', '.join(fields)})")
    return record, name, fields[name]
