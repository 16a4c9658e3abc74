"""Time as a dependency: everything that waits or stamps asks a Clock, so tests run an hour of
rate-limit windows in milliseconds on a FakeClock. All datetimes are aware UTC. The system clock's
waits end early, raising connector.interrupts.Stopping, when a command is stopping (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol

from connector import interrupts


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""

    def now(self) -> datetime:
        """The current wall time, aware UTC."""

    async def sleep(self, seconds: float) -> None:
        """Wait (or, for a fake clock, advance) this many seconds."""


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            await interrupts.sleep(seconds)


class FakeClock:
    """A clock that only moves when someone sleeps on it (at once, yielding to the loop once) or
    calls advance(): a 30 s rate-limit wait ends at once, every timestamp stays consistent."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._elapsed = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self._elapsed += seconds

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


SYSTEM_CLOCK = SystemClock()


def read_until(ours: datetime, server_times: list[datetime], newest: datetime | None) -> datetime:
    """How far a listing read by changes (date_modified) vouches for: `ours`, the end our clock gave
    it, unless the server's clock, which stamps the changes, is behind: then its first answer's Date
    (changes made after it may not have been listed). A Date behind the very changes listed is not
    that clock (a proxy's, a front end's on another time): the `newest` change read vouches for itself
    up to there, so a skewed Date never holds back what the listing showed."""
    if not server_times:
        return ours
    return min(ours, server_times[0] if newest is None else max(server_times[0], newest))
