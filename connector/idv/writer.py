"""The status writer with Order Protection: read, decide, read again, write only if still allowed.

BigCommerce V2 has no conditional PUT (reference §6), so the guard is a fresh read right before the
write; if the status changed since the decision, the decision is made again on what is there now.
Only the window between that read and the PUT remains, which no client of this API can close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from connector.idv.decision import Outcome, plan_for
from connector.idv.rules import Rules


class HasStatus(Protocol):
    status_id: int


class OrderStatusPort(Protocol):
    """The two calls the writer needs; BigCommerceClient has them, and so do the test fakes."""

    async def get_order_status(self, order_id: int) -> HasStatus: ...

    async def update_order_status(self, order_id: int, status_id: int) -> HasStatus: ...


@dataclass(frozen=True)
class WriteResult:
    outcome: Outcome  # WRITTEN, SKIPPED_PROTECTED or UNCHANGED
    before: int
    after: int
    reason: str


class ProtectedStatusWriter:
    def __init__(self, bc: OrderStatusPort, rules: Rules) -> None:
        self.bc = bc
        self.rules = rules

    async def apply(self, order_id: int, target: int) -> WriteResult:
        decided_on = (await self.bc.get_order_status(order_id)).status_id
        plan = plan_for(target, decided_on, self.rules)
        if plan is not Outcome.WRITTEN:
            return self._not_written(plan, decided_on, target, "")
        # Read again right before the write: the status may have moved since the decision.
        current = (await self.bc.get_order_status(order_id)).status_id
        note = ""
        if current != decided_on:
            note = (f"status changed from {self.rules.describe(decided_on)} to "
                    f"{self.rules.describe(current)} since the decision; decided again: ")
            plan = plan_for(target, current, self.rules)
            if plan is not Outcome.WRITTEN:
                return self._not_written(plan, current, target, note)
        updated = await self.bc.update_order_status(order_id, target)
        return WriteResult(
            Outcome.WRITTEN, before=current, after=updated.status_id,
            reason=f"{note}{self.rules.describe(current)} → {self.rules.describe(target)}",
        )

    def _not_written(self, outcome: Outcome, current: int, target: int, note: str) -> WriteResult:
        if outcome is Outcome.SKIPPED_PROTECTED:
            reason = (f"{note}current status {self.rules.describe(current)} is protected "
                      f"(would have set {self.rules.describe(target)})")
        else:
            reason = f"{note}already {self.rules.describe(target)}; nothing sent"
        return WriteResult(outcome, before=current, after=current, reason=reason)
