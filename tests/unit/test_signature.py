"""Webhook signatures: ``t=<unix seconds>,v1=<hex HMAC-SHA256>`` over ``"<t>.<body>"``."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from kickoff.signature import SignatureError, sign, verify

SECRET = "whsec-test"
BODY = b'{"contract_id": "C-1001", "customer": {"name": "\xc3\x85re H\xc3\xa4lsa"}}'
NOW = 1_790_000_000


def mac(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_sign_produces_timestamp_and_hmac_over_timestamp_and_body() -> None:
    """The header is ``t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">``."""
    assert sign(SECRET, BODY, NOW) == f"t={NOW},v1={mac(BODY, NOW)}"


def test_signed_body_verifies() -> None:
    """A header from sign() is accepted for the same secret, body and a current clock."""
    verify(sign(SECRET, BODY, NOW), SECRET, BODY, now=NOW + 5)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing X-Kickoff-Signature header"),
        ("", "missing X-Kickoff-Signature header"),
        (f"v1={mac(BODY, NOW)}", "no valid t="),
        (f"t=soon,v1={mac(BODY, NOW)}", "no valid t="),
        (f"t={NOW}", "no v1="),
        (f"t={NOW},v2={mac(BODY, NOW)}", "no v1="),
        (f"t={NOW},v1={'0' * 64}", "does not match the body"),
        (f"t={NOW},v1={mac(BODY, NOW, secret='another-secret')}", "does not match the body"),
        (f"t={NOW},v1={mac(b'{}', NOW)}", "does not match the body"),
        (f"t={NOW + 1},v1={mac(BODY, NOW)}", "does not match the body"),
        (sign(SECRET, BODY, NOW - 301), "more than 300 s from now"),
        (sign(SECRET, BODY, NOW + 301), "more than 300 s from now"),
    ],
    ids=[
        "missing",
        "empty",
        "no-t",
        "non-numeric-t",
        "no-v1",
        "only-unknown-scheme",
        "wrong-mac",
        "mac-with-other-secret",
        "mac-for-another-body",
        "timestamp-changed",
        "stale-by-301s",
        "future-by-301s",
    ],
)
def test_bad_headers_are_refused_with_a_reason(header: str | None, reason: str) -> None:
    """Each malformed, wrong or stale header raises SignatureError saying what is wrong."""
    with pytest.raises(SignatureError, match=reason):
        verify(header, SECRET, BODY, now=NOW)


def test_body_changed_after_signing_is_refused() -> None:
    """A correct header for the original body does not verify a tampered body."""
    with pytest.raises(SignatureError, match="does not match the body"):
        verify(sign(SECRET, BODY, NOW), SECRET, BODY + b" ", now=NOW)


def test_any_matching_v1_is_accepted_during_secret_rotation() -> None:
    """With several v1 values (old and new secret) the header verifies when one of them matches."""
    header = f"t={NOW}, v1={mac(BODY, NOW, secret='old-secret')}, v1={mac(BODY, NOW)}"
    verify(header, SECRET, BODY, now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify(header, "third-secret", BODY, now=NOW)


@pytest.mark.parametrize("age", [300, -300, 0], ids=["300s-old", "300s-ahead", "now"])
def test_timestamps_within_tolerance_are_accepted(age: int) -> None:
    """A signature exactly 300 s old (or ahead) is still inside the window."""
    verify(sign(SECRET, BODY, NOW - age), SECRET, BODY, now=NOW)


def test_tolerance_is_configurable() -> None:
    """A narrower tolerance refuses what the default window accepts."""
    header = sign(SECRET, BODY, NOW - 60)
    verify(header, SECRET, BODY, now=NOW)
    with pytest.raises(SignatureError, match="more than 30 s"):
        verify(header, SECRET, BODY, now=NOW, tolerance=30)
