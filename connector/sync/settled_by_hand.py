"""A sale on account that staff closed in X-Series by hand is paid: order-sync writes nothing more.

The settle exception asks staff to record the payment in X-Series or to mark the order's payment
captured in BigCommerce; some do both. Re-posted with a second payment, a closed sale is refused
(X-Series changes a closed sale only to void it) and the order would be parked: the sale read
closed is bound as settled instead, and its settle exceptions are over.
"""

from __future__ import annotations

import logging

from connector.clients.bigcommerce_models import Order
from connector.clients.xseries_sale_models import RegisterSale
from connector.store.leases import LeaseHandle
from connector.store.repository import Store
from connector.store.tables import OrderBinding
from connector.sync.transitions import Outcome

log = logging.getLogger("connector.sync")
SETTLED_IN_XSERIES = "settled_in_xseries"


def closed_by_hand(status_code: str | None) -> bool:
    """Whether the sale read live is closed already (ONACCOUNT_CLOSED or CLOSED): its payment taken."""
    return bool(status_code) and status_code.endswith("CLOSED")


def bind_paid_by_hand(store: Store, lease: LeaseHandle | None, order: Order, binding: OrderBinding,
                      status_code: str) -> Outcome:
    """The binding (bound to the order's copy by the caller) records the sale closed as X-Series has
    it, audited; nothing is written to X-Series."""
    sent = RegisterSale.model_validate_json(binding.sale_body)
    binding.sale_body = sent.model_copy(update={"status": status_code, "state": "closed"}).to_json().decode()
    store.settle_order(binding, lease=lease, owed_over=(
        binding.invoice_number, f"order-sync: sale {binding.invoice_number} paid in X-Series by hand"), audit=dict(
        platform="connector", action=SETTLED_IN_XSERIES, bc_order_id=order.id, target_id=binding.sale_id,
        reason=f"BigCommerce order paid ({order.status}, payment_status {order.payment_status!r}); the sale"
               " was paid in X-Series by hand already: no second payment written",
        before="ONACCOUNT", after=status_code,
    ))
    log.info("order %s: sale %s paid in X-Series by hand (%s)", order.id, binding.invoice_number, status_code,
             extra={"order_id": order.id})
    return Outcome.SETTLED
