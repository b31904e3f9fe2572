"""Moving a running onboarding to a newer snapshot of its pipeline: what it would change, and
whether the run may adopt it at all.

A run keeps the snapshot it started with; a fixed pipeline (a typo in a reminder, a wrong
link) reaches the runs already waiting only when they adopt it. ``impact`` says what adopting
would change for one run's state: the steps it still owes (added, removed or moved, with their
old and new moment), the stages, events and mail templates that differ, and why it cannot
adopt, if it cannot. ``apply`` swaps the snapshot in a ``Run`` once ``check`` has passed.

What adopting never does:

* leave the run in a stage the new version lacks (refused);
* perform again a step already performed in this stage visit (``fired_steps``, deadlines in
  ``fired_deadlines``): the run keeps those keys, so the new version's step of the same key is
  done already; a step the new version makes owed again (a recurring one of the same key, or a
  renamed one doing the same thing whose moment has passed) is refused;
* send again a mail already sent: the Message-ID of a mail is per (cycle, stage visit, step
  key), and adopting changes none of them; a step that would fire at once and send a template
  already sent in this stage visit is refused.

Pure: plans come from ``kickoff.engine.plan`` (the same rules the run sleeps by), the clock is
an argument, nothing here imports ``temporalio``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kickoff.domain import OnboardingState
from kickoff.engine import plan
from kickoff.engine.messages import Work
from kickoff.engine.rules import NotNow, is_finished
from kickoff.engine.run import Run
from kickoff.pipelines.model import Action, Deadline, Pipeline, Step
from kickoff.schedule import format_local

Change = Literal["added", "removed", "changed"]
StepChangeKind = Literal["added", "removed", "moved", "changed"]
MIGRATED = "pipeline_migrated"
"""The timeline entry a migration records."""


class Documented(BaseModel):
    """Attribute docstrings become the OpenAPI schema's descriptions."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class StepChange(Documented):
    """A step the run owes (or owed) in its current stage that the new version changes."""

    key: str
    kind: Literal["step", "deadline"] = "step"
    summary: str
    change: StepChangeKind
    """``moved``: another moment; ``changed``: same moment, other actions or summary."""
    old_at: datetime | None = None
    """When the current version would perform it (None: not owed, or not scheduled yet)."""
    new_at: datetime | None = None
    """When the new version would perform it (None: not owed, or not scheduled yet)."""
    at_once: bool = False
    """Its new moment has passed and the current version did not owe it by now: adopting
    performs it at once."""


class StageChange(Documented):
    """A stage the new version adds, removes or changes (``what``: which parts)."""

    stage: str
    change: Change
    what: list[str] = Field(default_factory=list)
    """For a changed stage: ``label``, ``on_enter``, ``schedule``, ``requires``, ``goal``."""
    current: bool = False
    """The run's current stage: its entry actions were performed already in this visit (a
    changed ``on_enter`` applies from the next entry); its schedule is in ``steps``."""


class NamedChange(Documented):
    """An event the new version adds, removes or changes."""

    name: str
    change: Change


class TemplateChange(Documented):
    """A mail template whose texts differ, in the languages listed."""

    template: str
    change: Change
    languages: list[str]


class Impact(Documented):
    """What adopting the new version would change for one running onboarding."""

    onboarding_id: str
    pipeline: str
    stage: str
    from_version: str
    to_version: str
    can_adopt: bool
    refusals: list[str] = Field(default_factory=list)
    """Why it cannot adopt (empty when it can)."""
    steps: list[StepChange] = Field(default_factory=list)
    stages: list[StageChange] = Field(default_factory=list)
    events: list[NamedChange] = Field(default_factory=list)
    templates: list[TemplateChange] = Field(default_factory=list)
    other: list[str] = Field(default_factory=list)
    """Other parts of the pipeline that differ (``links``, ``checklists``, ``calendar``, …)."""

    @property
    def changes_anything(self) -> bool:
        return bool(self.steps or self.stages or self.events or self.templates or self.other)


# ---------------------------------------------------------------------------- the analysis


def impact(state: OnboardingState, old: Pipeline, new: Pipeline, new_version: str, now: datetime) -> Impact:
    """What adopting ``new`` (version ``new_version``) instead of ``old`` would change for the
    run in ``state`` at ``now``, and why it cannot, if it cannot."""
    steps = step_changes(state, old, new, now)
    refused = refusals(state, old, new, new_version, now, steps)
    return Impact(
        onboarding_id=state.id,
        pipeline=state.pipeline,
        stage=state.stage,
        from_version=state.pipeline_version,
        to_version=new_version,
        can_adopt=not refused,
        refusals=refused,
        steps=steps,
        stages=stage_changes(state, old, new),
        events=_named_changes(old.events, new.events),
        templates=template_changes(old, new),
        other=other_changes(old, new),
    )


def refusals(
    state: OnboardingState,
    old: Pipeline,
    new: Pipeline,
    new_version: str,
    now: datetime,
    steps: Sequence[StepChange] | None = None,
) -> list[str]:
    """Why the run cannot adopt ``new``; empty when it can."""
    if new.id != state.pipeline:
        return [f"the onboarding runs pipeline {state.pipeline}, not {new.id}"]
    if state.pipeline_version == new_version:
        return [f"the onboarding is on version {new_version} already"]
    if state.status != "running" or is_finished(state, old):
        return [f"the onboarding is {state.stage_label} ({state.stage}): nothing more happens"]
    if state.stage not in new.stage_ids():
        return [
            f"its current stage {state.stage!r} ({state.stage_label}) is not in version {new_version}: "
            "it has nowhere to be"
        ]
    reasons: list[str] = []
    changes = step_changes(state, old, new, now) if steps is None else steps
    at_once = {(change.kind, change.key): change.change for change in changes if change.at_once}
    sent = _templates_sent_since_entry(state)
    for step in plan.pending_steps(state, new):
        ident = (_kind(step), step.key)
        performed = state.fired_deadlines if isinstance(step, Deadline) else state.fired_steps
        if step.key in performed:
            # Only a step the new version makes recurring is owed again under a performed key.
            reasons.append(
                f"'{step.summary}' ({step.key}) was performed already; "
                f"version {new_version} would do it again"
            )
            continue
        if ident not in at_once:
            continue
        twin = _performed_twin(state, old, step) if at_once[ident] == "added" else None
        if twin is not None:
            reasons.append(
                f"'{step.summary}' ({step.key}) does what '{twin.summary}' ({twin.key}) did already "
                f"in this stage; version {new_version} would do it again at once"
            )
            continue
        reasons.extend(
            f"'{step.summary}' ({step.key}) would send the {template} mail again at once "
            "(sent already in this stage)"
            for template in sorted(sent & set(_mail_templates(step.do)))
        )
    return reasons


def step_changes(state: OnboardingState, old: Pipeline, new: Pipeline, now: datetime) -> list[StepChange]:
    """The steps the run owes in its current stage (and the pipeline deadlines watching it) that
    the new version adds, drops, moves or changes; each with its old and new moment."""
    if state.stage not in new.stage_ids():
        return []
    before = _owed(state, old)
    after = _owed(state, new)
    changes: list[StepChange] = []
    for ident, (step, new_at) in after.items():
        kind, key = ident
        if ident not in before:
            # Owed now but not before: new, or no longer limited away (modules, in_stages).
            changes.append(
                StepChange(
                    key=key,
                    kind=kind,
                    summary=step.summary,
                    change="added",
                    new_at=new_at,
                    at_once=new_at is not None and new_at <= now,
                )
            )
            continue
        old_step, old_at = before[ident]
        if old_at != new_at:
            change: StepChangeKind = "moved"
        elif old_step != step:
            change = "changed"
        else:
            continue
        changes.append(
            StepChange(
                key=key,
                kind=kind,
                summary=step.summary,
                change=change,
                old_at=old_at,
                new_at=new_at,
                at_once=new_at is not None and new_at <= now and not (old_at is not None and old_at <= now),
            )
        )
    for ident, (step, old_at) in before.items():
        if ident not in after:
            kind, key = ident
            changes.append(
                StepChange(key=key, kind=kind, summary=step.summary, change="removed", old_at=old_at)
            )
    return sorted(changes, key=_in_time_order)


def stage_changes(state: OnboardingState, old: Pipeline, new: Pipeline) -> list[StageChange]:
    """Stages added, removed, or changed in their label, entry actions, schedule, gate or goal."""
    before = {stage.id: stage for stage in old.stages}
    after = {stage.id: stage for stage in new.stages}
    changes: list[StageChange] = []
    for stage_id, stage in after.items():
        current = stage_id == state.stage
        if stage_id not in before:
            changes.append(StageChange(stage=stage_id, change="added", current=current))
            continue
        was = before[stage_id]
        what = [
            part
            for part in ("label", "on_enter", "schedule", "requires", "goal")
            if getattr(was, part) != getattr(stage, part)
        ]
        if what:
            changes.append(StageChange(stage=stage_id, change="changed", what=what, current=current))
    changes.extend(
        StageChange(stage=stage_id, change="removed", current=stage_id == state.stage)
        for stage_id in before
        if stage_id not in after
    )
    return changes


def template_changes(old: Pipeline, new: Pipeline) -> list[TemplateChange]:
    """Mail templates whose subject or body differ, per language (added and removed ones too)."""
    changes: list[TemplateChange] = []
    for name in sorted(old.templates.keys() | new.templates.keys()):
        before, after = old.templates.get(name, {}), new.templates.get(name, {})
        languages = sorted(
            lang for lang in before.keys() | after.keys() if before.get(lang) != after.get(lang)
        )
        if not languages:
            continue
        change: Change = "added" if not before else "removed" if not after else "changed"
        changes.append(TemplateChange(template=name, change=change, languages=languages))
    return changes


_DETAILED = frozenset({"stages", "events", "templates"})
"""Fields ``impact`` lists change by change; deadlines watching the run's stage are in its steps."""


def other_changes(old: Pipeline, new: Pipeline) -> list[str]:
    """The pipeline's other fields that differ (``links``, ``checklists``, ``calendar``, …)."""
    return [
        name
        for name in type(new).model_fields
        if name not in _DETAILED and getattr(old, name) != getattr(new, name)
    ]


def check_queue(queue: Iterable[Work], new: Pipeline) -> list[str]:
    """Why work the run has queued (mail waiting to go out; in runs started before state first,
    every action) could not be performed on ``new``: a template or a stage it names is gone."""
    reasons: list[str] = []
    for work in queue:
        action = work.action
        if action.mail is not None and action.mail.template not in new.templates:
            reasons.append(f"a queued {action.mail.template} mail has no template in the new version")
        if action.move is not None and action.move not in new.stage_ids():
            reasons.append(f"a queued move to {action.move!r} has no such stage in the new version")
    return reasons


def describe(found: Impact, timezone: str) -> list[str]:
    """What adopting changes, one line per change, moments at local time in ``timezone`` (for
    ``kickoff-admin pipeline-impact`` and the board's results)."""
    lines: list[str] = []
    for step in found.steps:
        what = f"{step.kind} {step.key} ({step.summary})"
        at_once = " - at once on adopting" if step.at_once else ""
        match step.change:
            case "added":
                lines.append(f"{what} added: {_when(step.new_at, timezone)}{at_once}")
            case "removed":
                lines.append(f"{what} removed (was {_when(step.old_at, timezone)})")
            case "moved":
                moved = f"{_when(step.old_at, timezone)} -> {_when(step.new_at, timezone)}"
                lines.append(f"{what} moved: {moved}{at_once}")
            case "changed":
                lines.append(f"{what} changed, same moment ({_when(step.new_at, timezone)})")
    lines += [
        f"template {change.template} {change.change} ({', '.join(change.languages)})"
        for change in found.templates
    ]
    for stage in found.stages:
        parts = f": {', '.join(stage.what)}" if stage.what else ""
        done = (
            " (its entry actions are done for this visit)"
            if stage.current and "on_enter" in stage.what
            else ""
        )
        lines.append(f"stage {stage.stage} {stage.change}{parts}{done}")
    lines += [f"event {event.name} {event.change}" for event in found.events]
    if found.other:
        lines.append(f"also changed: {', '.join(found.other)}")
    return lines


def _when(moment: datetime | None, timezone: str) -> str:
    return format_local(moment, timezone) if moment is not None else "not scheduled yet"


# ---------------------------------------------------------------------------- the change


def check(run: Run, new: Pipeline, new_version: str, now: datetime) -> None:
    """``NotNow`` naming every reason the run cannot adopt ``new`` now (the update's validator)."""
    if run.restart is not None:
        raise NotNow("the onboarding is restarting")
    reasons = refusals(run.state, run.pipeline, new, new_version, now)
    if not reasons:
        reasons = check_queue(run.queue, new)
    if reasons:
        raise NotNow("cannot adopt version " + new_version + ": " + "; ".join(reasons))


def apply(run: Run, new: Pipeline, new_version: str, now: datetime, by: str | None = None) -> None:
    """Swap the run's snapshot for ``new`` (``check`` has passed) and say so on its timeline.

    Nothing else changes: steps performed stay performed (their keys are kept), mails sent keep
    their Message-IDs, and the run's next step is planned from the new snapshot."""
    state = run.state
    before = state.pipeline_version
    run.pipeline = new
    state.pipeline_version = new_version
    state.stage_label = new.stage(state.stage).label
    run.note(now, MIGRATED, f"pipeline {new.id} version {before} -> {new_version}", by=by)


# ---------------------------------------------------------------------------- helpers


def _kind(step: Step) -> Literal["step", "deadline"]:
    return "deadline" if isinstance(step, Deadline) else "step"


def _owed(state: OnboardingState, pipeline: Pipeline) -> dict[tuple[str, str], tuple[Step, datetime | None]]:
    """The steps ``pipeline`` has the run still owe now, with their moments (as it plans them)."""
    owed: dict[tuple[str, str], tuple[Step, datetime | None]] = {}
    for step in plan.pending_steps(state, pipeline):
        anchor = plan.anchor_of(state, step)
        owed[(_kind(step), step.key)] = (
            step,
            None if anchor is None else plan.moment(pipeline, anchor, step.at),
        )
    return owed


def _declared(pipeline: Pipeline, stage_id: str) -> list[Step]:
    return [*pipeline.stage(stage_id).schedule, *(d for d in pipeline.deadlines if stage_id in d.in_stages)]


def _performed_twin(state: OnboardingState, old: Pipeline, step: Step) -> Step | None:
    """A step of the old version performed in this visit that does exactly what ``step`` does
    (a renamed key): performing ``step`` would repeat it."""
    for done in _declared(old, state.stage):
        performed = state.fired_deadlines if isinstance(done, Deadline) else state.fired_steps
        if done.key != step.key and done.key in performed and not done.repeat and done.do == step.do:
            return done
    return None


def _mail_templates(actions: Iterable[Action]) -> list[str]:
    return [action.mail.template for action in actions if action.mail is not None]


def _templates_sent_since_entry(state: OnboardingState) -> set[str]:
    return {mail.template for mail in state.emails if mail.sent_at >= state.stage_entered_at}


def _named_changes(before: Mapping[str, object], after: Mapping[str, object]) -> list[NamedChange]:
    changes = [NamedChange(name=name, change="added") for name in after if name not in before]
    changes += [NamedChange(name=name, change="removed") for name in before if name not in after]
    changes += [
        NamedChange(name=name, change="changed")
        for name in after
        if name in before and before[name] != after[name]
    ]
    return sorted(changes, key=lambda change: change.name)


def _in_time_order(change: StepChange) -> tuple[bool, float, str]:
    """Soonest first; steps not scheduled yet last."""
    moment = change.new_at or change.old_at
    return (moment is None, moment.timestamp() if moment else 0.0, change.key)
