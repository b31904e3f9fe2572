"""Key rotation on a real dev server: a new master key put first wraps new onboardings' data
keys; runs started under the old one keep working (their keys still unwrap with it)."""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.client import Client

from kickoff.activities import MailActivities
from kickoff.converter import encrypted
from kickoff.crypto import DataKeys, MasterKeys
from kickoff.crypto.keys import new_key_text
from kickoff.db.schema import data_keys
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.databases import migrated_sqlite
from tests.support import contract_payload, make_contract, onboarding_input, worker_for

OLD, NEW = new_key_text("old"), new_key_text("new")


def _client(dev_server: Client, keys: DataKeys) -> Client:
    return Client(dev_server.service_client, namespace=dev_server.namespace, data_converter=encrypted(keys))


async def test_runs_started_under_the_old_key_keep_working_after_a_new_one_is_added(
    dev_server: Client, mail_activities: MailActivities, tmp_path: Path
) -> None:
    database = migrated_sqlite(tmp_path / "kickoff.sqlite3")
    queue = f"rotation-{uuid.uuid4().hex}"
    before = _client(dev_server, DataKeys(database, MasterKeys.parse(OLD)))
    first = onboarding_input(make_contract(**contract_payload()))
    async with worker_for(before, queue, mail_activities):
        handle = await before.start_workflow(
            OnboardingWorkflow.run, first, id=first.onboarding_id, task_queue=queue
        )
        state = await handle.query(OnboardingWorkflow.state)
        assert state.stage == "onboarding"

    # Rotated: the new key first, the old one still listed. A fresh process (no cached keys).
    after = _client(dev_server, DataKeys(database, MasterKeys.parse(f"{NEW},{OLD}")))
    second = onboarding_input(make_contract(**contract_payload()))
    async with worker_for(after, queue, mail_activities):
        running = after.get_workflow_handle_for(OnboardingWorkflow.run, first.onboarding_id)
        task = (await running.query(OnboardingWorkflow.state)).open_tasks()[0]
        assert await running.execute_update(OnboardingWorkflow.complete_task, task.id) == task.id
        await after.start_workflow(OnboardingWorkflow.run, second, id=second.onboarding_id, task_queue=queue)
        assert (await after.get_workflow_handle(second.onboarding_id).query(OnboardingWorkflow.state)).stage
        for oid in (first.onboarding_id, second.onboarding_id):
            await after.get_workflow_handle(oid).terminate(reason="test finished")
    async with database.engine.connect() as db:
        query = data_keys.select().with_only_columns(data_keys.c.onboarding_id, data_keys.c.master_key_id)
        masters = dict((await db.execute(query)).all())
    assert masters == {first.onboarding_id: "old", second.onboarding_id: "new"}
    await database.dispose()
