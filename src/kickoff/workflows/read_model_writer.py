"""The run's writes to the read model: its snapshot, after a workflow task changed it.

One local activity (``write_read_model``) per workflow task whose snapshot differs from the
last one written: one marker in the history, no activity task round trip. It runs in a task
of its own, so a slow or failing database never holds up a mail, a timer or a stage move; a
failed write is tried again (newest snapshot, backing off up to 5 minutes) and the run flags
``KickoffReadModelBehind`` until a write lands, so the staff views can say they may be stale.

Runs started by this release write from their start (``read-model`` patch). Runs started
earlier join when ``kickoff-admin rebuild-read-model`` signals them (``join_read_model``):
the signal's handler decides with a patch of its own, at a point every replay reaches again
(the signal's event), so the decision is the same on every replay.

The report facts (anchors, records: ``Snapshot.facts``) are written the same way, under patches
of their own: they change a snapshot where nothing else did (a logged contact sets only
``last_contact``), so writing them adds local activities to workflow tasks that had none. A run
started before them (``read-model-records``) replays and goes on without them until the
rebuild's join signal (``read-model-records-joined``); the ``read_model`` query, which issues
no command, always has them, so the rebuild stores them for every run it reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from kickoff.engine import Run
    from kickoff.readmodel.snapshot import Snapshot, snapshot_of

READ_MODEL = "read-model"
"""Patch id: the run writes its snapshot to the read model from its start."""
READ_MODEL_JOINED = "read-model-joined"
"""Patch id: a run started before the read model writes to it from the join signal on."""
READ_MODEL_RECORDS = "read-model-records"
"""Patch id: the run's writes carry its report facts (anchors, records) from its start."""
READ_MODEL_RECORDS_JOINED = "read-model-records-joined"
"""Patch id: a run started before the report facts writes them from the join signal on."""
WRITE_TIMEOUT = timedelta(seconds=5)
MAX_BACKOFF = timedelta(minutes=5)
WRITE_ACTIVITY = "write_read_model"


def revision_at(micros: int, previous: int) -> int:
    """The next revision: the workflow task's time in microseconds, times 1000, so a later run of
    the same onboarding (continued as new, or restarted) always writes above an earlier one;
    +1 on the previous revision when two writes share a workflow task's time."""
    return max(previous + 1, micros * 1000)


class ReadModelWriter:
    def __init__(self, run: Run, on: bool, behind_changed: Callable[[], None]) -> None:
        self._run = run
        self.on = on
        self.facts = False
        """Whether writes carry the report facts (decided where the write task starts)."""
        self._behind_changed = behind_changed
        self._written: Snapshot | None = None
        self._wanted: Snapshot | None = None
        self._writing = False
        self._failures = 0
        self.revision = 0
        self.behind = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """The write task: at the run's first workflow task, or when a run started before the read
        model joins it."""
        if self.on and self._task is None:
            if not self.facts:
                self.facts = self.writes_facts()
            self._task = asyncio.create_task(self._write_in_order())

    def writes_facts(self) -> bool:
        """Decided once per run, where it starts writing (a patch's answer holds for the run)."""
        return workflow.patched(READ_MODEL_RECORDS)

    def stopped(self) -> bool:
        """The write task ended: only a bug does that (the run then fails its workflow task, as
        its mail task's end does, instead of waiting for ever for a write that never comes)."""
        return self._task is not None and self._task.done()

    def join(self) -> None:
        """A run started before the read model, or before its report facts: write them from now
        on (see the module's comment). The handler's caller publishes, which queues the write."""
        if not self.facts:
            self.facts = workflow.patched(READ_MODEL_RECORDS_JOINED)
        if self.on:
            return
        self.on = workflow.patched(READ_MODEL_JOINED)
        self.start()
        self.changed(force=True)

    def snapshot(self, *, facts: bool = True) -> Snapshot:
        """The run's snapshot now; the ``read_model`` query's has the report facts always."""
        run = self._run
        return snapshot_of(run.state, run.pipeline, workflow.info().run_id, self.revision, facts=facts)

    def changed(self, *, force: bool = False) -> None:
        """The run published: queue its snapshot if it differs from the last one written."""
        if not self.on:
            return
        wanted = self.snapshot(facts=self.facts)
        if force or self._written is None or _content(wanted) != _content(self._written):
            self._wanted = wanted

    def settled(self) -> bool:
        """Nothing to write (or the database is failing: a run does not wait for it to close)."""
        return not self.on or self.behind or (self._wanted is None and not self._writing)

    async def _write_in_order(self) -> None:
        while True:
            await workflow.wait_condition(lambda: self._wanted is not None)
            wanted, self._wanted = self._wanted, None
            assert wanted is not None
            micros = int(workflow.now().astimezone(UTC).timestamp() * 1_000_000)
            self.revision = revision_at(micros, self.revision)
            snapshot = wanted.model_copy(
                update={"entry": wanted.entry.model_copy(update={"revision": self.revision})}
            )
            self._writing = True
            try:
                await workflow.execute_local_activity(
                    WRITE_ACTIVITY,
                    snapshot,
                    result_type=bool,
                    start_to_close_timeout=WRITE_TIMEOUT,
                    # Retried here, not by the SDK: the next try writes the newest snapshot.
                    retry_policy=RetryPolicy(maximum_attempts=1),
                    summary="read model",
                )
            except FailureError:
                # A local activity's failure comes as its cause (ApplicationError, TimeoutError),
                # not wrapped in an ActivityError as an ordinary activity's is.
                self._failures += 1
                if self._wanted is None:
                    self._wanted = wanted
                self._set_behind(True)
                backoff = min(timedelta(seconds=2**self._failures), MAX_BACKOFF)
                self._writing = False
                await workflow.sleep(backoff, summary="read model: write again")
                continue
            self._writing = False
            self._written = snapshot
            self._failures = 0
            self._set_behind(False)

    def _set_behind(self, behind: bool) -> None:
        if behind != self.behind:
            self.behind = behind
            self._behind_changed()


def _content(snapshot: Snapshot) -> Snapshot:
    """A snapshot without its revision: what decides whether there is anything new to write."""
    return snapshot.model_copy(update={"entry": snapshot.entry.model_copy(update={"revision": 0})})
