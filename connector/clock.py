"""Time as a dependency.

Everything that waits (rate-limit pacing, retries, scheduler) or stamps (simulators, audit) asks a
Clock, so tests can run an hour of rate-limit windows in milliseconds with a FakeClock instead of
sleeping. All datetimes are timezone-aware UTC.

The system clock's waits end early when a command is stopping (Ctrl-C, SIGTERM): they raise
connector.interrupts.Stopping, so a stop never waits out a quota (see connector.interrupts).
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
    """A clock that only moves when someone sleeps on it or calls advance().

    Sleeping advances time immediately (and yields to the event loop once), so a client that waits
    30 s for a rate-limit reset finishes at once while every timestamp stays consistent.
    """

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
