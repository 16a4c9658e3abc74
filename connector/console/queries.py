"""The store reads of the console that the commands do not already make: one order's failure,
exceptions and refunds held for a person, and finding an order by its invoice number. Each uses an
index of its table's key."""

from __future__ import annotations

import json
import re

from sqlmodel import select

from connector.mapping.identity import without_affixes
from connector.store.refund_bindings import HELD_FOR_A_PERSON
from connector.store.repository import Store
from connector.store.tables import AuditEntry, FailedOrder, OrderBinding, OrderException, RefundBinding

# BC-<order>, BC-<order>-<generation> and a return's BC-<order>-R<refund>: the order is in the number.
# At most 18 digits: a 64-bit integer, as the tables' ids are (more is no order of ours).
_INVOICE = re.compile(r"^BC-(\d{1,18})(?:-(?:\d+|R\d+))?$", re.IGNORECASE)


def failure_of(store: Store, bc_order_id: int) -> FailedOrder | None:
    with store.session() as s:
        return s.get(FailedOrder, (store.pair, bc_order_id))


def exceptions_of(store: Store, bc_order_id: int) -> list[OrderException]:
    with store.session() as s:
        return list(s.exec(select(OrderException).where(OrderException.pair == store.pair,
                                                        OrderException.bc_order_id == bc_order_id)
                           .order_by(OrderException.id.desc())))


def held_refunds_of(store: Store, bc_order_ids: list[int]) -> list[RefundBinding]:
    """The refunds of these orders held for a person (their return refused for good, or not
    expressible; their exception still open): what "retry" posts again, as `retry-failed --order`."""
    if not bc_order_ids:
        return []
    with store.session() as s:
        return list(s.exec(store._held_query(None, HELD_FOR_A_PERSON)
                           .where(RefundBinding.bc_order_id.in_(set(bc_order_ids)))))


def exceptions_with_held_refund(store: Store, after: int | None, limit: int) -> list[tuple[OrderException, bool]]:
    """A page of open exceptions, each with whether it is the exception of a refund held for a person
    (its order then has a "retry" as well as "resolve": resolving it means the return is never posted)."""
    rows = store.exceptions(after=after, limit=limit)
    # A held refund's exception has the refund's reason as its summary (RefundBook._held_query).
    held = {(b.bc_order_id, b.reason) for b in held_refunds_of(store, [x.bc_order_id for x in rows])}
    return [(x, (x.bc_order_id, x.summary) in held) for x in rows]


def order_by_invoice(store: Store, invoice: str, affixes: tuple[str, str] = ("", "")) -> int | None:
    """The order of this invoice number: read from the number when it is one of ours, else looked up
    among the pair's sales and returns, and the numbers X-Series gave sales itself. `affixes`: the
    register's invoice prefix and suffix, which a server may put around the number order-sync gives
    (§8.2): X-Series then shows OS-BC-123."""
    text = invoice.strip()
    # Typed as seen in the POS, in any case (the BC- part is matched without case too).
    match = _INVOICE.match(without_affixes(text, affixes)) or _INVOICE.match(text)
    if match:
        return int(match.group(1))
    with store.session() as s:
        for model in (OrderBinding, RefundBinding):
            found = s.exec(select(model.bc_order_id).where(model.pair == store.pair,
                                                           model.invoice_number == text)).first()
            if found is not None:
                return found
        # A server that numbers sales itself shows its own number, not ours (the binding keeps ours,
        # to look a lost write up by): the sale's audit entry keeps it, as its detail's JSON has it
        # (SaleAnswers._numbered_itself). The newest such sale; read by the audit's action index.
        answered = f'"answered_invoice_number": {json.dumps(text)}'
        return s.exec(select(AuditEntry.bc_order_id).where(
            AuditEntry.pair == store.pair, AuditEntry.platform == "xseries", AuditEntry.action == "create_sale",
            AuditEntry.detail.icontains(answered, autoescape=True)).order_by(AuditEntry.id.desc())).first()


def known_order(store: Store, bc_order_id: int) -> bool:
    """Whether the pair has any record of the order: a binding, a failure or an audit entry."""
    if store.order_binding(bc_order_id) is not None or failure_of(store, bc_order_id) is not None:
        return True
    return bool(store.audit_entries(bc_order_id, limit=1))
