"""What one sync cycle did: its window, each order's outcome, the failures and the refunds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from connector.sync.transitions import Outcome


@dataclass
class CycleReport:
    window_start: datetime | None = None
    window_end: datetime | None = None
    outcomes: Counter = field(default_factory=Counter)
    failed: dict[int, str] = field(default_factory=dict)
    completed: bool = False
    refunds: Counter = field(default_factory=Counter)  # outcome → refunds (connector.sync.refund_mirror)
    refunds_failed: dict[int, str] = field(default_factory=dict)  # refund id → why; retried next cycle

    @property
    def seen(self) -> int:
        return sum(self.outcomes.values()) + len(self.failed)

    @property
    def written(self) -> int:
        written = (Outcome.CREATED, Outcome.VOIDED, Outcome.SETTLED, Outcome.RECOVERED)
        return sum(self.outcomes[o] for o in written) + self.refunds["returned"] + self.refunds["recovered"]
