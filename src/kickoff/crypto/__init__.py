"""Encryption of Temporal payloads: master keys, per-onboarding data keys, the payload codec."""

from kickoff.crypto.codec import EnvelopeCodec
from kickoff.crypto.data_keys import DataKeys, ErasedError, UnknownKeyError
from kickoff.crypto.keys import KeyConfigError, MasterKeys, master_keys

__all__ = [
    "DataKeys",
    "EnvelopeCodec",
    "ErasedError",
    "KeyConfigError",
    "MasterKeys",
    "UnknownKeyError",
    "master_keys",
]
