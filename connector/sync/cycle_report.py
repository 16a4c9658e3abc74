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
    # Those of them BigCommerce answered unreadable: an exception for a person, no retry reads them.
    refunds_unreadable: set = field(default_factory=set)

    @property
    def seen(self) -> int:
        return sum(self.outcomes.values()) + len(self.failed)

    @property
    def written(self) -> int:
        written = (Outcome.CREATED, Outcome.VOIDED, Outcome.SETTLED, Outcome.RECOVERED)
        return sum(self.outcomes[o] for o in written) + self.refunds["returned"] + self.refunds["recovered"]

    @property
    def refunds_to_retry(self) -> dict[int, str]:
        """The failed refunds a later pass may still mirror (not those that do not parse)."""
        return {k: why for k, why in self.refunds_failed.items() if k not in self.refunds_unreadable}

    def summary(self) -> str:
        """The counts the daemon and the workers log per cycle; failed refunds named when there are
        any (they hold the refunds cursor and are retried next cycle, but must not pass unseen)."""
        text = f"{self.seen} seen, {self.written} written, {len(self.failed)} failed"
        if self.refunds_failed:
            text += f", {len(self.refunds_failed)} refund(s) failed (" + "; ".join(
                f"refund {refund_id}: {why}" for refund_id, why in sorted(self.refunds_failed.items(), key=lambda item: str(item[0]))) + ")"
        return text
