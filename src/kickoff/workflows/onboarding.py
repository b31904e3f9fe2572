"""The onboarding workflow: a thin Temporal shell around the interpreter's pure core.

``kickoff.engine.Run`` decides everything (stage changes, plans, checks, what
mail to send); this shell feeds it ``workflow.now()``, sleeps until its next
step, turns staff actions (updates) into its transitions, performs its mail
through ``mail_effect``, and publishes what ops see through ``publishing``.

The worker passes all of Kickoff's modules through the sandbox (see
``kickoff.worker.WORKFLOW_RUNNER``): a new run then costs no re-import of this
module or the core. The imports below stay inside ``imports_passed_through``
so that a worker with the default sandbox (some tests) also imports them once.

Runs started by this release take the ``state-first`` path (one version
marker at their start): tasks and moves happen the moment their stage is
entered, mail follows in its own task, a timer is kept while the plan stands,
and search attributes are written once per workflow task. Runs started earlier
replay the path they took, command for command (``tests/histories``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NoReturn

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    # pydantic's EmailStr imports email_validator lazily on first use, which the
    # sandbox would flag as a late import: load it up front, outside the sandbox.
    import email_validator  # noqa: F401

    from kickoff import search_attributes as sa
    from kickoff.domain import (
        AmendInput,
        ChecklistItemState,
        EventInput,
        FinishTaskInput,
        MigrateInput,
        OnboardingInput,
        OnboardingState,
        OutcomeInput,
        RestartInput,
        TickInput,
    )
    from kickoff.engine import Refusal, Run, migration, rules
    from kickoff.engine.archive import compact
    from kickoff.pipelines import Pipeline
    from kickoff.readmodel.snapshot import Snapshot
    from kickoff.workflows.mail_effect import Mailer
    from kickoff.workflows.publishing import Publisher, queued_entered
    from kickoff.workflows.read_model_writer import READ_MODEL, ReadModelWriter
    from kickoff.workflows.sleeping import Sleeper

STATE_FIRST = "state-first"
"""Patch id: state actions at once, mail in its own task, kept timers, one upsert per task."""
COMPLETE_AT_GOAL = "complete-at-goal"
"""Patch id: reaching the goal completes the run (the kick-off outcome is recorded outside it),
and a restart's next run carries its reason as a search attribute."""


def _refused(refusal: Refusal) -> NoReturn:
    # The failure type is what the API maps to 404 / 409 / 422.
    raise ApplicationError(str(refusal), type=refusal.kind, non_retryable=True) from None


@workflow.defn(name="Onboarding")
class OnboardingWorkflow:
    @workflow.init
    def __init__(self, input: OnboardingInput) -> None:
        # Decided once, at the run's first workflow task: runs that began before the
        # marker existed replay (and go on) the queued way for the rest of their run.
        self._state_first = workflow.patched(STATE_FIRST)
        self._wake = False
        self._sleeper = Sleeper(self._state_first, lambda: self._wake)
        # SDK metrics are not emitted while a history replays, so counts stay true.
        self._transitions = workflow.metric_meter().create_counter(
            "kickoff_stage_transitions", "Stage entries, by pipeline and stage"
        )
        self._run = Run.start(input, workflow.now(), state_first=self._state_first, on_enter=self._entered)
        self._writer = ReadModelWriter(self._run, self._writes_read_model(), self._changed)
        self._publisher = Publisher(
            self._run, workflow.info().typed_search_attributes, lambda: self._writer.behind
        )
        self._mailer = Mailer(self._run, self._changed)
        self._mail_task: asyncio.Task[None] | None = None

    def _entered(self, run: Run, stage: str) -> None:
        self._transitions.add(1, {"pipeline": run.pipeline.id, "stage": stage})
        if not self._state_first:
            queued_entered(run, stage)

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, input: OnboardingInput) -> OnboardingState:
        run = self._run
        self._writer.start()
        if self._state_first:
            self._mail_task = asyncio.create_task(self._mailer.send_in_order())
        else:
            self._publisher.queued_started(fresh=input.carried_state is None)
            self._publish()
        while True:
            if not self._state_first:
                await self._mailer.perform_queued(self._publish)
            if run.restart is not None:
                await self._continue_as_restart(input, run.restart)
            if run.finished():
                break
            if run.roll_over or workflow.info().is_continue_as_new_suggested():
                if self._state_first:
                    # Continue as new once idle; until then the plan goes on (a mail may retry
                    # for a day, and steps must not wait for it).
                    if (
                        workflow.all_handlers_finished()
                        and not self._mailer.pending()
                        and self._writer.settled()
                    ):
                        self._sleeper.drop()
                        carried = compact(run.state, workflow.now())
                        workflow.continue_as_new(self._carrying(input, carried))
                else:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    # An event may have arrived while the handlers drained: it queued work.
                    if not run.queue and run.restart is None:
                        workflow.continue_as_new(self._carrying(input, run.state))
                    continue
            step, due = run.next_step()
            if not (self._state_first and due is not None and due <= workflow.now()):
                # State first publishes once, right before the run waits: once per workflow task.
                self._publish()
                self._wake = False
            if step is None or due is None:
                self._sleeper.drop()
                await workflow.wait_condition(lambda: self._wake)
                continue
            if await self._sleeper.until(due, step.summary):
                run.fire(step, due, workflow.now())
        self._sleeper.drop()
        await self._close(input)
        await workflow.wait_condition(workflow.all_handlers_finished)
        # The completed state reaches the read model before the run ends (unless the database
        # is failing: then a rebuild or the worker's sweep of closed runs brings it there).
        await workflow.wait_condition(self._writer.settled)
        return run.state

    def _carrying(self, input: OnboardingInput, state: OnboardingState) -> OnboardingInput:
        """The next run's input: this run's state, and the pipeline snapshot it runs on now. That is
        the input's own unless ``migrate_pipeline`` swapped it, so for runs never migrated the
        continue-as-new carries exactly what it always did."""
        return input.model_copy(
            update={
                "carried_state": state,
                "pipeline": self._run.pipeline,
                "pipeline_version": state.pipeline_version,
            }
        )

    async def _continue_as_restart(self, input: OnboardingInput, restart: RestartInput) -> None:
        await self._settle()
        self._sleeper.drop()
        summary = self._run.cycle_summary(workflow.info().run_id, workflow.now(), restart.reason)
        state = self._run.state
        attributes = [
            SearchAttributePair(sa.PIPELINE, restart.pipeline.id),
            SearchAttributePair(sa.STAGE, restart.pipeline.restart.stage),
            SearchAttributePair(sa.PIPELINE_VERSION, restart.pipeline_version),
        ]
        if self._completes_at_goal():
            attributes.append(SearchAttributePair(sa.RESTART_REASON, restart.reason))
        workflow.continue_as_new(
            OnboardingInput(
                onboarding_id=input.onboarding_id,
                contract=state.contract,
                pipeline=restart.pipeline,
                pipeline_version=restart.pipeline_version,
                cycle=state.cycle + 1,
                restart_reason=restart.reason,
                previous_cycles=[*state.previous_cycles, summary],
            ),
            # The next cycle is listed in its first stage from its start, not under this
            # cycle's stage and outcome until its own first upsert is indexed.
            search_attributes=TypedSearchAttributes(attributes),
        )

    async def _settle(self) -> None:
        """Until no handler runs and (state first) no mail is queued or in flight."""
        await self._idle_until(
            lambda: (
                workflow.all_handlers_finished()
                and not (self._state_first and self._mailer.pending())
                and self._writer.settled()
            )
        )

    def _writes_read_model(self) -> bool:
        """Decided at the run's first workflow task, like state first: a run that began without
        the marker joins the read model only when ``join_read_model`` tells it to."""
        return self._state_first and workflow.patched(READ_MODEL)

    def _completes_at_goal(self) -> bool:
        """Decided where a run first needs it (its goal, or a restart): a run replaying a
        history without the marker (one already waiting for its kick-off outcome) keeps
        waiting, and a run started earlier that reaches its goal now completes there."""
        return self._state_first and workflow.patched(COMPLETE_AT_GOAL)

    async def _close(self, input: OnboardingInput) -> None:
        run = self._run
        run.close(workflow.now(), completes_at_goal=self._completes_at_goal())
        self._publish()
        # A task only staff can resolve (a mail that may not have arrived; in runs that
        # waited for it, the kick-off outcome) keeps the run open in its goal stage, and in
        # the task inbox, until it is done. A no-show recorded as the outcome restarts
        # onboarding instead.
        await self._idle_until(
            lambda: (
                run.restart is not None
                or (not run.state.open_tasks() and not (self._state_first and self._mailer.pending()))
            )
        )
        if run.restart is not None:
            await self._continue_as_restart(input, run.restart)
        run.complete(workflow.now())
        self._publish()

    async def _idle_until(self, done: Callable[[], bool]) -> None:
        if not self._state_first:
            await workflow.wait_condition(done)
            return
        # Publishing here too: handlers change state while the run waits.
        while not done():
            self._publish()
            self._wake = False
            await workflow.wait_condition(lambda: self._wake or done())
        self._publish()

    # ------------------------------------------------------------------ mail

    def _check(self) -> None:
        if self._mailer.broken is not None or (self._mail_task is not None and self._mail_task.done()):
            # Not a failure type of Temporal's (that would fail the onboarding for good): the
            # workflow task fails and is retried, as after any bug in a deployed worker.
            raise RuntimeError("the run's mail task stopped") from self._mailer.broken
        if self._writer.stopped():
            raise RuntimeError("the run's read-model task stopped")

    def _changed(self) -> None:
        """State changed outside the run loop (a mail's outcome): publish it."""
        if self._state_first:
            self._wake = True
        else:
            self._publish()

    def _publish(self) -> None:
        if self._state_first:
            self._check()
            self._run.state.pending_actions = len(self._run.queue) + self._mailer.in_flight
            self._publisher.flush()
        else:
            self._publisher.queued_publish()
        self._writer.changed()

    # -------------------------------------------------------------- handlers

    @workflow.query
    def state(self) -> OnboardingState:
        """The run's full state: stage, tasks, mails and timeline."""
        return self._run.state

    @workflow.query
    def read_model(self) -> Snapshot:
        """The run's read-model snapshot now (what ``kickoff-admin rebuild-read-model`` stores)."""
        return self._writer.snapshot()

    @workflow.query
    def pipeline(self) -> Pipeline:
        """The pipeline snapshot the run follows now (what a migration's impact is measured from)."""
        return self._run.pipeline

    @workflow.signal
    def join_read_model(self) -> None:
        """Write to the read model from now on (a run started before it existed)."""
        self._writer.join()
        self._changed()

    def _refusing(self, check: Callable[[], None]) -> None:
        try:
            check()
        except Refusal as refusal:
            _refused(refusal)

    @workflow.update
    def apply_event(self, event: EventInput) -> str:
        """Apply a staff or system event; returns the stage the run is in afterwards."""
        stage = self._run.apply_event(event, workflow.now())
        self._acted(wake=True)
        return stage

    @apply_event.validator
    def _validate_event(self, event: EventInput) -> None:
        run = self._run
        self._refusing(
            lambda: rules.check_event(run.state, run.pipeline, event, workflow.now(), run.restart is not None)
        )

    @workflow.update
    def tick_item(self, tick: TickInput) -> list[ChecklistItemState]:
        """Tick or untick a checklist item; returns the items of its checklist."""
        items = self._run.tick(tick, workflow.now())
        self._acted(wake=False)
        return items

    @tick_item.validator
    def _validate_tick(self, tick: TickInput) -> None:
        run = self._run
        self._refusing(lambda: rules.check_tick(run.state, run.pipeline, tick, run.restart is not None))

    @workflow.update
    def amend_contract(self, amend: AmendInput) -> str:
        """Move the delivery start of a contract whose onboarding has not begun; returns the stage.
        Steps anchored on it are planned anew (the waiting timer moves)."""
        stage = self._run.amend(amend, workflow.now())
        self._acted(wake=True)
        return stage

    @amend_contract.validator
    def _validate_amend(self, amend: AmendInput) -> None:
        run = self._run
        self._refusing(
            lambda: rules.check_amend(run.state, run.pipeline, amend, workflow.now(), run.restart is not None)
        )

    @workflow.update
    def complete_task(self, task: str) -> str:
        """Mark a task done; returns its id."""
        done = self._run.complete_task(task, workflow.now())
        self._acted(wake=False)
        return done

    @complete_task.validator
    def _validate_complete_task(self, task: str) -> None:
        self._refusing(lambda: rules.check_complete_task(self._run.state, self._run.pipeline, task))

    @workflow.update
    def finish_task(self, finish: FinishTaskInput) -> str:
        """Mark a task done on someone's behalf (the timeline says who); returns its id.

        A separate update from ``complete_task`` (which takes a bare id) so that histories
        with that update replay unchanged; only new requests use this one."""
        done = self._run.complete_task(finish.task, workflow.now(), by=finish.by)
        self._acted(wake=False)
        return done

    @finish_task.validator
    def _validate_finish_task(self, finish: FinishTaskInput) -> None:
        run = self._run
        self._refusing(lambda: rules.check_finish_task(run.state, run.pipeline, finish))

    @workflow.update
    def restart(self, restart: RestartInput) -> int:
        """Restart onboarding with a fresh pipeline snapshot; returns the new cycle number."""
        cycle = self._run.request_restart(restart)
        self._wake = True
        return cycle

    @restart.validator
    def _validate_restart(self, restart: RestartInput) -> None:
        run = self._run
        self._refusing(lambda: rules.check_restart(run.state, run.pipeline, restart, run.restart is not None))

    @workflow.update
    async def record_kickoff_outcome(self, outcome: OutcomeInput) -> int:
        """Record how the kick-off went; returns the cycle the onboarding is in afterwards
        (the next one after a no-show or a rescheduled meeting, which restart onboarding)."""
        run = self._run
        # Booked a moment ago, an older run may still be sending its closing mail: it opens
        # the outcome's task only after that (state first opens it at the booking).
        await workflow.wait_condition(lambda: run.state.awaiting_outcome)
        if run.state.kickoff_outcome is not None:  # two outcomes raced; the first one won
            raise ApplicationError("the kick-off outcome was recorded already", non_retryable=True)
        cycle = run.record_outcome(outcome, workflow.now())
        if not self._state_first:
            self._publisher.queued_outcome()
        self._wake = True
        if outcome.restart is None:
            self._acted(wake=True)
        return cycle

    @record_kickoff_outcome.validator
    def _validate_outcome(self, outcome: OutcomeInput) -> None:
        run = self._run
        self._refusing(lambda: rules.check_outcome(run.state, run.pipeline, outcome, run.restart is not None))

    @workflow.update
    def migrate_pipeline(self, migrate: MigrateInput) -> str:
        """Adopt a newer snapshot of the run's pipeline (a fixed template, a moved step); returns
        the version the run follows now. Steps performed stay performed and mails sent are never
        sent again (``kickoff.engine.migration``); the next step is planned from the new snapshot.

        A handler of its own: histories without it replay unchanged, and nothing else in the
        workflow behaves differently for runs that never receive it."""
        migration.apply(self._run, migrate.pipeline, migrate.pipeline_version, workflow.now(), migrate.by)
        if not self._state_first:
            # Runs started earlier upsert on stage entries only; state first's next publish
            # writes every attribute whose value changed, the version among them.
            workflow.upsert_search_attributes([sa.PIPELINE_VERSION.value_set(migrate.pipeline_version)])
        self._acted(wake=True)
        return migrate.pipeline_version

    @migrate_pipeline.validator
    def _validate_migrate(self, migrate: MigrateInput) -> None:
        run = self._run
        self._refusing(
            lambda: migration.check(run, migrate.pipeline, migrate.pipeline_version, workflow.now())
        )

    def _acted(self, *, wake: bool) -> None:
        """After a staff action: older runs published at once (and re-planned only after
        events); state-first runs let the run loop re-plan and publish once."""
        if self._state_first:
            self._wake = True
        else:
            self._publish()
            self._wake = self._wake or wake
