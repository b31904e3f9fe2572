"""Conditions: every ``if:`` and ``to_if:`` names what the pipeline declares, with literals of its type.

Fields are typed by the contract (``contract.licenses`` is a number), by the payload an event
declares (``event.value``: only in that event's ``do`` and ``to_if``), and by the payload of
the events that keep a record list (``sum: opportunities.value`` needs a number field).
Each problem points at the key that is wrong, so a process owner finds its line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import assert_never

from kickoff.pipelines.checks.checklists import checklist_refs, module_refs
from kickoff.pipelines.checks.context import Context, Loc, Problems
from kickoff.pipelines.conditions import (
    Comparison,
    Condition,
    Operand,
    Scalar,
    UnknownOperandError,
    operand,
    record_operand,
)
from kickoff.pipelines.model import Action, Step
from kickoff.pipelines.payload import DATE_EXAMPLE

EQUALITY_OPS = frozenset({"eq", "ne", "in"})


@dataclass(frozen=True)
class Scope:
    """Where a condition is written: which event's payload it sees, and what to call the place."""

    where: str
    event: str | None = None
    on_entry: bool = False
    """An ``on_enter`` action: the time in the stage is always 0 there."""


def check_conditions(ctx: Context) -> Problems:
    """The conditions of every entry action, step, deadline, event move and event action."""
    p = ctx.pipeline
    for index, stage in enumerate(p.stages):
        sloc = ctx.loc("stages", index)
        entry = Scope("a stage's on_enter", on_entry=True)
        yield from _actions(ctx, (*sloc, "on_enter"), stage.on_enter, entry)
        for sindex, step in enumerate(stage.schedule):
            yield from _step(ctx, (*sloc, "schedule", sindex), step, Scope("a step"))
    for index, deadline in enumerate(p.deadlines):
        yield from _step(ctx, ctx.loc("deadlines", index), deadline, Scope("a deadline"))
    for name, event in p.events.items():
        eloc = ctx.loc("events", name)
        scope = Scope(f"event {name!r}", event=name)
        if event.to_if is not None:
            if event.to is None:
                yield (
                    (*eloc, "to_if"),
                    "to_if says when the event moves the run to its 'to' stage, and the event has no to",
                )
            yield from check_condition(ctx, (*eloc, "to_if"), event.to_if, scope)
        yield from _actions(ctx, (*eloc, "do"), event.do, scope)


def _step(ctx: Context, loc: Loc, step: Step, scope: Scope) -> Problems:
    if step.condition is not None:
        yield from check_condition(ctx, (*loc, "if"), step.condition, scope)
    yield from _actions(ctx, (*loc, "do"), step.do, scope)


def _actions(ctx: Context, loc: Loc, actions: Sequence[Action], scope: Scope) -> Problems:
    for index, action in enumerate(actions):
        if action.condition is not None:
            yield from check_condition(ctx, (*loc, index, "if"), action.condition, scope)


def check_condition(ctx: Context, loc: Loc, condition: Condition, scope: Scope) -> Problems:
    """One condition and the conditions inside it."""
    kind = condition.kind
    match kind:
        case "all" | "any":
            parts = condition.all if kind == "all" else condition.any
            for index, part in enumerate(parts or ()):
                yield from check_condition(ctx, (*loc, kind, index), part, scope)
        case "not":
            assert condition.not_ is not None
            yield from check_condition(ctx, (*loc, "not"), condition.not_, scope)
        case "module":
            yield from module_refs(ctx, (*loc, "module"), [condition.path()])
        case "checklist":
            yield from checklist_refs(ctx, (*loc, "checklist"), [condition.path()])
        case "item":
            items = ctx.pipeline.checklist_items()
            if condition.path() not in items:
                yield (
                    (*loc, "item"),
                    f"unknown checklist item {condition.path()!r} (items: {', '.join(items) or 'none'})",
                )
        case "days_in_stage":
            assert condition.days_in_stage is not None
            if scope.on_entry:
                yield (
                    (*loc, "days_in_stage"),
                    "days_in_stage is always 0 when a stage is entered: put the condition on a step",
                )
            yield from _literals(
                (*loc, "days_in_stage"), "days_in_stage", Operand("number"), condition.days_in_stage
            )
        case "field":
            yield from _field(ctx, loc, condition, scope)
        case "count" | "sum" | "min" | "max" | "last":
            yield from _aggregate(ctx, loc, condition)
        case _:
            assert_never(kind)


def _field(ctx: Context, loc: Loc, condition: Condition, scope: Scope) -> Problems:
    path = condition.path()
    if path.startswith("event.") and scope.event is None:
        yield (
            (*loc, "field"),
            f"{path}: {scope.where} has no event; an event's payload is seen only in that "
            "event's do and to_if",
        )
        return
    try:
        found = operand(ctx.pipeline, path, scope.event)
    except UnknownOperandError as unknown:
        yield (*loc, "field"), str(unknown)
        return
    yield from _literals(loc, path, found, condition)


def _aggregate(ctx: Context, loc: Loc, condition: Condition) -> Problems:
    kind, path = condition.kind, condition.path()
    try:
        record, field, found = record_operand(ctx.pipeline, path)
    except UnknownOperandError as unknown:
        yield (*loc, kind), str(unknown)
        return
    if kind == "count":
        if field is not None:
            yield (*loc, kind), f"count counts a record list's entries: write count: {record}"
            return
        yield from _literals(loc, f"count of {record}", Operand("number"), condition)
        return
    if field is None or found is None:
        yield (*loc, kind), f"{kind} takes a record list's field: write {kind}: {record}.<field>"
        return
    if kind != "last" and found.type != "number":
        yield (*loc, kind), f"{kind} needs a number field: {path} is {_named(found)}"
        return
    label = f"{kind} of {path}"
    yield from _literals(loc, label, found if kind == "last" else Operand("number"), condition)


def _literals(loc: Loc, label: str, found: Operand, comparison: Comparison) -> Problems:
    """Each comparison suits the type of what it compares, and so does each value it names."""
    for op, literal in comparison.comparisons():
        values: tuple[Scalar, ...] = literal if isinstance(literal, tuple) else (literal,)
        if found.type in ("text", "choice", "boolean") and op not in EQUALITY_OPS:
            yield (*loc, op), f"{label} is {_named(found)}: compare it with eq, ne or in, not {op}"
            continue
        for value in values:
            why = _mismatch(label, found, value)
            if why:
                yield (*loc, op), why
                break


def _mismatch(label: str, found: Operand, value: Scalar) -> str | None:
    """Why ``value`` cannot be compared with ``label`` of type ``found``, or None."""
    kind = found.type
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{label} is a number: compare it with a number, not {value!r}"
        return None
    if kind == "boolean":
        if not isinstance(value, bool):
            return f"{label} is true or false: compare it with true or false, not {value!r}"
        return None
    if kind in ("date", "datetime"):
        if not (isinstance(value, str) and _is_date(value)):
            day = " (a date and time, compared by its day)" if kind == "datetime" else ""
            return f"{label} is a date{day}: compare it with a date like {DATE_EXAMPLE}, not {value!r}"
        return None
    if not isinstance(value, str):
        hint = (
            " (YAML reads a bare yes, no, on or off as true or false: quote it)"
            if isinstance(value, bool)
            else ""
        )
        return f"{label} is text: compare it with text, not {value!r}{hint}"
    if found.choices is not None and value not in found.choices:
        listed = ", ".join(found.choices)
        if label == "contract.language":
            return f"language {value!r} is not among the pipeline's languages ({listed})"
        return f"{value!r} is not a choice of {label} (choices: {listed})"
    return None


def _named(found: Operand) -> str:
    return {
        "number": "a number",
        "boolean": "true or false",
        "date": "a date",
        "datetime": "a date and time",
        "choice": "a choice",
        "text": "text",
    }[found.type]


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == len(DATE_EXAMPLE)
