"""The status writer with Order Protection: read, decide, read again, write only if still allowed.

BigCommerce V2 has no conditional PUT (reference §6), so the guard is a fresh read right before the
write; if the status changed since the decision, the decision is made again on what is there now.
A PUT may wait seconds or more before it goes out: for the store's quota (shared with other apps)
and, when it has to be sent again (429, 5xx, no answer), for the retry. So the guard read runs
inside the transport after those waits (before_send), right before each attempt, the first
included; a changed status ends the PUT and is decided again. Only the round trip between the
read and its PUT remains, which no client of this API can close.
An order archived (is_deleted) at any of these reads is left alone as a protected one is: the
merchant removed it, as the order mirror treats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol

from connector.idv.decision import INCOMPLETE, Outcome, plan_for
from connector.idv.rules import Rules


class HasStatus(Protocol):
    status_id: int
    archived: bool


class OrderStatusPort(Protocol):
    """The two calls the writer needs; BigCommerceClient has them, and so do the test fakes."""

    async def get_order_status(self, order_id: int) -> HasStatus: ...

    async def update_order_status(self, order_id: int, status_id: int, *,
                                  before_send: Callable[[], Awaitable[None]] | None = None) -> HasStatus: ...


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
        try:
            return await self._apply(order_id, target)
        except _Archived as exc:
            if exc.put_on is not None and exc.status_id == target:  # the PUT took unanswered, then the archive
                return WriteResult(Outcome.WRITTEN, before=exc.put_on, after=target, reason=(
                    f"{self.rules.describe(exc.put_on)} → {self.rules.describe(target)} (the write had no answer;"
                    " read again, the order had it, and was archived since)"))
            return WriteResult(Outcome.SKIPPED_PROTECTED, before=exc.status_id, after=exc.status_id, reason=(
                f"archived in BigCommerce: left alone (would have set {self.rules.describe(target)})"))

    async def _apply(self, order_id: int, target: int) -> WriteResult:
        decided_on = await _read_status(self.bc, order_id)
        plan = plan_for(target, decided_on, self.rules)
        if plan is not Outcome.WRITTEN:
            return self._not_written(plan, decided_on, target, "")
        # Read again right before the write (the watch below): the status may have moved since.
        current = decided_on
        resent = False  # a PUT was sent again: an earlier one may have taken effect unanswered
        while True:
            note = ""
            if current != decided_on:
                note = (f"status changed from {self.rules.describe(decided_on)} to "
                        f"{self.rules.describe(current)} since the decision; decided again: ")
                plan = plan_for(target, current, self.rules)
                if plan is Outcome.UNCHANGED and resent:
                    return WriteResult(Outcome.WRITTEN, before=decided_on, after=current, reason=(
                        f"{self.rules.describe(decided_on)} → {self.rules.describe(target)} (the write had to be "
                        "sent again; read first, the order had it already)"))
                if plan is not Outcome.WRITTEN:
                    return self._not_written(plan, current, target, note)
            moved = _StatusWatch(self.bc, order_id, current)
            try:
                updated = await self.bc.update_order_status(order_id, target, before_send=moved.check)
            except _StatusMoved as exc:
                decided_on, current, resent = current, exc.status_id, resent or exc.after_a_put
                continue
            return WriteResult(
                Outcome.WRITTEN, before=current, after=updated.status_id,
                reason=f"{note}{self.rules.describe(current)} → {self.rules.describe(target)}",
            )

    def _not_written(self, outcome: Outcome, current: int, target: int, note: str) -> WriteResult:
        if outcome is Outcome.SKIPPED_PROTECTED and current == INCOMPLETE:
            reason = (f"{note}Incomplete (an abandoned checkout, never paid): ID verification never moves it "
                      f"(would have set {self.rules.describe(target)})")
        elif outcome is Outcome.SKIPPED_PROTECTED:
            reason = (f"{note}current status {self.rules.describe(current)} is protected "
                      f"(would have set {self.rules.describe(target)})")
        else:
            reason = f"{note}already {self.rules.describe(target)}; nothing sent"
        return WriteResult(outcome, before=current, after=current, reason=reason)


async def _read_status(bc: OrderStatusPort, order_id: int, put_on: int | None = None) -> int:
    """The order's status; _Archived if archived. put_on: the status a PUT already sent was decided on."""
    read = await bc.get_order_status(order_id)
    if read.archived:
        raise _Archived(read.status_id, put_on)
    return read.status_id


class _Archived(Exception):
    def __init__(self, status_id: int, put_on: int | None) -> None:
        super().__init__("the order is archived")
        self.status_id, self.put_on = status_id, put_on


class _StatusMoved(Exception):
    def __init__(self, status_id: int, after_a_put: bool) -> None:
        super().__init__(f"the order's status is now {status_id}")
        # after_a_put: a PUT of this write went out before and may have been applied unanswered.
        self.status_id, self.after_a_put = status_id, after_a_put


@dataclass
class _StatusWatch:
    """Run right before each attempt of a PUT goes out: the order read once more; a status other
    than the one the write was decided on stops the PUT (_StatusMoved) and the writer decides again."""

    bc: OrderStatusPort
    order_id: int
    decided_on: int
    attempts: int = 0  # PUTs of this write sent so far

    async def check(self) -> None:
        sent = self.attempts > 0
        now = await _read_status(self.bc, self.order_id, put_on=self.decided_on if sent else None)
        if now != self.decided_on:
            raise _StatusMoved(now, after_a_put=sent)
        self.attempts += 1
