"""Failed authentication, throttled per client address (``limits``' moving window, in memory).

A client that keeps sending wrong Bearer credentials or wrong passwords gets 429 with
``Retry-After`` until its window has room again, whatever it sends meanwhile; the account
lockout (``kickoff.identity.accounts``) protects each account on top, across addresses.
The window is per API process: with N replicas a guesser gets at most N times the rate.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

FAILURES_PER_MINUTE = 10


def client_address(request: Request) -> str:
    """The peer's address (behind a proxy: what uvicorn's --proxy-headers made of it)."""
    return request.client.host if request.client else "unknown"


class FailureThrottle:
    def __init__(self, per_minute: int = FAILURES_PER_MINUTE) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._item = RateLimitItemPerMinute(per_minute)

    def retry_after(self, kind: str, client: str) -> int | None:
        """Seconds until ``client`` may try ``kind`` again, None when it may now."""
        if self._limiter.test(self._item, kind, client):
            return None
        reset = self._limiter.get_window_stats(self._item, kind, client).reset_time
        return max(1, math.ceil(reset - time.time()))

    def failed(self, kind: str, client: str) -> None:
        self._limiter.hit(self._item, kind, client)
