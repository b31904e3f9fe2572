"""Webhook signatures: ``X-Kickoff-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The MAC covers ``"<t>.<raw body>"`` with KICKOFF_WEBHOOK_SECRET, so neither
the body nor the timestamp can be changed, and an old request cannot be
replayed after the tolerance window.
"""

from __future__ import annotations

import hashlib
import hmac


class SignatureError(ValueError):
    """The signature header is missing, malformed, wrong or stale."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value a sender puts on ``body`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(header: str | None, secret: str, body: bytes, now: float, tolerance: int = 300) -> None:
    """Raise ``SignatureError`` with a reason unless ``header`` signs ``body`` recently."""
    if not header:
        raise SignatureError("missing X-Kickoff-Signature header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise SignatureError("signature header has no valid t=<unix seconds>") from None
    candidates = parts.get("v1", [])
    if not candidates:
        raise SignatureError("signature header has no v1=<hex HMAC-SHA256>")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(f"signature timestamp is more than {tolerance} s from now")
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    # Several v1 values allow secret rotation; compare each in constant time.
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureError("signature does not match the body")
