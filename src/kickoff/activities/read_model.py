"""The read-model write: a run's snapshot into Kickoff's database (see kickoff.db.read_model)."""

from __future__ import annotations

from temporalio import activity

from kickoff.db.read_model import ReadModelStore
from kickoff.readmodel.snapshot import Snapshot


class ReadModelActivities:
    def __init__(self, store: ReadModelStore) -> None:
        self.store = store

    @activity.defn(name="write_read_model")
    async def write_read_model(self, snapshot: Snapshot) -> bool:
        """Store ``snapshot``; False when a newer one of the onboarding was there (nothing to do).
        Idempotent: the same snapshot twice stores it once."""
        return await self.store.write(snapshot)
