"""Per-onboarding data keys, wrapped by a master key and kept in Kickoff's database.

Every Temporal payload of an onboarding is encrypted with its own data key (envelope
encryption). Erasure destroys that key: the histories stay in Temporal as an audit, and no key
anywhere can read the personal data in them again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from datetime import UTC, datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update

from kickoff.crypto.keys import KEY_BYTES, MasterKeys
from kickoff.db.database import Database, insert_if_absent, utc_aware
from kickoff.db.schema import data_keys

NONCE_BYTES = 12
CACHE_SECONDS = 60.0
"""How long a process reuses a data key it read; erasure clears its own process's at once."""


class ErasedError(Exception):
    """The onboarding's personal data was erased: its data key is gone."""

    def __init__(self, onboarding_id: str, erased_at: datetime) -> None:
        super().__init__(f"personal data of {onboarding_id} was erased at {erased_at.isoformat()}")
        self.onboarding_id = onboarding_id
        self.erased_at = erased_at


class UnknownKeyError(Exception):
    """A payload names a key this deployment does not have (not configured, or no such row)."""


class DataKeys:
    def __init__(self, database: Database, master: MasterKeys) -> None:
        self.database = database
        self.master = master
        self._cache: dict[str, tuple[float, bytes]] = {}

    async def for_onboarding(self, onboarding_id: str, *, create: bool) -> bytes:
        """The onboarding's data key (made and stored on first use when ``create``)."""
        loop = asyncio.get_running_loop()
        cached = self._cache.get(onboarding_id)
        if cached is not None and loop.time() - cached[0] < CACHE_SECONDS:
            return cached[1]
        key = await self._load(onboarding_id)
        if key is None:
            if not create:
                raise UnknownKeyError(f"no data key for {onboarding_id}")
            await self._store_new(onboarding_id)
            key = await self._load(onboarding_id)
            assert key is not None
        self._cache[onboarding_id] = (loop.time(), key)
        return key

    async def preload(self, onboarding_ids: Iterable[str]) -> None:
        """Read and unwrap the keys of many onboardings in few queries (erased ones are skipped:
        reading them one by one says they were erased)."""
        loop = asyncio.get_running_loop()
        wanted = sorted({oid for oid in onboarding_ids if oid not in self._cache})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = select(data_keys).where(
                data_keys.c.onboarding_id.in_(chunk), data_keys.c.erased_at.is_(None)
            )
            async with self.database.engine.connect() as db:
                rows = (await db.execute(query)).mappings().all()
            for row in rows:
                master = self.master.keys.get(row["master_key_id"])
                if master is not None:
                    key = _unwrap(master, row["onboarding_id"], row["wrapped"])
                    self._cache[row["onboarding_id"]] = (loop.time(), key)

    async def erase(self, onboarding_id: str) -> datetime:
        """Destroy the onboarding's data key (recording when); erasing twice keeps the first time."""
        now = datetime.now(UTC)
        values = {"onboarding_id": onboarding_id, "master_key_id": "-", "wrapped": None, "created_at": now}
        async with self.database.engine.begin() as db:
            # No key yet (nothing was ever encrypted): a row that refuses one from now on.
            await db.execute(insert_if_absent(self.database.dialect, data_keys, values | {"erased_at": now}))
            await db.execute(
                update(data_keys)
                .where(data_keys.c.onboarding_id == onboarding_id, data_keys.c.erased_at.is_(None))
                .values(wrapped=None, erased_at=now)
            )
        self._cache.pop(onboarding_id, None)
        erased = await self.erased_at(onboarding_id)
        assert erased is not None
        return erased

    async def erased_at(self, onboarding_id: str) -> datetime | None:
        query = select(data_keys.c.erased_at).where(data_keys.c.onboarding_id == onboarding_id)
        async with self.database.engine.connect() as db:
            found = (await db.execute(query)).scalar()
        return utc_aware(found) if found is not None else None

    async def _load(self, onboarding_id: str) -> bytes | None:
        query = select(data_keys).where(data_keys.c.onboarding_id == onboarding_id)
        async with self.database.engine.connect() as db:
            row = (await db.execute(query)).mappings().first()
        if row is None:
            return None
        if row["erased_at"] is not None:
            raise ErasedError(onboarding_id, utc_aware(row["erased_at"]))
        master = self.master.keys.get(row["master_key_id"])
        if master is None:
            raise UnknownKeyError(f"master key {row['master_key_id']!r} is not in KICKOFF_ENCRYPTION_KEYS")
        return _unwrap(master, onboarding_id, row["wrapped"])

    async def _store_new(self, onboarding_id: str) -> None:
        key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        nonce = os.urandom(NONCE_BYTES)
        master = self.master.keys[self.master.current]
        values = {
            "onboarding_id": onboarding_id,
            "master_key_id": self.master.current,
            "wrapped": nonce + AESGCM(master).encrypt(nonce, key, _aad(onboarding_id)),
            "created_at": datetime.now(UTC),
        }
        async with self.database.engine.begin() as db:
            # Two processes encrypting the onboarding's first payloads at once: one key wins.
            await db.execute(insert_if_absent(self.database.dialect, data_keys, values))


def _unwrap(master: bytes, onboarding_id: str, wrapped: bytes) -> bytes:
    return AESGCM(master).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _aad(onboarding_id))


def _aad(onboarding_id: str) -> bytes:
    # Bound to its onboarding: a wrapped key copied onto another row does not unwrap.
    return f"kickoff-data-key:{onboarding_id}".encode()
