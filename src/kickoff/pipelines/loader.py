"""Load ``pipelines.yaml`` into validated ``Pipeline`` models, or say exactly where it is wrong.

Two passes: pydantic checks the shape, then ``_check_references`` checks what
the shape cannot (a move to an unknown stage, a template missing a language,
a stage nothing leads to). Every problem carries its YAML path, which is
mapped back to a line through the composed YAML node tree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import jinja2
import jinja2.meta
import yaml
from pydantic import ValidationError

from kickoff.pipelines.model import (
    Action,
    Due,
    KickoffOutcomeSpec,
    Moment,
    Pipeline,
    PipelineFile,
    Step,
    TaskSpec,
)

Loc = tuple[str | int, ...]
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML has it (its wheels do): ten times faster than the Python one."""

TEMPLATE_VARIABLES = frozenset(
    {
        "onboarding_id",
        "customer",
        "main_user",
        "links",
        "pipeline",
        "team",
        "meeting_at",
        "event",
        "stage",
        "modules",
        "dates",
    }
)
"""What a mail template may use; anything else is refused at load time."""

FIXED_ANCHORS = ("signed_at", "delivery_start", "entered")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the file, with the place a process owner must look."""

    source: str
    line: int | None
    pipeline: str | None
    stage: str | None
    path: str
    message: str

    def __str__(self) -> str:
        where = [f"{self.source}:{self.line}" if self.line else self.source]
        if self.pipeline:
            where.append(f"pipeline '{self.pipeline}'")
        if self.stage:
            where.append(f"stage '{self.stage}'")
        if self.path:
            where.append(self.path)
        return f"{', '.join(where)}: {self.message}"


class PipelineError(ValueError):
    """``pipelines.yaml`` is invalid; ``problems`` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid pipelines file ({len(self.problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class PipelineCatalog:
    """The validated pipelines with their content-hash versions."""

    pipelines: Mapping[str, Pipeline]
    versions: Mapping[str, str] = field(default_factory=dict)

    def get(self, pipeline_id: str) -> Pipeline | None:
        return self.pipelines.get(pipeline_id)

    def version(self, pipeline_id: str) -> str:
        return self.versions[pipeline_id]


def pipeline_version(pipeline: Pipeline) -> str:
    """A short content hash: equal definitions share it, any edit changes it."""
    canonical = json.dumps(pipeline.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def load_pipelines(path: Path) -> PipelineCatalog:
    """Read and validate ``path``; raises ``PipelineError`` naming every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PipelineError([Problem(str(path), None, None, None, "", f"cannot read: {exc}")]) from exc
    return parse_pipelines(text, source=str(path))


def parse_pipelines(text: str, source: str = "pipelines.yaml") -> PipelineCatalog:
    """Validate YAML text (see ``load_pipelines``)."""
    try:
        # One pass: the node tree gives lines for problems, its construction the data.
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            raw = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PipelineError([Problem(source, line, None, None, "", f"not valid YAML: {exc}")]) from exc

    locate = _Locator(source, raw, root)
    if isinstance(raw, dict) and isinstance(raw.get("pipelines"), dict):
        # The mapping key is the pipeline id; repeating it inside is optional.
        for key, body in raw["pipelines"].items():
            if isinstance(body, dict):
                body.setdefault("id", key)
                # An event declares its payload even when it takes none: only snapshots taken
                # before payload declarations existed lack it (and take the shorthand fields).
                for event in (
                    (body.get("events") or {}).values() if isinstance(body.get("events"), dict) else ()
                ):
                    if isinstance(event, dict):
                        event.setdefault("payload", {})
    try:
        parsed = PipelineFile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [locate(tuple(err["loc"]), err["msg"]) for err in errors]
        # Check the references of the pipelines that are well-formed too, so a
        # quoting slip in one pipeline does not hide what is wrong in another.
        misshapen = {err["loc"][1] for err in errors if len(err["loc"]) > 1 and err["loc"][0] == "pipelines"}
        bodies = raw.get("pipelines") if isinstance(raw, dict) else None
        for pid, body in (bodies or {}).items() if isinstance(bodies, dict) else ():
            if pid in misshapen:
                continue
            try:
                pipeline = Pipeline.model_validate(body)
            except ValidationError:
                continue
            problems.extend(
                locate(loc, message) for loc, message in _check_pipeline(("pipelines", pid), pid, pipeline)
            )
        problems.sort(key=lambda problem: problem.line or 0)
        raise PipelineError(problems) from exc

    problems = [locate(loc, message) for loc, message in _check_references(parsed)]
    if problems:
        raise PipelineError(problems)
    pipelines = {pid: _with_closed_days(p) for pid, p in parsed.pipelines.items()}
    return PipelineCatalog(
        pipelines=pipelines,
        versions={pid: pipeline_version(p) for pid, p in pipelines.items()},
    )


CALENDAR_YEARS = range(2020, 2041)
"""Years whose public holidays go into a pipeline's snapshot: a fixed range, so
the version hash does not change with the date it is computed on."""


@cache
def _public_holidays(country: str, subdivision: str | None, categories: tuple[str, ...]) -> frozenset[date]:
    return frozenset(
        holidays.country_holidays(country, subdiv=subdivision, years=CALENDAR_YEARS, categories=categories)
    )


def _with_closed_days(pipeline: Pipeline) -> Pipeline:
    calendar = pipeline.calendar
    if calendar is None:
        return pipeline
    public = _public_holidays(calendar.country, calendar.subdivision, calendar.categories)
    closed = public | set(calendar.extra_closed_days)
    return pipeline.model_copy(
        update={"calendar": calendar.model_copy(update={"closed_days": tuple(sorted(closed))})}
    )


class _Locator:
    """Turns a pydantic-style ``loc`` into a ``Problem`` with line, pipeline and stage."""

    def __init__(self, source: str, raw: Any, root: yaml.Node | None) -> None:
        self.source, self.raw, self.root = source, raw, root

    def __call__(self, loc: Loc, message: str) -> Problem:
        pipeline = str(loc[1]) if len(loc) > 1 and loc[0] == "pipelines" else None
        stage = None
        if pipeline is not None and len(loc) > 3 and loc[2] == "stages" and isinstance(loc[3], int):
            stage = self._stage_id(pipeline, loc[3])
        path = ".".join(map(str, loc[2:] if pipeline else loc))
        return Problem(self.source, self._line(loc), pipeline, stage, path, message)

    def _stage_id(self, pipeline: str, index: int) -> str | None:
        try:
            stage = self.raw["pipelines"][pipeline]["stages"][index]
        except (KeyError, IndexError, TypeError):
            return None
        stage_id = stage.get("id") if isinstance(stage, dict) else None
        return str(stage_id) if stage_id is not None else f"#{index + 1}"

    def _line(self, loc: Loc) -> int | None:
        node = self.root
        if node is None:
            return None
        for depth, part in enumerate(loc):
            found = _child(node, part)
            if found is None:
                break
            key, value = found
            if depth == len(loc) - 1 or isinstance(value, yaml.ScalarNode):
                # The line with the name on it, not the first line inside its block.
                node = key
                break
            node = value
        return node.start_mark.line + 1


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key, value) nodes of ``part`` in a mapping, or (item, item) in a sequence."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return key, value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item: yaml.Node = node.value[part]
        return item, item
    return None


def _check_references(parsed: PipelineFile) -> Iterator[tuple[Loc, str]]:
    for pid, pipeline in parsed.pipelines.items():
        yield from _check_pipeline(("pipelines", pid), pid, pipeline)


def _check_pipeline(at: Loc, pid: str, p: Pipeline) -> Iterator[tuple[Loc, str]]:
    if p.id != pid:
        yield (*at, "id"), f"id {p.id!r} differs from its key {pid!r}"
    try:
        ZoneInfo(p.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield (*at, "timezone"), f"unknown time zone {p.timezone!r}"
    if p.calendar is not None:
        try:
            _public_holidays(p.calendar.country, p.calendar.subdivision, ("public",))
        except NotImplementedError:
            yield (
                (*at, "calendar", "country"),
                (
                    f"no public-holiday calendar for country {p.calendar.country!r}"
                    + (f" and subdivision {p.calendar.subdivision!r}" if p.calendar.subdivision else "")
                ),
            )
        else:
            try:
                _public_holidays(p.calendar.country, p.calendar.subdivision, p.calendar.categories)
            except (NotImplementedError, ValueError) as exc:
                yield (*at, "calendar", "categories"), f"holiday categories not available: {exc}"
    elif any(offset.unit == "business_days" for offset in _offsets(p)):
        yield (*at, "calendar"), "business_days offsets need a calendar (calendar: {country: SE})"
    if p.default_language not in p.languages:
        yield (*at, "default_language"), f"{p.default_language!r} is not among languages {list(p.languages)}"

    stage_ids = p.stage_ids()
    known_stages = set(stage_ids)
    seen: set[str] = set()
    for index, stage in enumerate(p.stages):
        if stage.id in seen:
            yield (*at, "stages", index, "id"), f"stage id {stage.id!r} is used twice"
        seen.add(stage.id)

    def stage_ref(loc: Loc, ref: str | None, what: str) -> Iterator[tuple[Loc, str]]:
        if ref is not None and ref not in known_stages:
            yield loc, f"{what} refers to unknown stage {ref!r} (stages: {', '.join(stage_ids)})"

    yield from stage_ref((*at, "start_stage"), p.start_stage, "start_stage")
    yield from stage_ref((*at, "restart", "stage"), p.restart.stage, "restart.stage")
    if not any(stage.goal for stage in p.stages) and not any(event.goal for event in p.events.values()):
        yield (*at, "stages"), "no stage or event is a goal: a run could never complete"
    if p.park_event is not None and p.park_event not in p.events:
        yield (
            (*at, "park_event"),
            f"unknown event {p.park_event!r} (events: {', '.join(p.events) or 'none'})",
        )

    for field_name, stage_id in (("start_stage", p.start_stage), ("restart", p.restart.stage)):
        if stage_id in known_stages and p.stage(stage_id).requires:
            loc = (*at, "start_stage") if field_name == "start_stage" else (*at, "restart", "stage")
            yield (
                loc,
                f"a run starts in {stage_id!r} with nothing ticked, but the stage requires its "
                "checklist: start in an earlier stage",
            )
    for name, event in p.events.items():
        for anchor in {*event.stamps, *event.anchors}:
            if anchor in FIXED_ANCHORS or anchor.startswith(("entered:", "contract:")):
                yield (
                    (*at, "events", name, "stamps" if anchor in event.stamps else "anchors"),
                    f"anchor {anchor!r} comes from the contract or the stage entry: "
                    "an event may only set anchors of its own (e.g. 'kickoff_held')",
                )
        for anchor in event.advance_only:
            if anchor not in event.anchors and anchor not in event.stamps:
                yield (
                    (*at, "events", name, "advance_only"),
                    f"anchor {anchor!r} is not one this event sets (anchors or stamps)",
                )
        for field_name, spec in event.payload.items():
            if spec.past and spec.type not in ("date", "datetime"):
                yield (
                    (*at, "events", name, "payload", field_name, "past"),
                    f"past applies to date and datetime fields, not {spec.type}",
                )

    anchors = {
        *FIXED_ANCHORS,
        *(f"entered:{sid}" for sid in stage_ids),
        *(f"contract:{name}" for name in p.contract_dates),
    }
    for event in p.events.values():
        anchors.update(event.anchors)
        anchors.update(event.stamps)
    gated = {stage.id for stage in p.stages if stage.requires}
    env = jinja2.Environment(autoescape=False)  # noqa: S701 - plain-text mail, never HTML

    def module_refs(loc: Loc, modules: Sequence[str] | None) -> Iterator[tuple[Loc, str]]:
        for module in modules or ():
            if module not in p.modules:
                known = ", ".join(p.modules) or "none declared"
                yield loc, f"unknown module {module!r} (modules: {known})"

    def checklist_refs(loc: Loc, refs: Sequence[str]) -> Iterator[tuple[Loc, str]]:
        for ref in refs:
            if ref not in p.checklists:
                known = ", ".join(p.checklists) or "none"
                yield loc, f"unknown checklist {ref!r} (checklists: {known})"

    def template_vars(loc: Loc, source: str) -> Iterator[tuple[Loc, str]]:
        try:
            unknown = jinja2.meta.find_undeclared_variables(env.parse(source)) - TEMPLATE_VARIABLES
        except jinja2.TemplateSyntaxError as exc:
            yield loc, f"template syntax error: {exc.message}"
            return
        if unknown:
            yield (
                loc,
                f"unknown variable(s) {sorted(unknown)}; templates may use {sorted(TEMPLATE_VARIABLES)}",
            )

    def check_task(loc: Loc, task: TaskSpec) -> Iterator[tuple[Loc, str]]:
        if task.owner_role and task.owner_role not in p.roles:
            yield (*loc, "owner_role"), f"unknown role {task.owner_role!r}"
        if task.due.anchor and task.due.anchor not in anchors:
            yield (
                (*loc, "due", "anchor"),
                f"unknown anchor {task.due.anchor!r} (known: {', '.join(sorted(anchors))})",
            )

    def check_actions(loc: Loc, actions: Sequence[Action]) -> Iterator[tuple[Loc, str]]:
        for index, action in enumerate(actions):
            here = (*loc, index)
            yield from stage_ref((*here, "move"), action.move, "move")
            if action.move in gated:
                yield (
                    (*here, "move"),
                    f"a move into {action.move!r} would bypass the checklist it requires: "
                    "let an event move the run there",
                )
            yield from module_refs((*here, "modules"), action.modules)
            if action.mail and action.mail.template not in p.templates:
                known = ", ".join(p.templates) or "none"
                yield (
                    (*here, "mail", "template"),
                    f"unknown template {action.mail.template!r} (templates: {known})",
                )
            if action.mail and action.mail.language and action.mail.language not in p.languages:
                yield (
                    (*here, "mail", "language"),
                    f"language {action.mail.language!r} is not among languages {list(p.languages)}",
                )
            if action.task:
                yield from check_task((*here, "task"), action.task)
            if action.note and action.note.for_role and action.note.for_role not in p.roles:
                yield (*here, "note", "for"), f"unknown role {action.note.for_role!r}"
            if action.notify:
                yield from template_vars((*here, "notify", "subject"), action.notify.subject)
                yield from template_vars((*here, "notify", "text"), action.notify.text)

    def check_step(loc: Loc, step: Step) -> Iterator[tuple[Loc, str]]:
        for name in step.at.anchor_names():
            if name not in anchors:
                yield (
                    (*loc, "at", "anchor"),
                    f"unknown anchor {name!r} (known: {', '.join(sorted(anchors))})",
                )
        yield from checklist_refs((*loc, "unless_ticked"), step.unless_ticked)
        if step.repeat and step.at.days <= 0:
            yield (*loc, "at", "days"), "a repeating step needs a positive offset, or it would never rest"
        yield from module_refs((*loc, "modules"), step.modules)
        yield from check_actions((*loc, "do"), step.do)

    for index, stage in enumerate(p.stages):
        sloc = (*at, "stages", index)
        yield from check_actions((*sloc, "on_enter"), stage.on_enter)
        yield from checklist_refs((*sloc, "requires"), stage.requires)
        if stage.goal and stage.schedule:
            yield (*sloc, "schedule"), "a goal stage completes the run at once, so it has no schedule"
        keys: set[str] = set()
        for sindex, step in enumerate(stage.schedule):
            step_loc = (*sloc, "schedule", sindex)
            if step.key in keys:
                yield (*step_loc, "key"), f"step key {step.key!r} is used twice in this stage"
            keys.add(step.key)
            yield from check_step(step_loc, step)

    first_of_key: dict[str, Step] = {}
    for index, stage in enumerate(p.stages):
        for sindex, step in enumerate(stage.schedule):
            earlier = first_of_key.setdefault(step.key, step)
            if step.repeat and (earlier.at != step.at or not earlier.repeat):
                yield (
                    (*at, "stages", index, "schedule", sindex, "key"),
                    f"repeating step {step.key!r} shares its key (and so its recurrence) with a step "
                    "of another stage that is planned differently: give it its own key",
                )

    deadline_keys: set[str] = set()
    for index, deadline in enumerate(p.deadlines):
        dloc = (*at, "deadlines", index)
        if deadline.key in deadline_keys:
            yield (*dloc, "key"), f"deadline key {deadline.key!r} is used twice"
        deadline_keys.add(deadline.key)
        if deadline.repeat:
            yield (*dloc, "repeat"), "a deadline fires once per run; put a repeating step in a stage"
        for ref in deadline.in_stages:
            yield from stage_ref((*dloc, "in_stages"), ref, "in_stages")
        yield from check_step(dloc, deadline)

    for module_id, module in p.modules.items():
        for language in module.labels:
            if language not in p.languages:
                yield (
                    (*at, "modules", module_id, "labels", language),
                    f"language {language!r} is not among languages {list(p.languages)}",
                )

    item_ids: set[str] = set()
    for cid, checklist in p.checklists.items():
        for index, item in enumerate(checklist.items):
            iloc = (*at, "checklists", cid, "items", index)
            if item.id in item_ids:
                yield (*iloc, "id"), f"checklist item id {item.id!r} is used twice in this pipeline"
            item_ids.add(item.id)
            yield from module_refs((*iloc, "modules"), item.modules)

    for name, event in p.events.items():
        eloc = (*at, "events", name)
        for ref in event.allowed_in or ():
            yield from stage_ref((*eloc, "allowed_in"), ref, "allowed_in")
        yield from stage_ref((*eloc, "to"), event.to, "to")
        yield from check_actions((*eloc, "do"), event.do)
        for field_name, spec in event.payload.items():
            if spec.type == "choice" and not spec.choices:
                yield (*eloc, "payload", field_name), "a choice field needs its choices"
            if spec.type != "choice" and spec.choices:
                yield (
                    (*eloc, "payload", field_name, "choices"),
                    f"choices only apply to type choice, not {spec.type}",
                )
        for anchor, field_name in event.anchors.items():
            declared = event.payload.get(field_name)
            if declared is None or declared.type not in ("date", "datetime"):
                yield (
                    (*eloc, "anchors", anchor),
                    f"anchor {anchor!r} is set from payload field {field_name!r}, "
                    "which the event must declare as a date or datetime",
                )
        if event.outcome_labels:
            outcome = event.payload.get("outcome")
            choices = set(outcome.choices or ()) if outcome is not None else set()
            for label in event.outcome_labels:
                if label not in choices:
                    yield (
                        (*eloc, "outcome_labels", label),
                        f"outcome {label!r} is not a choice of the payload field 'outcome'",
                    )

    for name, versions in p.templates.items():
        tloc = (*at, "templates", name)
        for language in p.languages:
            if language not in versions:
                yield (
                    tloc,
                    f"template {name!r} has no {language!r} version "
                    f"(the pipeline offers {list(p.languages)})",
                )
        for language, template in versions.items():
            if language not in p.languages:
                yield (*tloc, language), f"language {language!r} is not among languages {list(p.languages)}"
            for part in ("subject", "body"):
                yield from template_vars((*tloc, language, part), getattr(template, part))

    if p.kickoff_outcome is not None:
        oloc = (*at, "kickoff_outcome")
        yield from _check_kickoff_outcome(oloc, p, p.kickoff_outcome)
        yield from check_task((*oloc, "task"), p.kickoff_outcome.task)

    for index, stage in enumerate(p.stages):
        loop = _instant_loop(p, stage.id)
        if loop:
            yield (
                (*at, "stages", index, "id"),
                f"stage {stage.id!r} moves on at once in a loop ({' -> '.join(loop)}): "
                "a run would never rest",
            )

    reachable = _reachable(p)
    for index, stage in enumerate(p.stages):
        if stage.id not in reachable:
            yield (
                (*at, "stages", index, "id"),
                f"stage {stage.id!r} is unreachable: no move or event leads to it",
            )


def _check_kickoff_outcome(loc: Loc, p: Pipeline, spec: KickoffOutcomeSpec) -> Iterator[tuple[Loc, str]]:
    """Where the outcome is awaited and what it restarts with (its task is checked like any task)."""
    if spec.awaited_in not in p.stage_ids():
        yield (*loc, "awaited_in"), f"unknown stage {spec.awaited_in!r} (stages: {', '.join(p.stage_ids())})"
    elif not p.stage(spec.awaited_in).goal:
        yield (
            (*loc, "awaited_in"),
            f"stage {spec.awaited_in!r} is not a goal: the outcome is awaited once the kick-off is booked",
        )
    missing = [reason for reason in ("no_show", "rescheduled") if reason not in p.restart.reasons]
    if missing:
        yield (
            (*loc,),
            f"the outcomes {missing} restart onboarding: add them to restart.reasons",
        )


def _reachable(p: Pipeline) -> set[str]:
    edges: dict[str, set[str]] = {sid: set() for sid in p.stage_ids()}
    for stage in p.stages:
        actions = [*stage.on_enter, *(a for step in stage.schedule for a in step.do)]
        edges[stage.id].update(a.move for a in actions if a.move)
    for deadline in p.deadlines:
        for source in deadline.in_stages:
            edges.setdefault(source, set()).update(a.move for a in deadline.do if a.move)
    for event in p.events.values():
        targets = {event.to} if event.to else set()
        targets.update(action.move for action in event.do if action.move)
        for source in p.event_allowed_in(event):
            edges.setdefault(source, set()).update(targets)
    todo = [p.start_stage, p.restart.stage]
    seen: set[str] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(edges.get(current, ()))
    return seen


def _instant_moves(p: Pipeline, stage_id: str) -> set[str]:
    """Stages a run moves to the moment it enters ``stage_id`` (no time passes)."""
    stage = p.stage(stage_id)
    moves = {a.move for a in stage.on_enter if a.move}
    for step in stage.schedule:
        at_entry = any(name in ("entered", f"entered:{stage_id}") for name in step.at.anchor_names())
        if at_entry and step.at.days == 0 and step.at.time is None:
            moves.update(a.move for a in step.do if a.move)
    return {m for m in moves if m in p.stage_ids()}


def _instant_loop(p: Pipeline, start: str) -> list[str] | None:
    """A chain of instant moves from ``start`` back to it, if one exists."""
    paths = [[start]]
    while paths:
        path = paths.pop()
        for nxt in sorted(_instant_moves(p, path[-1])):
            if nxt == start:
                return [*path, nxt]
            if nxt not in path:
                paths.append([*path, nxt])
    return None


def _offsets(p: Pipeline) -> Iterator[Moment | Due]:
    """Every day offset in the pipeline: step moments and task due dates."""
    steps = [*(step for stage in p.stages for step in stage.schedule), *p.deadlines]
    yield from (step.at for step in steps)
    actions = [
        *(action for stage in p.stages for action in stage.on_enter),
        *(action for step in steps for action in step.do),
        *(action for event in p.events.values() for action in event.do),
    ]
    yield from (action.task.due for action in actions if action.task)
