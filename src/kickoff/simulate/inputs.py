"""What a preview is given, checked before anything runs: the contract (with the bounds of
``POST /contracts``), each scripted action as far as that needs no run (its event and payload
fields, its checklist item), and the window. Every problem is named at once, with where it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kickoff.domain import Contract, EventInput, contract_problems
from kickoff.engine import rules
from kickoff.pipelines import Pipeline
from kickoff.pipelines.payload import PayloadError
from kickoff.simulate.script import MAX_ACTIONS, ScriptedAction, moment_of

PREVIEW_ID = "PREVIEW"
"""The contract id of a preview whose contract names none."""
DEFAULT_SPAN = timedelta(days=120)
"""How far a preview looks ahead without ``until`` (and past the last scripted action)."""
MAX_SPAN = timedelta(days=5 * 366)


class SimulationError(ValueError):
    """A preview that cannot run."""


class UnknownPipelineError(SimulationError):
    """No such pipeline in the catalog: 404, exit status 2."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (``("events", 2, "payload", "until")``) and why."""

    loc: tuple[str | int, ...]
    msg: str

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.loc)
        return f"{where}: {self.msg}" if where else self.msg


class InvalidInputError(SimulationError):
    """The contract, a scripted action or a date is wrong: 422, exit status 2."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))


def checked_actions(
    pipeline: Pipeline, script: Sequence[Mapping[str, Any] | ScriptedAction], problems: list[Problem]
) -> list[tuple[int, ScriptedAction]]:
    """The script's actions, each checked against the pipeline as far as that needs no run:
    its event and payload fields, its checklist item."""
    if len(script) > MAX_ACTIONS:
        problems.append(Problem(("events",), f"a script has at most {MAX_ACTIONS} actions"))
        return []
    actions: list[tuple[int, ScriptedAction]] = []
    for index, entry in enumerate(script):
        try:
            action = entry if isinstance(entry, ScriptedAction) else ScriptedAction.model_validate(entry)
        except ValidationError as exc:
            problems.extend(
                Problem(("events", index, *error["loc"]), _message(error))
                for error in exc.errors(include_url=False)
            )
            continue
        loc: tuple[str | int, ...] = ("events", index)
        if action.event is not None:
            spec = pipeline.events.get(action.event)
            if spec is None:
                known = ", ".join(pipeline.events) or "none"
                why = f"{pipeline.id} has no event {action.event!r} (events: {known})"
                problems.append(Problem((*loc, "event"), why))
                continue
            try:
                # The payload's shape, as the run checks it (the moment-dependent checks come at its moment).
                rules.payload_of(EventInput(name=action.event, payload=action.payload), spec)
            except PayloadError as refused:
                problems.extend(Problem((*loc, "payload", k), why) for k, why in refused.problems.items())
                continue
        item = action.tick or action.untick
        if item is not None and item not in pipeline.checklist_items():
            known = ", ".join(pipeline.checklist_items()) or "none"
            why = f"{pipeline.id} has no checklist item {item!r} (items: {known})"
            problems.append(Problem((*loc, action.kind), why))
            continue
        actions.append((index, action))
    return actions


def checked_contract(
    pipeline: Pipeline, data: Mapping[str, Any], start: date | None, problems: list[Problem]
) -> Contract | None:
    body = dict(data)
    body["pipeline"] = pipeline.id
    if not body.get("contract_id"):
        body["contract_id"] = PREVIEW_ID
    if body.get("signed_at") is None:
        if start is None:
            problems.append(Problem(("from",), "give the moment the contract arrives, or its signed_at"))
            return None
        body["signed_at"] = moment_of(start, pipeline.timezone)
    try:
        contract = Contract.model_validate(body)
    except ValidationError as exc:
        problems.extend(
            Problem(("contract", *error["loc"]), _message(error)) for error in exc.errors(include_url=False)
        )
        return None
    problems.extend(Problem(("contract", loc), msg) for loc, msg in contract_problems(pipeline, contract))
    return None if problems else contract


def _message(error: ErrorDetails) -> str:
    """Pydantic's message, without the "Value error, " its validators' messages begin with."""
    return error["msg"].removeprefix("Value error, ")
