"""What ops see of a run in the Temporal UI: its search attributes and current details.

Every upsert is an event in the run's history, so runs started by this release
write the attributes once per workflow task, and only those whose value
changed since the last write (or since the run inherited them at its start).
Runs started earlier replay the upserts they issued then: one per stage entry,
one per change of the open-task count, at the moments they made them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from kickoff import search_attributes as sa
    from kickoff.engine import Run
    from kickoff.engine.details import current_details, set_next_step


def queued_entered(run: Run, stage: str) -> None:
    """The upsert older runs made on every stage entry (also the first, as the run began)."""
    workflow.upsert_search_attributes(
        [sa.STAGE.value_set(stage), sa.PIPELINE_VERSION.value_set(run.state.pipeline_version)]
    )


class Publisher:
    def __init__(self, run: Run, inherited: TypedSearchAttributes, behind: Callable[[], bool]) -> None:
        self._run = run
        self._behind = behind
        self._written: dict[str, Any] = {pair.key.name: pair.value for pair in inherited}
        # Older runs' bookkeeping: RETRYING is written only once a mail was slow.
        self._open_tasks: int | None = None
        self._retrying: int | None = None

    def details(self) -> None:
        """The next step in the state, and the UI's current details (not history events)."""
        run = self._run
        step, due = (None, None) if run.state.status != "running" else run.next_step()
        set_next_step(run.state, step, due)
        workflow.set_current_details(current_details(run.state, run.pipeline))

    # ------------------------------------------------------------ state first

    def flush(self) -> None:
        """Details, and one upsert of the attributes whose value changed (none if none did)."""
        self.details()
        updates: list[SearchAttributeUpdate[Any]] = []
        for key, value in self._wanted():
            if self._written.get(key.name) != value:
                updates.append(key.value_set(value) if value is not None else key.value_unset())
                self._written[key.name] = value
        if updates:
            workflow.upsert_search_attributes(updates)

    def _wanted(self) -> list[tuple[SearchAttributeKey[Any], Any]]:
        state = self._run.state
        outcome = state.kickoff_outcome
        wanted: list[tuple[SearchAttributeKey[Any], Any]] = [
            (sa.PIPELINE, state.pipeline),
            (sa.STAGE, state.stage),
            (sa.PIPELINE_VERSION, state.pipeline_version),
            (sa.OPEN_TASKS, len(state.open_tasks())),
            (sa.OUTCOME, outcome.outcome if outcome else None),
            (sa.SEGMENT, outcome.segment if outcome else None),
        ]
        if state.retrying_actions or sa.RETRYING_ACTIONS.name in self._written:
            wanted.append((sa.RETRYING_ACTIONS, state.retrying_actions))
        # Written only once a read-model write failed: runs whose writes land never carry it.
        if self._behind() or sa.READ_MODEL_BEHIND.name in self._written:
            wanted.append((sa.READ_MODEL_BEHIND, self._behind()))
        return wanted

    # ---------------------------------------------------------------- queued

    def queued_started(self, fresh: bool) -> None:
        """The upsert older runs made as their run method began."""
        state = self._run.state
        attributes: list[SearchAttributeUpdate[Any]] = [
            sa.PIPELINE.value_set(state.pipeline),
            sa.STAGE.value_set(state.stage),
            sa.PIPELINE_VERSION.value_set(state.pipeline_version),
        ]
        if fresh:
            # A restart continues as new and would inherit the no-show it restarts after.
            attributes += [key.value_unset() for key in (sa.OUTCOME, sa.SEGMENT) if key.name in self._written]
        workflow.upsert_search_attributes(attributes)

    def queued_outcome(self) -> None:
        outcome = self._run.state.kickoff_outcome
        assert outcome is not None
        workflow.upsert_search_attributes(
            [sa.OUTCOME.value_set(outcome.outcome)]
            + ([sa.SEGMENT.value_set(outcome.segment)] if outcome.segment else [])
        )

    def queued_publish(self) -> None:
        """Details, and the task counts older runs wrote whenever they changed."""
        self.details()
        state = self._run.state
        open_tasks = len(state.open_tasks())
        if open_tasks != self._open_tasks:
            workflow.upsert_search_attributes([sa.OPEN_TASKS.value_set(open_tasks)])
            self._open_tasks = open_tasks
        retrying = state.retrying_actions
        if retrying != self._retrying and (retrying or self._retrying is not None):
            workflow.upsert_search_attributes([sa.RETRYING_ACTIONS.value_set(retrying)])
            self._retrying = retrying
