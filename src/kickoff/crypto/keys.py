"""Master keys: ``KICKOFF_ENCRYPTION_KEYS``, the first of which wraps new data keys.

Each key is ``<id>:<32 bytes, base64>``; several are separated by commas. The first one is the
newest: it wraps every new onboarding's data key, and every listed key still unwraps the data
keys it wrapped, so a key is rotated by putting a new one first and keeping the old ones
until nothing needs them. ``make run`` keeps a generated key in the data folder instead.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

KEY_BYTES = 32
LOCAL_KEY_FILE = "encryption-keys"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class KeyConfigError(ValueError):
    """KICKOFF_ENCRYPTION_KEYS cannot be read; the message says why (never a key)."""


@dataclass(frozen=True)
class MasterKeys:
    keys: dict[str, bytes]
    current: str
    """The id of the key that wraps new data keys."""

    @classmethod
    def parse(cls, text: str) -> MasterKeys:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for number, item in enumerate((part.strip() for part in text.split(",")), start=1):
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            if not sep or not _KEY_ID.match(key_id):
                raise KeyConfigError(
                    f"key {number} must be <id>:<base64 key>, the id of letters, digits, _ . -"
                )
            try:
                raw = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise KeyConfigError(f"key {key_id!r} is not valid base64") from None
            if len(raw) != KEY_BYTES:
                raise KeyConfigError(f"key {key_id!r} has {len(raw)} bytes; AES-256 needs {KEY_BYTES}")
            if key_id in keys:
                raise KeyConfigError(f"key id {key_id!r} is listed twice")
            keys[key_id] = raw
            order.append(key_id)
        if not order:
            raise KeyConfigError("no key: set KICKOFF_ENCRYPTION_KEYS to <id>:<base64 of 32 random bytes>")
        return cls(keys, order[0])


def new_key_text(key_id: str) -> str:
    """A fresh key as KICKOFF_ENCRYPTION_KEYS lists it."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def master_keys(configured: str, data_dir: Path) -> MasterKeys:
    """The configured keys; none configured: the data folder's own, made on first use (``make
    run``; compose requires KICKOFF_ENCRYPTION_KEYS)."""
    if configured.strip():
        return MasterKeys.parse(configured)
    path = data_dir / LOCAL_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # Written in full to a file of its own (owner-only, never world-readable even for a
        # moment), then linked into place: the API and the worker starting together both end
        # up with the one key that won, never a half-written one.
        draft = data_dir / f".{LOCAL_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(new_key_text("local-1") + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use that one
        finally:
            draft.unlink()
    return MasterKeys.parse(path.read_text(encoding="ascii"))
