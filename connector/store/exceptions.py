"""Exceptions a person must see (issue 16, point 5): opened by the sync, listed and resolved by
`order-sync exceptions`, counted by `status`. Opening and resolving are audited.

A mixin of Store (connector.store.repository), which gives it `clock`, `session()` and `audit()`.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, update
from sqlmodel import func, select

from connector.store.journal import AUDIT_INSERT, FORGET_ACTION, keyset_page
from connector.store.tables import OrderException


class ExceptionBook:
    def open_exception(self, bc_order_id: int, kind: str, summary: str, *, before: Any = None,
                       after: Any = None) -> OrderException | None:
        """Open an exception; None when the same one (order, kind, summary) is open already, so an
        order read again each cycle is not reported over and over."""
        with self.session() as s:
            same = s.exec(select(OrderException).where(
                OrderException.pair == self.pair, OrderException.bc_order_id == bc_order_id, OrderException.kind == kind,
                OrderException.summary == summary, OrderException.resolved_at.is_(None))).first()
            if same is not None:
                return None
            row = OrderException(pair=self.pair, bc_order_id=bc_order_id, kind=kind, summary=summary, before=_json(before),
                                 after=_json(after), opened_at=self.clock.now())
            s.add(row)
            s.commit()
            s.refresh(row)
        self.audit(platform="connector", action="open_exception", bc_order_id=bc_order_id, target_id=str(row.id),
                   reason=summary, after=kind)
        return row

    def exceptions(self, *, open_only: bool = True, after: int | None = None,
                   limit: int | None = None) -> list[OrderException]:
        """The pair's exceptions by id; `after` and `limit`: a page of them (the console's), the
        first `limit` after exception `after`."""
        query = select(OrderException).where(OrderException.pair == self.pair)
        if open_only:
            query = query.where(OrderException.resolved_at.is_(None))
        with self.session() as s:
            return list(s.exec(keyset_page(query, OrderException.id, after, limit)))

    def open_exception_naming(self, bc_order_id: int, kind: str, invoice: str) -> bool:
        """Whether an open exception of this order and kind names sale `invoice` (not BC-100 in BC-100-2)."""
        named = _naming(invoice)
        with self.session() as s:
            return any(named.search(row.summary) for row in s.exec(select(OrderException).where(
                OrderException.pair == self.pair, OrderException.bc_order_id == bc_order_id,
                OrderException.kind == kind, OrderException.resolved_at.is_(None))))

    def count_open_exceptions(self) -> int:
        with self.session() as s:
            return int(s.exec(select(func.count()).select_from(OrderException)
                              .where(OrderException.pair == self.pair, OrderException.resolved_at.is_(None))).one())

    def pair_of_exception(self, exception_id: int) -> str | None:
        """The pair an exception belongs to, whichever pair this store is: exception ids are one
        series over every pair (`exceptions --resolve ID` finds its pair by it)."""
        with self.session() as s:
            row = s.get(OrderException, exception_id)
            return None if row is None else row.pair

    def resolve_exception(self, exception_id: int, *, by: str) -> OrderException | None:
        """Resolve an open exception; None when there is no such open exception."""
        with self.session() as s:
            row = s.get(OrderException, exception_id)
            if row is None or row.pair != self.pair or row.resolved_at is not None:
                return None
            row.resolved_at, row.resolved_by = self.clock.now(), by
            s.add(row)
            s.commit()
            s.refresh(row)
        # The order parked by the refusal this exception reports. One order-sync never writes ("mirror it
        # by hand"): resolved, it was, and no retry of it is due (else it stays parked, its lag grows for
        # ever). One a mapping table refused: resolved once the table is fixed, the order is tried again.
        if row.kind == "mapping":
            self.request_retry(row.bc_order_id, by=by, via=f"exception {row.id} resolved")
            forgot = None
        else:
            forgot = self.forget_parked_failure(row.bc_order_id, f"order {row.bc_order_id}: {row.summary}")
        if forgot is not None:
            self.audit(platform="connector", action=FORGET_ACTION, bc_order_id=row.bc_order_id,
                       target_id=str(row.id), reason=f"exception {row.id} resolved by {by}: the order is no longer"
                       " retried", before="parked", after=forgot.date_modified)
        self.audit(platform="connector", action="resolve_exception", bc_order_id=row.bc_order_id,
                   target_id=str(row.id), reason=f"resolved by {by}", before=row.kind, after="resolved")
        return row

    def resolve_mapping_exceptions(self, conn: Connection, bc_order_id: int, since: datetime) -> None:
        """The order a mapping table refused is mirrored now (the table was fixed), or one parked as the
        historical import's (go_live) that import-history mirrored: those exceptions opened since it
        first failed are over, resolved in the transaction that ends its
        failure, audited as a person's resolve is. Other kinds (an edit, totals, a settlement) still
        need a person, and so does a refund's refusal (named by its refund in `before`: it is not the
        order's). Not one a person resolved meanwhile: the UPDATE checks again."""
        table, by = OrderException.__table__, "order-sync: the order was mirrored"
        ended = conn.execute(update(table).where(
            table.c.pair == self.pair, table.c.bc_order_id == bc_order_id, table.c.kind.in_(MIRRORED_ENDS),
            table.c.before.is_(None), table.c.resolved_at.is_(None), table.c.opened_at >= since,
        ).values(resolved_at=self.clock.now(), resolved_by=by).returning(table.c.id, table.c.kind)).all()
        if not ended:
            return
        conn.execute(AUDIT_INSERT, [self._audit_values(
            platform="connector", action="resolve_exception", bc_order_id=bc_order_id, target_id=str(row.id),
            reason=f"resolved by {by}", before=row.kind, after="resolved") for row in ended])

    def end_settle_exceptions(self, bc_order_id: int, invoice: str, how: str) -> None:
        """resolve_settle_exceptions in a transaction of its own: sale `invoice` found `how` (settled,
        voided) by the recovery of a write whose answer was lost."""
        with self.db.begin() as conn:
            self.resolve_settle_exceptions(conn, bc_order_id, invoice, f"order-sync: sale {invoice} {how}")

    def resolve_settle_exceptions(self, conn: Connection, bc_order_id: int, invoice: str, by: str) -> None:
        """Sale `invoice`, on account, is paid or voided now: the open `settle` exceptions naming it
        (asking for its payment) are over, resolved in the transaction that records it, audited as a
        person's resolve is; left open, one would ask staff to take the payment a second time."""
        table, named = OrderException.__table__, _naming(invoice)
        open_ones = conn.execute(select(table.c.id, table.c.summary).where(
            table.c.pair == self.pair, table.c.bc_order_id == bc_order_id, table.c.kind == "settle",
            table.c.resolved_at.is_(None))).all()
        ids = [row.id for row in open_ones if named.search(row.summary)]
        if not ids:
            return
        conn.execute(update(table).where(table.c.id.in_(ids), table.c.resolved_at.is_(None))
                     .values(resolved_at=self.clock.now(), resolved_by=by))
        conn.execute(AUDIT_INSERT, [self._audit_values(
            platform="connector", action="resolve_exception", bc_order_id=bc_order_id, target_id=str(exception_id),
            reason=f"resolved by {by}", before="settle", after="resolved") for exception_id in ids])


# The exceptions whose order's refusal is over once the order is mirrored: a mapping table fixed; an
# order parked as the historical import's (go_live) that import-history mirrored.
MIRRORED_ENDS = ("mapping", "go_live")


def _naming(invoice: str) -> re.Pattern[str]:
    """A sale's invoice number as a word of a summary: BC-100, not the BC-100 in BC-100-2."""
    return re.compile(rf"(?<![\w-]){re.escape(invoice)}(?![\w-])")


def pair_of_exception(database_url: str, exception_id: int) -> str | None:
    """ExceptionBook.pair_of_exception, from the command line (which has no store open yet)."""
    from connector.store.repository import Store

    with contextlib.closing(Store.open(database_url)) as store:
        return store.pair_of_exception(exception_id)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)
