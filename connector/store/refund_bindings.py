"""Refund bindings: each BigCommerce refund mirrored once (connector.sync.refund_mirror).

A mixin of Store (connector.store.repository), which gives it `clock`, `session()` and `_audit_values`.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import and_, or_, select

from connector.store.journal import RETRY_ACTION
from connector.store.leases import RELEASE, LeaseHandle
from connector.store.tables import AuditEntry, OrderBinding, OrderException, RefundBinding

# The outcome of a refund a person asked to mirror again (request_refund_retry): due at the next
# refund pass, whatever its age.
RETRY = "retry"
# The outcome of a returned refund whose return's void was posted, not yet recorded (its answer
# lost, the process killed): due at the next refund pass, which reads the return (settle_void).
VOIDING = "voiding"
# Outcomes a person's retry reopens: a return X-Series refused for good, or one it cannot express.
HELD_FOR_A_PERSON = ("refused", "exception")


class RefundBook:
    def refund_binding(self, refund_id: int) -> RefundBinding | None:
        with self.session() as s:
            return s.get(RefundBinding, (self.pair, refund_id))

    def refund_bindings(self, bc_order_id: int | None = None) -> list[RefundBinding]:
        query = select(RefundBinding).where(RefundBinding.pair == self.pair).order_by(RefundBinding.refund_id)
        if bc_order_id is not None:
            query = query.where(RefundBinding.bc_order_id == bc_order_id)
        with self.session() as s:
            return list(s.exec(query))

    def save_refund_binding(self, binding: RefundBinding, *, audit: dict[str, Any] | None = None,
                            lease: LeaseHandle | None = None) -> RefundBinding:
        """Write the binding durably (a pending one before its return is sent); with `audit` and
        `lease`, its audit entry and the release of its lease in the same transaction."""
        binding.updated_at = self.clock.now()
        binding.pair = self.pair
        with self.session() as s:
            merged = s.merge(binding)
            if audit is not None:
                s.add(AuditEntry(**self._audit_values(**audit)))
            if lease is not None:
                s.connection().execute(RELEASE, {"key": lease.key, "owner": lease.owner})
            s.commit()
            s.refresh(merged)
        if lease is not None:
            lease.released = True
        return merged

    def refunds_due_again(self) -> list[RefundBinding]:
        """Refunds settled once that are to be mirrored now, whatever their age (the refund pass's
        window no longer reads them): reopened by a person (outcome retry), or recorded with no
        closed sale to return from whose order has one now — parked then retried, imported later,
        placed after sync.start_at but read first by import-history's refund pass, re-opened after
        a void. None of their units is returned twice: a refund changes no quantity or total of the
        BigCommerce order (bigcommerce-api.md §15: its lines only gain quantity_refunded and
        is_refunded, its refunded_amount stays 0), and the sale plan sells each line's `quantity`,
        so a sale written after the refund sold every unit, the refunded ones too."""
        closed = select(OrderBinding.bc_order_id).where(
            OrderBinding.pair == self.pair, OrderBinding.sale_id.is_not(None), OrderBinding.pos_state == "closed")
        query = select(RefundBinding).where(RefundBinding.pair == self.pair, or_(
            RefundBinding.outcome.in_((RETRY, VOIDING)),
            and_(RefundBinding.outcome == "recorded", RefundBinding.bc_order_id.in_(closed)),
        )).order_by(RefundBinding.refund_id)
        with self.session() as s:
            return list(s.exec(query))

    def refunds_held_for_a_person(self, outcomes: tuple[str, ...] = HELD_FOR_A_PERSON) -> list[RefundBinding]:
        """The refunds not returned that wait for a person (their exception still open): `status`
        lists them, and the refused ones make `sync` exit 1 as parked orders do."""
        with self.session() as s:
            return list(s.exec(self._held_query(None, outcomes)))

    def _held_query(self, bc_order_id: int | None, outcomes: tuple[str, ...]):
        # The refund's exception: opened with the refund's reason as its summary (RefundMirror);
        # a resolved one was handled (returned by hand, or not to be returned).
        still_open = select(OrderException.id).where(
            OrderException.pair == self.pair, OrderException.resolved_at.is_(None),
            OrderException.bc_order_id == RefundBinding.bc_order_id, OrderException.summary == RefundBinding.reason,
        ).exists()
        query = select(RefundBinding).where(RefundBinding.pair == self.pair,
                                            RefundBinding.outcome.in_(outcomes), still_open)
        if bc_order_id is not None:
            query = query.where(RefundBinding.bc_order_id == bc_order_id)
        return query.order_by(RefundBinding.refund_id)

    def request_refund_retry(self, bc_order_id: int | None, *, by: str, via: str) -> int:
        """A person's retry (`retry-failed`, the console's "retry now") of the refunds held for one
        (refused by X-Series, or not expressible): due again at the next refund pass, each audited
        with who asked. Only those whose exception is still open: a resolved one was handled (its
        return made by hand, or not to be made), and posting it again could return it twice.
        Returns how many."""
        with self.session() as s:
            due = list(s.exec(self._held_query(bc_order_id, HELD_FOR_A_PERSON)))
            for binding in due:
                binding.outcome, binding.updated_at = RETRY, self.clock.now()
                s.add(binding)
                s.add(AuditEntry(**self._audit_values(
                    platform="connector", action=RETRY_ACTION, bc_order_id=binding.bc_order_id,
                    target_id=by, reason=f"retry now, by {by} ({via}): refund {binding.refund_id} is posted"
                    " again at the next cycle")))
            s.commit()
        return len(due)
