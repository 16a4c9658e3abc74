"""How fast and how often a request goes: pacing within an API's quota, and jittered backoff.

The transport (transport.py) asks its API's RatePacer before each request and tells it every
answer; each API's own pacer (bigcommerce_pacer.py, xseries_pacer.py) reads that API's headers.
RetryPolicy says how long to wait before a retry; which requests may be retried is the transport's.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connector.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from connector.clients.api_response import ApiResponse

log = logging.getLogger("connector.http")

# A wait this long (start-up or a cycle standing still on the quota) is told once at INFO; the
# shorter ones, a low quota's ordinary spreading of requests, only at DEBUG.
NOTICEABLE_WAIT_SECONDS = 1.0


class RatePacer:
    """Per-API pacing from the API's own rate-limit headers: the base of both APIs' pacers
    (bigcommerce_pacer.py, xseries_pacer.py); by itself it lets every request go at once.

    Callers take turns through a lock, and one that has to wait holds it, so nobody overtakes it.
    Requests sent and not answered yet count against the quota. The transport reports every answer
    but not the requests that got none (timeouts, lost connections): such a request stops counting
    after `in_flight_expiry` seconds, so it cannot shrink the estimated quota for ever.
    """

    api = ""
    min_wait = 0.0  # waits up to this long are not waited

    def __init__(self, clock: Clock = SYSTEM_CLOCK, in_flight_expiry: float = 120.0) -> None:
        self.clock = clock
        self.in_flight_expiry = in_flight_expiry
        self._lock = asyncio.Lock()
        self._in_flight: deque[float] = deque()  # monotonic send times, oldest first
        self._last_sent: float | None = None

    @property
    def in_flight(self) -> int:
        self._expire_in_flight(self.clock.monotonic())
        return len(self._in_flight)

    async def before_request(self) -> None:
        """Wait, if needed, so that the next request does not spend a quota that is gone."""
        async with self._lock:
            told = False
            while (wait := self._wait_needed()) > self.min_wait:
                if wait >= NOTICEABLE_WAIT_SECONDS and not told:
                    log.info("%s quota: waiting %.0f s before the next request", self.api, wait)
                    told = True
                else:
                    log.debug("%s quota: waiting %.2fs before the next request", self.api, wait)
                await self.clock.sleep(wait)
            self._last_sent = self.clock.monotonic()
            self._in_flight.append(self._last_sent)

    def after_response(self, response: ApiResponse) -> None:
        """Learn the quota's state from a response's headers (here: one request less in flight)."""
        if self._in_flight:
            self._in_flight.popleft()

    def not_sent(self) -> None:
        """A request granted its turn was not sent after all: it no longer counts as in flight."""
        if self._in_flight:
            self._in_flight.pop()

    def on_rate_limited(self, response: ApiResponse) -> float | None:
        """A 429 arrived: block every caller until the reset; return the wait in seconds, or None
        when the response says nothing (platform load: the caller backs off exponentially)."""
        return None

    def _wait_needed(self) -> float:
        """Seconds to wait before the next request may go out (0: go now)."""
        return 0.0

    def _expire_in_flight(self, now: float) -> None:
        while self._in_flight and now - self._in_flight[0] > self.in_flight_expiry:
            self._in_flight.popleft()


@dataclass
class RetryPolicy:
    """Jittered ("equal jitter": between half the ceiling and the ceiling) exponential backoff.
    Seeded, so tests are deterministic."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # 429s are waited out from the headers rather than guessed; allow more of them.
    max_rate_limit_waits: int = 20
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def backoff(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return self._rng.uniform(ceiling / 2, ceiling)
