"""Refund bindings: each BigCommerce refund mirrored once (connector.sync.refund_mirror).

A mixin of Store (connector.store.repository), which gives it `clock`, `session()` and `_audit_values`.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from connector.store.leases import RELEASE, LeaseHandle
from connector.store.tables import AuditEntry, RefundBinding


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
