"""Which orders of an import are settled. Orders arrive by date_created and finish out of order; the
checkpoint is the creation date of the oldest order still in flight, else of the last order seen (a
resumed import re-reads from it inclusively, and the bindings skip what is done).
"""

from __future__ import annotations

import heapq
from datetime import datetime


class SettledFrontier:
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int]] = []
        self._in_flight: set[int] = set()
        self._last_seen: datetime | None = None

    def started(self, order_id: int, created: datetime) -> None:
        self._in_flight.add(order_id)
        heapq.heappush(self._heap, (created, order_id))
        if self._last_seen is None or created > self._last_seen:
            self._last_seen = created

    def settled(self, order_id: int) -> None:
        self._in_flight.discard(order_id)

    def checkpoint(self) -> datetime | None:
        while self._heap and self._heap[0][1] not in self._in_flight:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else self._last_seen

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)
