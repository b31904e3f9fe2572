"""The payload codec: every Temporal payload encrypted with AES-256-GCM.

A payload of an onboarding's runs (workflow input and result, activity arguments and results,
updates, queries, memos, continue-as-new state) is encrypted with the onboarding's data key;
the SDK's serialization context names the workflow. A payload without a workflow (rare client
calls) is encrypted with the current master key. The metadata says which key
(``encryption-key-id``: ``onboarding/<id>`` or ``master/<key id>``, no personal data), so any
process with the keys can decode it without context: the worker, the API, the codec server
the Temporal UI calls. Payloads written before encryption existed are left as they are.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Self

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext

from kickoff.crypto.data_keys import NONCE_BYTES, DataKeys, UnknownKeyError

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"


class EnvelopeCodec(PayloadCodec, WithSerializationContext):
    def __init__(self, keys: DataKeys, onboarding_id: str | None = None) -> None:
        self.keys = keys
        self.onboarding_id = onboarding_id

    def with_context(self, context: SerializationContext) -> Self:
        workflow_id = getattr(context, "workflow_id", None)
        return type(self)(self.keys, workflow_id if isinstance(workflow_id, str) else None)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if not payloads:
            return []
        reference, key = await self._encrypting_key()
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = AESGCM(key).encrypt(nonce, payload.SerializeToString(), reference.encode())
            encoded.append(
                Payload(metadata={"encoding": ENCODING, KEY_ID: reference.encode()}, data=nonce + sealed)
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # written before encryption (recorded histories, old runs)
                continue
            reference = payload.metadata[KEY_ID].decode()
            key = await self._decrypting_key(reference)
            data = payload.data
            plain = AESGCM(key).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], reference.encode())
            decoded.append(Payload.FromString(plain))
        return decoded

    async def _encrypting_key(self) -> tuple[str, bytes]:
        if self.onboarding_id is not None:
            key = await self.keys.for_onboarding(self.onboarding_id, create=True)
            return f"onboarding/{self.onboarding_id}", key
        master = self.keys.master
        return f"master/{master.current}", master.keys[master.current]

    async def _decrypting_key(self, reference: str) -> bytes:
        kind, _, name = reference.partition("/")
        match kind:
            case "onboarding":
                return await self.keys.for_onboarding(name, create=False)
            case "master":
                key = self.keys.master.keys.get(name)
                if key is None:
                    raise UnknownKeyError(f"master key {name!r} is not in KICKOFF_ENCRYPTION_KEYS")
                return key
            case _:
                raise UnknownKeyError(f"unknown key reference kind {kind!r}")
