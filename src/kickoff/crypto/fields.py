"""Personal values in Kickoff's own tables, sealed with their onboarding's data key.

The read model's customer name and a kick-off outcome's advisor and recorder are encrypted the
way the onboarding's Temporal payloads are: erasing the data key makes them unreadable too, and
the database file holds no name in clear. A value stored before sealing existed reads as it is.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.converter import DataConverter

from kickoff.crypto.codec import EnvelopeCodec
from kickoff.crypto.data_keys import NONCE_BYTES, DataKeys, ErasedError, UnknownKeyError

PREFIX = "enc1:"
ERASED = "(erased)"
UNREADABLE = "(unreadable)"


class FieldSealer:
    def __init__(self, keys: DataKeys) -> None:
        self.keys = keys

    async def seal(self, onboarding_id: str, value: str) -> str:
        key = await self.keys.for_onboarding(onboarding_id, create=True)
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, value.encode(), _aad(onboarding_id))
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    async def open(self, onboarding_id: str, stored: str | None) -> str | None:
        if stored is None or not stored.startswith(PREFIX):
            return stored
        try:
            key = await self.keys.for_onboarding(onboarding_id, create=False)
        except ErasedError:
            return ERASED
        except UnknownKeyError:
            return UNREADABLE
        raw = base64.b64decode(stored[len(PREFIX) :])
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(onboarding_id)).decode()
        except InvalidTag:
            return UNREADABLE

    async def preload(self, onboarding_ids: Iterable[str]) -> None:
        """Read many onboardings' keys in one query (a board of 500 cards)."""
        await self.keys.preload(onboarding_ids)


def _aad(onboarding_id: str) -> bytes:
    return f"kickoff-field:{onboarding_id}".encode()


def sealer_of(converter: DataConverter) -> FieldSealer | None:
    """The sealer on the data keys of ``converter``'s codec (None: payloads are not encrypted)."""
    codec = converter.payload_codec
    return FieldSealer(codec.keys) if isinstance(codec, EnvelopeCodec) else None
