"""Record the history of a run that was moved to a fixed pipeline:
``python -m tests.histories.record_migration`` (into ``read_model/``, which the replay test
replays with the rest of this release's recordings).

Kept beside ``record.py`` and recorded with its machinery; like every recording it guards runs
in flight, so it is re-recorded only when a change is meant to be incompatible.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from kickoff.activities import MailActivities
from kickoff.domain import MigrateInput
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.histories import record
from tests.migration_support import current, start_on, typo
from tests.support import at_eight, local_date, make_contract, settled_state, skip_to

NAME = "pipeline_migrated"


async def pipeline_migrated(
    env: WorkflowEnvironment, queue: str, mail: MailActivities
) -> WorkflowHandle[Any, Any]:
    """Started on the typo'd reminder, moved to the fixed pipeline on day 5 (the update, its
    timeline entry, the version upsert, a new plan), the day-10 reminder sent with the fix."""
    now = await env.get_current_time()
    day0 = local_date(now)
    contract = make_contract(delivery_start=(day0 - timedelta(days=1)).isoformat())
    handle = await start_on(env.client, queue, contract, typo())
    await skip_to(env, at_eight(day0 + timedelta(days=5)))
    await settled_state(env, handle)
    pipeline, version = current()
    await handle.execute_update(
        OnboardingWorkflow.migrate_pipeline,
        MigrateInput(pipeline=pipeline, pipeline_version=version, by="admin@assist.example"),
    )
    await skip_to(env, at_eight(day0 + timedelta(days=11)))
    await settled_state(env, handle)
    return handle


def main() -> None:
    record.SCENARIOS[NAME] = pipeline_migrated
    with tempfile.TemporaryDirectory() as scratch:
        recorded = asyncio.run(record.record_all(Path(scratch) / "ledger.sqlite3", [NAME]))
    record.CURRENT.mkdir(exist_ok=True)
    (record.CURRENT / f"{NAME}.json").write_text(recorded[NAME], encoding="utf-8")
    print(f"recorded {NAME}", file=sys.stderr)


if __name__ == "__main__":
    main()
