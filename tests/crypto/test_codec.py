"""The payload codec and the data keys, on SQLite and on a real PostgreSQL server: round trips,
plain payloads left alone, rotation, erasure, and tampering refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from kickoff.converter import data_converter, encrypted
from kickoff.crypto import DataKeys, EnvelopeCodec, ErasedError, KeyConfigError, MasterKeys, UnknownKeyError
from kickoff.crypto.fields import ERASED, FieldSealer
from kickoff.crypto.keys import LOCAL_KEY_FILE, master_keys, new_key_text
from kickoff.db import Database
from kickoff.db.schema import data_keys

K1, K2 = new_key_text("k1"), new_key_text("k2")
SECRET = b'{"name":"Zelda Quist","email":"zelda@example.com"}'


def _plain(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def _for(keys: DataKeys, workflow_id: str) -> EnvelopeCodec:
    return EnvelopeCodec(keys).with_context(
        WorkflowSerializationContext(namespace="default", workflow_id=workflow_id)
    )


async def test_an_onboardings_payloads_are_sealed_with_its_own_data_key(database: Database) -> None:
    keys = DataKeys(database, MasterKeys.parse(K1))
    codec = _for(keys, "SE-C-1")
    [sealed] = await codec.encode([_plain()])
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    assert sealed.metadata["encryption-key-id"] == b"onboarding/SE-C-1"
    assert b"Zelda" not in sealed.SerializeToString()
    # Any process with the keys decodes it, without knowing the workflow.
    assert await EnvelopeCodec(DataKeys(database, MasterKeys.parse(K1))).decode([sealed]) == [_plain()]
    # An activity of the run uses the same key.
    activity = EnvelopeCodec(keys).with_context(
        ActivitySerializationContext(
            namespace="default",
            activity_id="1",
            activity_type="send_mail",
            activity_task_queue="q",
            workflow_id="SE-C-1",
            workflow_type="Onboarding",
            is_local=False,
        )
    )
    [again] = await activity.encode([_plain()])
    assert again.metadata["encryption-key-id"] == b"onboarding/SE-C-1"
    assert again.data != sealed.data  # a fresh nonce each time


async def test_a_payload_without_a_workflow_is_sealed_with_the_current_master_key(database: Database) -> None:
    codec = EnvelopeCodec(DataKeys(database, MasterKeys.parse(f"{K2},{K1}")))
    [sealed] = await codec.encode([_plain()])
    assert sealed.metadata["encryption-key-id"] == b"master/k2"
    assert await codec.decode([sealed]) == [_plain()]


async def test_payloads_written_before_encryption_decode_as_they_are(database: Database) -> None:
    codec = EnvelopeCodec(DataKeys(database, MasterKeys.parse(K1)))
    assert await codec.decode([_plain()]) == [_plain()]


async def test_rotation_old_data_keys_still_open_and_new_ones_use_the_new_master(database: Database) -> None:
    [before] = await _for(DataKeys(database, MasterKeys.parse(K1)), "SE-C-1").encode([_plain()])
    rotated = DataKeys(database, MasterKeys.parse(f"{K2},{K1}"))
    assert await _for(rotated, "SE-C-1").decode([before]) == [_plain()]
    await _for(rotated, "SE-C-2").encode([_plain()])
    async with database.engine.connect() as db:
        masters = dict(
            (
                await db.execute(
                    data_keys.select().with_only_columns(data_keys.c.onboarding_id, data_keys.c.master_key_id)
                )
            ).all()
        )
    assert masters == {"SE-C-1": "k1", "SE-C-2": "k2"}
    # Without the old master key, the old onboarding's key cannot be unwrapped.
    with pytest.raises(UnknownKeyError, match="k1"):
        await _for(DataKeys(database, MasterKeys.parse(K2)), "SE-C-1").decode([before])


async def test_erasure_destroys_the_key_for_every_process(database: Database) -> None:
    keys = DataKeys(database, MasterKeys.parse(K1))
    [sealed] = await _for(keys, "SE-C-1").encode([_plain()])
    [other] = await _for(keys, "SE-C-2").encode([_plain()])
    token = await FieldSealer(keys).seal("SE-C-1", "Zelda Quist")
    erased_at = await keys.erase("SE-C-1")
    assert await keys.erase("SE-C-1") == erased_at  # idempotent: the first time stays
    fresh = DataKeys(database, MasterKeys.parse(K1))  # another process: no cached key
    with pytest.raises(ErasedError):
        await EnvelopeCodec(fresh).decode([sealed])
    with pytest.raises(ErasedError):
        await _for(fresh, "SE-C-1").encode([_plain()])  # and no new key is made for it
    assert await FieldSealer(fresh).open("SE-C-1", token) == ERASED
    assert await EnvelopeCodec(fresh).decode([other]) == [_plain()]
    async with database.engine.connect() as db:
        wrapped = (
            (await db.execute(data_keys.select().where(data_keys.c.onboarding_id == "SE-C-1")))
            .mappings()
            .one()
        )
    assert wrapped["wrapped"] is None


async def test_a_tampered_payload_or_one_moved_to_another_onboarding_is_refused(database: Database) -> None:
    keys = DataKeys(database, MasterKeys.parse(K1))
    [sealed] = await _for(keys, "SE-C-1").encode([_plain()])
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(InvalidTag):
        await EnvelopeCodec(keys).decode([tampered])
    await _for(keys, "SE-C-2").encode([_plain()])
    moved = Payload(metadata={**sealed.metadata, "encryption-key-id": b"onboarding/SE-C-2"}, data=sealed.data)
    with pytest.raises(InvalidTag):
        await EnvelopeCodec(keys).decode([moved])


async def test_the_data_converter_round_trips_values_through_the_codec(database: Database) -> None:
    converter = encrypted(DataKeys(database, MasterKeys.parse(K1)))
    context = WorkflowSerializationContext(namespace="default", workflow_id="SE-C-1")
    bound = converter.with_context(context)
    payloads = await bound.encode(["Zelda Quist", {"phone": "+46 70 123 45 67"}])
    assert all(b"Zelda" not in p.data and b"+46" not in p.data for p in payloads)
    assert await bound.decode(payloads) == ["Zelda Quist", {"phone": "+46 70 123 45 67"}]
    # The plain converter (recorded histories) cannot read them: only ciphertext.
    assert all(p.metadata["encoding"] == b"binary/encrypted" for p in payloads)
    assert data_converter.payload_codec is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no key"),
        ("k1", "must be <id>:<base64 key>"),
        ("k1:not base64!", "not valid base64"),
        ("k1:c2hvcnQ=", "needs 32"),
        (f"{K1},{K1}", "listed twice"),
        ("bad id:" + K1.split(":")[1], "must be <id>"),
    ],
)
def test_bad_keys_are_refused_with_a_reason_that_holds_no_key(text: str, says: str) -> None:
    with pytest.raises(KeyConfigError, match=says) as raised:
        MasterKeys.parse(text)
    assert K1.split(":")[1] not in str(raised.value)


def test_make_run_keeps_one_generated_key_in_the_data_folder(tmp_path: Path) -> None:
    first = master_keys("", tmp_path)
    assert master_keys("", tmp_path) == first
    assert (tmp_path / LOCAL_KEY_FILE).stat().st_mode & 0o077 == 0  # owner only
    assert master_keys(K2, tmp_path).current == "k2"  # configured keys win
