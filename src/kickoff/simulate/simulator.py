"""Running a pipeline for one contract on a simulated clock, in the interpreter's pure core.

The same ``kickoff.engine.Run`` the workflow drives decides everything here: the workflow's
loop is replayed with a plain clock. Each step fires at its planned moment (at once when it is
overdue), its mail is flushed as the workflow's mail task sends it (every mail is delivered),
each scripted action passes the checks the workflow's update validators apply
(``kickoff.engine.rules``) before it is applied, and reaching a goal closes and completes the
run as the workflow does. Nothing here decides what a pipeline means, so whatever the engine
learns (conditions, new actions) shows in the preview as it would in a run;
``tests/workflows/test_simulation_matches_workflow.py`` holds the two to the same plan.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from kickoff.domain import (
    AmendInput,
    Contract,
    EventInput,
    OnboardingInput,
    SendMailResult,
    Task,
    TickInput,
    TimelineEntry,
    onboarding_id,
)
from kickoff.engine import Invalid, Mail, NotNow, Refusal, Run, Unknown, rules
from kickoff.engine.drive import delivered, flush_mail
from kickoff.pipelines import Pipeline, PipelineCatalog
from kickoff.pipelines.model import Deadline, Step
from kickoff.schedule import zone
from kickoff.simulate.inputs import (
    DEFAULT_SPAN,
    MAX_SPAN,
    PREVIEW_ID,
    InvalidInputError,
    Problem,
    SimulationError,
    UnknownPipelineError,
    checked_actions,
    checked_contract,
)
from kickoff.simulate.plan import (
    Changes,
    Ended,
    EntryKind,
    Firing,
    Moment,
    NextStep,
    PlanEntry,
    PlannedMail,
    PlannedTask,
    RefusalKind,
    ScriptOutcome,
    Simulation,
    StageChange,
    TaskRef,
)
from kickoff.simulate.script import ScriptedAction, moment_of

__all__ = [
    "DEFAULT_SPAN",
    "MAX_SPAN",
    "PREVIEW_ID",
    "InvalidInputError",
    "Problem",
    "SimulationError",
    "UnknownPipelineError",
    "preview",
]

MAX_FIRINGS = 2000
"""Steps fired before a preview stops (a recurring step every day for years)."""
CALENDAR_YEARS = (2020, 2040)
"""The years whose public holidays a pipeline's calendar snapshot carries (``closed_days``)."""
NOTED = {"step_skipped": "skipped", "mail_cancelled": "mail dropped", "note": "note"}
"""Timeline entries a transition's changes repeat, with how they are introduced."""


_REFUSAL_KINDS: dict[type[Refusal], RefusalKind] = {Unknown: "unknown", NotNow: "not_now", Invalid: "invalid"}


# ------------------------------------------------------------------------- the input


def preview(
    catalog: PipelineCatalog,
    pipeline_id: str,
    contract: Mapping[str, Any],
    *,
    start: date | None = None,
    script: Sequence[Mapping[str, Any] | ScriptedAction] = (),
    until: date | None = None,
) -> Simulation:
    """The plan of ``pipeline_id`` for ``contract`` (the JSON ``POST /contracts`` takes; its
    ``pipeline`` is replaced, ``contract_id`` and ``signed_at`` may be left out) arriving at
    ``start`` (default: its ``signed_at``), with ``script`` acted out, up to ``until`` (default:
    ``DEFAULT_SPAN`` after the start or the last action, whichever is later; a date includes
    the whole day). ``InvalidInputError`` names every problem of the input at once."""
    pipeline = catalog.get(pipeline_id)
    if pipeline is None:
        known = ", ".join(sorted(catalog.pipelines))
        raise UnknownPipelineError(f"no pipeline {pipeline_id!r} (pipelines: {known})")
    tz = pipeline.timezone
    problems: list[Problem] = []
    actions = checked_actions(pipeline, script, problems)
    signed = checked_contract(pipeline, contract, start, problems)
    if signed is None:
        raise InvalidInputError(problems)
    begin = moment_of(start, tz) if start is not None else signed.signed_at
    timed = sorted(
        ((moment_of(action.at, tz), index, action) for index, action in actions), key=lambda t: t[:2]
    )
    end = (
        moment_of(until, tz, end_of_day=True)
        if until is not None
        else max([begin + DEFAULT_SPAN, *(at for at, _, _ in timed)])
    )
    if end <= begin:
        problems.append(Problem(("until",), "must be after from"))
    elif end - begin > MAX_SPAN:
        problems.append(Problem(("until",), f"a preview spans at most {MAX_SPAN.days} days"))
    for at, index, _ in timed:
        if at < begin:
            problems.append(Problem(("events", index, "at"), "is before the preview's start (from)"))
        elif at > end:
            problems.append(Problem(("events", index, "at"), "is after the preview's end (until)"))
    if problems:
        raise InvalidInputError(problems)
    simulator = _Simulator(pipeline, catalog.version(pipeline.id), signed, begin)
    return simulator.play(timed, end)


# ------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class _Mark:
    """What the run had before a transition, to tell what the transition changed. Lists the run
    only appends to are marked by their length; the timeline, kept in time order, by the
    entries from ``since`` on (a transition writes nothing dated before the stage it starts in
    was entered), so a long preview is not quadratic in its history."""

    visits: int = 0
    tasks: int = 0
    open: tuple[Task, ...] = ()
    emails: int = 0
    sent: int = 0
    anchors: Mapping[str, datetime] = field(default_factory=dict)
    since: datetime | None = None
    tail: frozenset[int] = frozenset()
    """``id()`` of the timeline's entries from ``since`` on (None: the timeline was empty)."""


class _Simulator:
    def __init__(self, pipeline: Pipeline, version: str, contract: Contract, start: datetime) -> None:
        self.pipeline = pipeline
        self.tz = pipeline.timezone
        self.start = start
        self.clock = start
        self.sent: list[Mail] = []
        self.stages: list[StageChange] = []
        self.mails: list[PlannedMail] = []
        self.firings: list[Firing] = []
        self.outcomes: list[ScriptOutcome] = []
        self.entries: list[PlanEntry] = []
        self.task_causes: dict[str, str] = {}
        self.limited = False
        input = OnboardingInput(
            onboarding_id=onboarding_id(pipeline.id_prefix, contract.contract_id),
            contract=contract,
            pipeline=pipeline,
            pipeline_version=version,
        )
        self.run = Run.start(input, start, state_first=True)
        flush_mail(self.run, start, self._send)
        self._entry(start, "contract", f"contract {contract.contract_id} received", "")
        self._changes(_Mark(), "contract received")
        self._close_if_finished(start)

    # ---------------------------------------------------------------- driving

    def play(self, timed: Sequence[tuple[datetime, int, ScriptedAction]], end: datetime) -> Simulation:
        for at, index, action in timed:
            self._steps_until(at)
            self._act(index, action, at)
        self._steps_until(end)
        return self._result(end)

    def _over(self) -> bool:
        return self.run.state.status != "running" or self.run.finished()

    def _steps_until(self, until: datetime) -> None:
        """Fire every step due by ``until``, as the workflow's loop does: each at its moment,
        or at once if it was due before the clock (a stage entered after its moment)."""
        run = self.run
        while not self.limited and not self._over():
            step, due = run.next_step()
            if step is None or due is None or due > until:
                return
            if len(self.firings) >= MAX_FIRINGS:
                self.limited = True
                return
            now = self.clock = max(due, self.clock)
            mark = self._mark()
            stage = run.state.stage
            run.fire(step, due, now)
            run.roll_over = False  # the workflow continues as new here, carrying the same state
            flush_mail(run, now, self._send)
            kind: Literal["step", "deadline"] = "deadline" if isinstance(step, Deadline) else "step"
            cause = f"{kind} {step.key}"
            why = [detail for _, event, detail in self._added(mark) if event == "step_skipped"]
            skipped = bool(why)
            # The engine says why: its checklist is complete, or its condition does not hold.
            reason = why[0].removeprefix(f"{step.summary}: ") if why else ""
            summary = f"{step.summary} (skipped: {reason})" if skipped else step.summary
            self._entry(now, "skipped" if skipped else kind, summary, cause)
            changes = self._changes(mark, cause)
            self.firings.append(self._firing(step, kind, stage, due, now, skipped, changes))
            self._close_if_finished(now)

    def _firing(
        self,
        step: Step,
        kind: Literal["step", "deadline"],
        stage: str,
        due: datetime,
        at: datetime,
        skipped: bool,
        changes: Changes,
    ) -> Firing:
        return Firing(
            **self._moment(at).model_dump(),
            kind=kind,
            key=step.key,
            summary=step.summary,
            stage=stage,
            due=self._moment(due),
            skipped=skipped,
            changes=changes,
        )

    def _act(self, index: int, action: ScriptedAction, at: datetime) -> None:
        """Apply one scripted action at ``at`` (or at the clock, if a step fired later), if the
        run accepts it then; its mail goes out at once."""
        now = self.clock = max(at, self.clock)
        mark = self._mark()
        before = self.run.state.stage
        refusal: Refusal | None = None
        try:
            self._perform(action, now)
        except Refusal as refused:
            refusal = refused
        flush_mail(self.run, now, self._send)
        what = f"{action.kind} {action.name}"
        if refusal is None:
            self._entry(now, "action", what, f"script #{index}")
        else:
            self._entry(now, "refused", f"{what} refused: {refusal}", f"script #{index}")
        changes = self._changes(mark, what)
        self.outcomes.append(
            ScriptOutcome(
                **self._moment(now).model_dump(),
                index=index,
                action=action.kind,
                name=action.name,
                accepted=refusal is None,
                refusal=None if refusal is None else str(refusal),
                refusal_kind=None if refusal is None else _REFUSAL_KINDS.get(type(refusal), "invalid"),
                stage_before=before,
                stage_after=self.run.state.stage,
                changes=changes,
            )
        )
        self._close_if_finished(now)

    def _perform(self, action: ScriptedAction, now: datetime) -> None:
        """The action through the check its workflow update's validator applies, then the run."""
        run, state, pipeline = self.run, self.run.state, self.pipeline
        restarting = run.restart is not None
        if action.event is not None:
            event = EventInput(name=action.event, payload=action.payload, by=action.by)
            rules.check_event(state, pipeline, event, now, restarting)
            run.apply_event(event, now)
        elif action.tick is not None or action.untick is not None:
            item = action.tick or action.untick or ""
            tick = TickInput(item=item, ticked=action.tick is not None, by=action.by)
            rules.check_tick(state, pipeline, tick, restarting)
            run.tick(tick, now)
        elif action.done is not None:
            task = _oldest_open(state.open_tasks(), action.done)
            if task is None and state.status == "running":
                raise Unknown(f"no open task of kind or with title {action.done!r}")
            rules.check_complete_task(state, pipeline, task.id if task else "")
            assert task is not None
            run.complete_task(task.id, now, by=action.by)
        else:
            assert action.amend is not None
            amend = AmendInput(delivery_start=action.amend)
            rules.check_amend(state, pipeline, amend, now, restarting)
            run.amend(amend, now)

    def _close_if_finished(self, now: datetime) -> None:
        """A goal reached: the run closes its tasks and completes, as the workflow does once its
        mail is out (tasks only staff may resolve would hold it open; a preview has none)."""
        run = self.run
        if run.state.status != "running" or not run.finished():
            return
        mark = self._mark()
        run.close(now, completes_at_goal=True)
        completed = not run.state.open_tasks()
        if completed:
            run.complete(now)
        self._changes(mark, "goal reached")
        if completed:
            self._entry(now, "completed", f"onboarding completed in {run.state.stage_label}", "goal reached")

    def _send(self, mail: Mail) -> SendMailResult:
        self.sent.append(mail)
        return delivered(mail)

    # ---------------------------------------------------------------- recording

    def _mark(self) -> _Mark:
        state = self.run.state
        since = state.stage_entered_at
        return _Mark(
            visits=len(state.visits),
            tasks=len(state.tasks),
            open=tuple(state.open_tasks()),
            emails=len(state.emails),
            sent=len(self.sent),
            anchors=dict(state.anchors),
            since=since,
            tail=frozenset(id(entry) for entry in self._timeline_from(since)),
        )

    def _timeline_from(self, since: datetime | None) -> list[TimelineEntry]:
        timeline = self.run.state.timeline
        start = 0 if since is None else bisect.bisect_left(timeline, since, key=lambda entry: entry.at)
        return timeline[start:]

    def _added(self, mark: _Mark) -> list[tuple[datetime, str, str]]:
        """The timeline entries written since ``mark``, in time order."""
        added = [e for e in self._timeline_from(mark.since) if id(e) not in mark.tail]
        return [(e.at, e.event, e.detail) for e in added]

    def _changes(self, mark: _Mark, cause: str) -> Changes:
        """What changed since ``mark``, recorded under ``cause`` (and as plan entries)."""
        state, pipeline = self.run.state, self.pipeline
        changes = Changes()
        for number in range(mark.visits, len(state.visits)):
            visit = state.visits[number]
            previous = state.visits[number - 1].stage if number else None
            label = pipeline.stage(visit.stage).label
            change = StageChange(
                **self._moment(visit.entered_at).model_dump(),
                stage=visit.stage,
                label=label,
                previous=previous,
                cause=cause,
            )
            changes.stages.append(change)
            self.stages.append(change)
            self._entry(visit.entered_at, "stage", f"{label} ({visit.stage})", cause, visit.stage)
        created = state.tasks[mark.tasks :]
        for task in created:
            self.task_causes[task.id] = cause
            changes.tasks_created.append(TaskRef(id=task.id, title=task.title))
            text = f"{task.title} · {self._who(task)} · due {self._local(task.due_at)}"
            self._entry(task.created_at, "task", text, cause, task.stage)
        for task in [*mark.open, *created]:
            if task.status == "done" and task.done_at is not None:
                changes.tasks_closed.append(TaskRef(id=task.id, title=task.title))
                how = (task.resolution or "done").replace("_", " ")
                self._entry(task.done_at, "task_done", f"{task.title} · {how}", cause, task.stage)
        for record, mail in zip(state.emails[mark.emails :], self.sent[mark.sent :], strict=True):
            planned = PlannedMail(
                **self._moment(record.sent_at).model_dump(),
                template=mail.name,
                recipient=mail.recipient,
                to=mail.input.to,
                language=mail.language,
                summary=mail.summary,
                cause=cause,
            )
            changes.mails.append(planned)
            self.mails.append(planned)
            text = f"{mail.name} to {mail.recipient} <{mail.input.to}> in {mail.language}"
            self._entry(record.sent_at, "mail", text, cause, mail.work.visit[0])
        for name in sorted({*mark.anchors, *state.anchors}):
            value = state.anchors.get(name)
            if not name.startswith("entered:") and value != mark.anchors.get(name):
                changes.anchors[name] = self._local(value) if value is not None else None
        changes.notes = [
            f"{NOTED[event]}: {detail}" for _, event, detail in self._added(mark) if event in NOTED
        ]
        return changes

    def _who(self, task: Task) -> str:
        if task.owner == "customer":
            return "the customer"
        role = self.pipeline.roles.get(task.owner_role or "", task.owner_role)
        return role or "staff"

    def _entry(self, at: datetime, kind: EntryKind, text: str, cause: str, stage: str | None = None) -> None:
        self.entries.append(
            PlanEntry(
                **self._moment(at).model_dump(),
                kind=kind,
                text=text,
                stage=stage or self.run.state.stage,
                cause=cause,
            )
        )

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(zone(self.tz)).strftime("%a %Y-%m-%d %H:%M %Z")

    def _moment(self, moment: datetime) -> Moment:
        return Moment(at=moment.astimezone(zone(self.tz)), local=self._local(moment))

    # ---------------------------------------------------------------- result

    def _result(self, end: datetime) -> Simulation:
        run, state, pipeline = self.run, self.run.state, self.pipeline
        next_step: NextStep | None = None
        if not self._over():
            step, due = run.next_step()
            if step is not None and due is not None:
                next_step = NextStep(**self._moment(due).model_dump(), summary=step.summary)
        ended: Ended = (
            "goal"
            if self._over()
            else "limit"
            if self.limited
            else "waiting"
            if next_step is None
            else "until"
        )
        warnings = []
        if self.limited:
            warnings.append(f"the preview stopped after {MAX_FIRINGS} steps; the rest is not shown")
        first, last = CALENDAR_YEARS
        if pipeline.calendar is not None and (self.start.year < first or end.year > last):
            warnings.append(
                f"the pipeline's calendar knows public holidays of {first}–{last} only: "
                "outside them every Monday to Friday counts as a business day"
            )
        return Simulation(
            pipeline=pipeline.id,
            pipeline_name=pipeline.name,
            version=state.pipeline_version,
            timezone=self.tz,
            onboarding_id=state.id,
            start=self._moment(self.start),
            until=self._moment(end),
            ended=ended,
            stage=state.stage,
            stage_label=state.stage_label,
            status=state.status,
            next_step=next_step,
            stages=self.stages,
            tasks=[self._task(task) for task in state.tasks],
            mails=self.mails,
            firings=self.firings,
            script=sorted(self.outcomes, key=lambda outcome: outcome.index),
            entries=sorted(self.entries, key=lambda entry: entry.at),
            warnings=warnings,
        )

    def _task(self, task: Task) -> PlannedTask:
        return PlannedTask(
            id=task.id,
            kind=task.kind,
            title=task.title,
            owner=task.owner,
            owner_role=task.owner_role,
            role=self.pipeline.roles.get(task.owner_role or ""),
            stage=task.stage,
            created=self._moment(task.created_at),
            due=self._moment(task.due_at),
            status=task.status,
            done=self._moment(task.done_at) if task.done_at else None,
            resolution=task.resolution,
            cause=self.task_causes.get(task.id, ""),
        )


def _oldest_open(tasks: Sequence[Task], name: str) -> Task | None:
    """The open task with this title, else the one of this kind due first (as an event's
    ``completes_task_kind`` picks it)."""
    titled = [task for task in tasks if task.title == name]
    matching = titled or [task for task in tasks if task.kind == name]
    return min(matching, key=lambda task: task.due_at) if matching else None
