"""A status move that order-sync's own ID verification made is not a payment.

An unpaid order (a bank transfer in Awaiting Payment) whose ID check passes is moved by order-sync
itself to the check's "passed" status (Awaiting Fulfillment by default), which says the payment was
confirmed: paid_since alone would settle its on-account sale with a payment that never came. The
ID check audits each status it writes (idv_written: before and after, status ids); the mirror audits
each status it records ("record"). The move is the ID check's when its latest write set the status
the order has now, the mirror has not seen the order elsewhere since, and the write started from the
status the mirror last saw or from one that says nothing of a payment.
"""

from __future__ import annotations

from connector.clients.bigcommerce_models import Order
from connector.idv.decision import AUDIT_PLATFORM, Outcome
from connector.mapping.status_table import StatusTable
from connector.mapping.statuses import PAYMENT_CONFIRMED, status_name
from connector.store.repository import Store
from connector.store.tables import AuditEntry, OrderBinding
from connector.sync.transitions import payment_confirmed

ID_CHECK_WROTE = Outcome.WRITTEN.audit_action
MIRROR_RECORDED = "record"  # OrderMirror._record's audit action: the status the mirror saw


def kept_on_account(order: Order, binding: OrderBinding, statuses: StatusTable, store: Store) -> str | None:
    """Why the on-account sale of an order paid_since takes for paid stays on account (the exception's
    summary), or None when it is settled. Asked only then: the audit is read in that rare case only."""
    if payment_confirmed(order, statuses):  # BigCommerce says paid, whoever moved the status
        return None
    written = store.latest_audit(order.id, AUDIT_PLATFORM, ID_CHECK_WROTE)
    if written is None:
        return None
    recorded = store.latest_audit(order.id, "connector", MIRROR_RECORDED)
    if not moved_by_id_check(order.status_id, binding.bc_status_id, written, recorded):
        return None
    return (f"order-sync's ID check moved order #{order.id} to {status_name(order.status_id)} while its payment"
            f" was never confirmed, so sale {binding.invoice_number} stays on account; record the payment in"
            " X-Series when it arrives (or mark the order's payment captured in BigCommerce)")


def moved_by_id_check(status_id: int, last_seen: int, written: AuditEntry, recorded: AuditEntry | None) -> bool:
    """Whether the order's move from `last_seen` (the mirror's binding) to `status_id` is the ID check's
    latest `written` move. Not when the mirror recorded another status after it (the merchant moved the
    order back and forth since), nor when it started from a status that says paid the mirror never saw
    (someone confirmed the payment before the ID check moved it on). Pure."""
    before, after = _status(written.before), _status(written.after)
    if after != status_id:
        return False
    if recorded is not None and recorded.id > written.id and _status(recorded.after) != after:
        return False
    return before == last_seen or (before is not None and before not in PAYMENT_CONFIRMED)


def _status(value: str | None) -> int | None:
    """A status id as the audit log keeps it (text)."""
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
