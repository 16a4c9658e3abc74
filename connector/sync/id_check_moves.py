"""A status move that order-sync's own ID verification made is not a payment.

An unpaid order (a bank transfer in Awaiting Payment) whose ID check passes is moved by order-sync
itself to the check's "passed" status (Awaiting Fulfillment by default), which says the payment was
confirmed: paid_since alone would settle its on-account sale with a payment that never came. The
ID check audits each status it writes (idv_written: before and after, status ids); the mirror audits
each status it records ("record"). The move is the ID check's when its latest write set the status
the order has now, the mirror has not seen the order elsewhere since, and the write started from the
status the mirror last saw or from one that says nothing of a payment.

So for a new order the check moved before the mirror first read it (Awaiting Payment → Manual
Verification Required → Awaiting Fulfillment within minutes): its first sale is written on account.
And so for the order's later sales: the one written when it re-opens after a void (Declined by a
failed check, then a retry passed), and the one an edit's resync writes again in place of a sale on
account. Each settle exception names the sale that is owed.
"""

from __future__ import annotations

import json

from connector.clients.bigcommerce_models import Order
from connector.idv.decision import AUDIT_PLATFORM, Outcome
from connector.mapping.identity import invoice_number
from connector.mapping.status_table import PosState, StatusTable
from connector.mapping.statuses import PAYMENT_CONFIRMED, status_name
from connector.store.repository import Store
from connector.store.tables import AuditEntry, OrderBinding
from connector.sync.transitions import on_account, paid_since, payment_confirmed

ID_CHECK_WROTE = Outcome.WRITTEN.audit_action
MIRROR_RECORDED = "record"  # OrderMirror._record's audit action: the status the mirror saw
PENDING = 1  # not paid yet either, though no sale is written in it
# The mirror's audits that say which status it saw the order in ("record"'s after, a sale write's
# detail): one newer than an ID-check write, of another status, says someone moved the order since.
MIRROR_SAW = (MIRROR_RECORDED, "create_sale", "void_sale")
RECORD_IT = ("record the payment in X-Series when it arrives, or mark the order's payment captured in BigCommerce"
             " (order-sync then settles it)")


def id_check_wrote(store: Store, enabled: bool, known: list[bool]) -> bool:
    """Whether order-sync's own ID check may have moved an order's status: it is on, or it wrote for the
    pair before it was switched off. `known` (the cycle's, one element at most): asked once a cycle."""
    if enabled:
        return True
    if not known:
        known.append(store.latest_action(AUDIT_PLATFORM, ID_CHECK_WROTE) is not None)
    return known[0]


def kept_on_account(order: Order, binding: OrderBinding, statuses: StatusTable, store: Store) -> str | None:
    """Why the on-account sale of an order paid_since takes for paid stays on account (the exception's
    summary), or None when it is settled. Asked only then: the audit is read in that rare case only."""
    if payment_confirmed(order, statuses):  # BigCommerce says paid, whoever moved the status
        return None
    written = store.latest_audit(order.id, AUDIT_PLATFORM, ID_CHECK_WROTE)
    if written is None:
        return None
    recorded = store.latest_audit(order.id, "connector", MIRROR_RECORDED)
    if not moved_by_id_check(order.status_id, binding.bc_status_id, written, recorded) \
            or seen_elsewhere_since(written, store, order.id):
        return None
    return (f"order-sync's ID check moved order #{order.id} to {status_name(order.status_id)} while its payment"
            f" was never confirmed, so sale {binding.invoice_number} stays on account; record the payment in"
            " X-Series when it arrives (or mark the order's payment captured in BigCommerce)")


def first_sale_on_account(order: Order, target: PosState, statuses: StatusTable, store: Store) -> str | None:
    """Why the order's first sale, which its status alone would write paid, is written on account (the
    exception's summary): order-sync's own ID check moved it there from an unpaid status and no payment
    was confirmed. None otherwise. The caller asks only when the ID check may have moved it
    (id_check_wrote) and no sale was written; the audit is read only for an order paid by its status
    alone (payment_status says nothing)."""
    if target is not PosState.CLOSED or statuses.is_unpaid(order.status_id, order.payment_status) \
            or payment_confirmed(order, statuses):
        return None
    return _moved_unpaid(order, statuses, store, invoice_number(order.id), "before its first sale was written")


def later_sale_on_account(order: Order, target: PosState, statuses: StatusTable, store: Store,
                          invoice: str) -> str | None:
    """Why the order's next sale after a void (`invoice`: re-opened, or an edit's resync retried) is
    written on account though its status alone would write it paid: order-sync's own ID check moved the
    order from an unpaid status (through the Declined of a failed check, its retry), and BigCommerce has
    confirmed no payment since. None otherwise. Rare: the audit is read."""
    if target is not PosState.CLOSED or statuses.is_unpaid(order.status_id, order.payment_status) \
            or payment_confirmed(order, statuses):
        return None
    # Only the ID check's own moves: a merchant restoring a cancelled transfer to a paid status when
    # the money came is the payment, as paid_since takes it.
    return _moved_unpaid(order, statuses, store, invoice, "before its sale was written again")


def resynced_on_account(order: Order, binding: OrderBinding, statuses: StatusTable, store: Store,
                        invoice: str) -> str | None:
    """Why the sale an edit's resync writes in place of the order's sale on account (`invoice`) stays
    on account though its status would write it paid (the exception's summary), or None when written
    as its status says: BigCommerce confirmed the payment, or the merchant's own move to a paid status
    is the payment (paid_since, not the ID check's: kept_on_account). An order still unpaid by its
    status is written on account anyway, with no exception."""
    if not on_account(binding) or statuses.is_unpaid(order.status_id, order.payment_status) \
            or payment_confirmed(order, statuses):
        return None
    if paid_since(order, binding, statuses) and kept_on_account(order, binding, statuses, store) is None:
        return None
    return (f"order #{order.id} was edited after its sale {binding.invoice_number} was written on account, and"
            f" its payment was never confirmed, so sale {invoice}, written again in its place, is on account;"
            f" {RECORD_IT}")


def _moved_unpaid(order: Order, statuses: StatusTable, store: Store, invoice: str, when: str) -> str | None:
    """Why sale `invoice` is on account when order-sync's own ID check moved the order to its status
    from an unpaid one (moved_unpaid_from); None when it did not."""
    writes = store.audit_chain(order.id, AUDIT_PLATFORM, ID_CHECK_WROTE)
    moved_from = moved_unpaid_from(order.status_id, writes, statuses.unpaid_status_ids)
    if moved_from is None or seen_elsewhere_since(writes[-1], store, order.id):
        return None
    return (f"order-sync's ID check moved order #{order.id} from {status_name(moved_from)} to"
            f" {status_name(order.status_id)} {when}; its payment was never confirmed, so sale {invoice} is on"
            f" account; {RECORD_IT}")


def seen_elsewhere_since(written: AuditEntry, store: Store, order_id: int) -> bool:
    """Whether the mirror saw the order in another status than the one the ID check's `written` move
    set, after it (a cancel's void, a restore's new sale in Awaiting Payment): the status the order has
    now is then someone else's move, not that write's. Its own recovery of a lost answer says nothing."""
    after, before = _status(written.after), _status(written.before)
    for entry in store.audit_since(order_id, written.id, MIRROR_SAW):
        saw = mirror_saw(entry)
        # A sale written from the copy read before the check's write (the two raced) is no move.
        if saw not in (None, after) and not (saw == before and entry.action != MIRROR_RECORDED):
            return True
    return False


def mirror_saw(entry: AuditEntry) -> int | None:
    """The order's status a MIRROR_SAW audit entry says the mirror saw; None when it does not say."""
    if entry.action == MIRROR_RECORDED:
        return _status(entry.after)
    try:
        return _status(str(json.loads(entry.detail or "{}").get("bc_status_id")))
    except (ValueError, AttributeError):
        return None


def moved_unpaid_from(status_id: int, writes: list[AuditEntry], unpaid_ids: frozenset[int]) -> int | None:
    """The unpaid status (`unpaid_ids`, or Pending) the ID check's writes (oldest first) moved the order
    from to `status_id`, one after the other (each from the status the one before set: nobody else
    moved it between them); None when its latest write did not set `status_id`, or the chain started
    elsewhere. Pure."""
    expected = status_id
    for written in reversed(writes):
        before, after = _status(written.before), _status(written.after)
        if after != expected or before is None:
            return None
        if before in unpaid_ids or before == PENDING:
            return before
        expected = before
    return None


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
