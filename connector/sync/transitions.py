"""What a change of an order calls for in X-Series: the status table's transition rules after the
sale (issue 16, points 2 and 3), and the outcomes a mirror reports. Pure."""

from __future__ import annotations

import enum
import json

from connector.clients.bigcommerce_models import Order
from connector.mapping.status_table import PosState, StatusTable
from connector.mapping.identity import invoice_number
from connector.mapping.statuses import PAYMENT_CONFIRMED, PRE_SHIPMENT, status_name
from connector.store.tables import OrderBinding


class Outcome(str, enum.Enum):
    UP_TO_DATE = "up_to_date"  # nothing changed since the last mirror
    RECORDED = "recorded"  # a change that needs no POS write, recorded
    SKIPPED = "skipped"  # placed before go-live and never mirrored: the historical import's (go_live)
    CREATED = "created"  # a sale was created (closed, on account or voided)
    VOIDED = "voided"  # an existing sale was voided
    SETTLED = "settled"  # an on-account sale got its payments and was closed (ONACCOUNT_CLOSED)
    RECOVERED = "recovered"  # a sale whose write answer was lost was found and bound


class Transition(str, enum.Enum):
    NONE = "none"
    CREATE = "create"
    VOID = "void"
    REOPEN = "reopen"  # the sale was voided and the order is closed again: a new sale


def decide(current: PosState, has_sale: bool, target: PosState, status_id: int) -> tuple[Transition, str]:
    """The POS write a status change calls for, and why (the status table's transition rules)."""
    if not has_sale:
        if target is PosState.NOT_IMPORTED:
            return Transition.NONE, "not imported yet"
        return Transition.CREATE, f"order reached a {target.value} status"
    if current is PosState.VOIDED:
        if target is PosState.CLOSED and status_id in PRE_SHIPMENT:
            # E.g. Declined by a failed ID check, then a new check passed: the goods will ship,
            # so stock must leave again. The voided sale stays as it is; a new sale is created.
            return Transition.REOPEN, ("order re-opened after its sale was voided; a voided sale is never"
                                       " changed again, so a new sale is created")
        if target is PosState.CLOSED:
            return Transition.NONE, (f"the sale is voided and {status_name(status_id)} does not re-open the"
                                     " order (only a pre-shipment status does); a voided sale is never changed again")
        return Transition.NONE, "the sale is voided; a voided sale is never changed again"
    if target is PosState.VOIDED:
        return Transition.VOID, "order cancelled or declined after its sale was closed"
    if target is PosState.NOT_IMPORTED:
        return Transition.NONE, "order went back to a not-imported status; a closed sale may only be voided"
    if status_id in (4, 14):
        return Transition.NONE, ("change within the closed state: a refund is mirrored as a return from"
                                 " BigCommerce's refund object, never from the status alone")
    return Transition.NONE, "change within the closed state"


# pending_state of a void that an edit's resync sends (sync.on_edit: resync): the next generation follows.
RESYNC_VOID = "voided-for-resync"


def next_generation_of(binding: OrderBinding) -> None:
    """The binding moved on to the order's next sale (BC-<id>-<n>): none written yet."""
    binding.generation += 1
    binding.invoice_number = invoice_number(binding.bc_order_id, binding.generation)
    binding.sale_id, binding.sale_body, binding.content_hash = None, None, ""
    binding.pos_state = PosState.NOT_IMPORTED.value


_PAID = frozenset({"captured", "paid"})
_REFUNDED = frozenset({"refunded", "partially refunded"})


def refunded(order: Order) -> bool:
    """Whether the order is Refunded or Partially Refunded (by status or payment status): no sign
    it was paid, since a refund of what store credit paid, or a move by hand, leaves it so unpaid."""
    return order.status_id in (4, 14) or (order.payment_status or "").strip().casefold() in _REFUNDED


def paid_since(order: Order, binding: OrderBinding, statuses: StatusTable) -> bool:
    """Whether an order whose sale is on account is paid now (issue 16, point 2): its payment was
    captured, or it reached a status that says the payment was confirmed (PAYMENT_CONFIRMED) from an
    unpaid one (Awaiting Payment) — a merchant marking a bank transfer received moves the status and
    may leave payment_status as it was (pending, or declined: the card that failed first)."""
    if refunded(order):
        return False
    if payment_confirmed(order, statuses):
        return True
    # The sale is on account: the order was unpaid when written. Reaching a status that says paid from
    # one that does not (Awaiting Payment, Pending, or an ID check's Manual Verification Required on
    # the way: order-sync's own ID verification moves an unpaid order there too) is the payment;
    # back to Pending, or into Manual Verification Required or Disputed, alone is not. A move that
    # order-sync's own ID check made says nothing of a payment either: the mirror asks id_check_moves.
    before, now = binding.bc_status_id, order.status_id
    return (now in PAYMENT_CONFIRMED and before not in PAYMENT_CONFIRMED
            and now not in statuses.unpaid_status_ids and statuses.pos_state(now) is PosState.CLOSED)


def payment_confirmed(order: Order, statuses: StatusTable) -> bool:
    """Whether BigCommerce's payment status says the order is paid, whatever moved its status: captured
    or paid, or any other a new order's sale takes as paid (`authorized`…) with the order in a closed
    status not unpaid (the sale as it would be written now is paid: sale_plan's `unpaid`)."""
    payment = (order.payment_status or "").strip().casefold()
    if payment in _PAID:
        return True
    return bool(payment) and not statuses.is_unpaid(order.status_id, payment) \
        and statuses.pos_state(order.status_id) is PosState.CLOSED


def on_account(binding: OrderBinding) -> bool:
    """Whether the sale as last written is on account (ONACCOUNT: the balance is still owed)."""
    return bool(binding.sale_body) and json.loads(binding.sale_body).get("status") == "ONACCOUNT"


def up_to_date(binding: OrderBinding | None, content_hash: str) -> bool:
    return binding is not None and binding.pending_state is None and binding.content_hash == content_hash
