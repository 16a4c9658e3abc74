"""The returns of a sale voided with it: a cancelled order gives back what it kept, once.

Voiding a sale puts all its lines back into stock and deletes all its payments (xseries-api.md
§8.1, §11). Units a return already put back, and money it already paid out, would be given back a
second time if the return stayed: so each return written against the sale is voided first (its
units leave stock again, its refund payment is deleted), and its refund is recorded as not
returned, so that a sale the order gets later (re-opened) takes it as a return again
(RefundBook.refunds_due_again), under a number of its own.
"""

from __future__ import annotations

import logging

from connector.clients.xseries_sale_models import RegisterSale, WrittenSale
from connector.errors import OrderSyncError, PermanentApiError, TransientApiError
from connector.logs import redact
from connector.mapping.return_plan import return_invoice_number
from connector.store.refund_bindings import VOIDING
from connector.store.tables import RefundBinding
from connector.sync.mirror_deps import MirrorDeps
from connector.sync.pending import read_by_id, voided_already

log = logging.getLogger("connector.sync")


async def void_returns(d: MirrorDeps, order_id: int) -> None:
    """Void every return written against the order's sale, before the sale itself is voided: a
    failure leaves the sale as it was and the order's void is tried again, which voids only the
    returns not voided yet (each refund binding is recorded as soon as its return is voided)."""
    refunds = d.store.refund_bindings(order_id)
    for refund in refunds:
        if refund.pending:
            # Its return's answer was lost and the refund pass has not found out yet whether it
            # landed: voided now, the sale would leave that return standing (given back twice), or
            # the refund pass would bind it against the voided sale. The void waits for it — before
            # any other return is voided, or the refund pass returns those again against the
            # standing sale, to be voided again next cycle, and so on each cycle.
            raise OrderSyncError(f"refund {refund.refund_id}: its return {refund.invoice_number} is not settled"
                                 " yet (its write got no answer); the sale is voided once it is")
    for refund in refunds:
        if refund.outcome not in ("returned", VOIDING) or refund.return_sale_id is None:
            continue
        async with d.store.leases.hold(f"refund:{refund.refund_id}") as lease:
            binding = d.store.refund_binding(refund.refund_id)
            if binding is None or binding.outcome not in ("returned", VOIDING) or binding.return_sale_id is None:
                continue  # settled otherwise meanwhile (the lease is released on leaving)
            if not binding.return_body:
                # Its sent body was not kept (a return bound by an older order-sync): X-Series has
                # its lines' ids, we do not.
                why = (f"refund {binding.refund_id}: its return {binding.invoice_number} was not voided with the"
                       " cancelled order's sale (order-sync has no record of the return's lines); void it in"
                       " X-Series by hand, or its units and money are given back twice")
                log.error("order %s: %s", order_id, why, extra={"order_id": order_id})
                d.store.open_exception(order_id, "refund", why)
                continue
            # Marked first: a void that lands unrecorded (its answer lost, the process killed), then
            # the order re-opened, would leave the refund "returned" by a voided return (settle_void).
            binding.outcome = VOIDING
            d.store.save_refund_binding(binding)
            try:
                await _void_return(d, order_id, binding, lease)
            except PermanentApiError as exc:
                if not _for_a_voided_sale(d, order_id, binding):
                    raise
                # Left standing on a sale voided before (an older order-sync's resync): X-Series may
                # refuse to change it now. A person voids it; the order's void goes on. The API's answer
                # is quoted: masked, as a refused return's is (a proxy may echo our token in it).
                why = redact(f"refund {binding.refund_id}: its return {binding.invoice_number} stands against a sale"
                             f" voided before, and X-Series refused its void ({exc}); void it in X-Series by hand, or"
                             " its units and money are given back twice")
                log.error("order %s: %s", order_id, why, extra={"order_id": order_id})
                d.store.open_exception(order_id, "refund", why)
                binding.outcome = "returned"  # refused: the return stands
                d.store.save_refund_binding(binding)
                continue
            _voided(d, binding, lease)


async def settle_void(d: MirrorDeps, binding: RefundBinding, lease) -> bool:
    """A return's void left unrecorded (VOIDING), found by the refund pass: whether it landed, told
    by the return read by its id. Landed, the refund is recorded as not returned (returned again
    against a live sale); not, it stays returned (and the lease is released)."""
    sale, unread = await read_by_id(d.xs, binding.return_sale_id)
    if sale is None:
        raise TransientApiError(f"refund {binding.refund_id}: whether the void of its return {binding.invoice_number}"
                                f" landed is not told by reading it ({unread}); looked at again",
                                api="xseries", method="GET", path="/api/register_sales")
    if sale.status_code == "VOIDED":
        _voided(d, binding, None)
        return True
    binding.outcome = "returned"
    d.store.save_refund_binding(binding, lease=lease, audit=dict(
        platform="connector", action="recover_void", bc_order_id=binding.bc_order_id, target_id=sale.id,
        reason=f"refund {binding.refund_id}: the void of its return had no answer; the return stands"))
    return False


def _voided(d: MirrorDeps, binding: RefundBinding, lease) -> None:
    voided, order_id = binding.invoice_number, binding.bc_order_id
    binding.outcome, binding.return_sale_id, binding.return_body = "recorded", None, None
    binding.invoice_number = _next_number(binding)
    binding.reason = (f"refund {binding.refund_id}: its return {voided} was voided with the order's sale;"
                      f" returned again (as {binding.invoice_number}) if the order gets a closed sale later")
    d.store.save_refund_binding(binding, lease=lease, audit=dict(
        platform="xseries", action="void_return", bc_order_id=order_id, target_id=str(binding.refund_id),
        reason=binding.reason, before="CLOSED", after="VOIDED"))
    log.info("order %s: return %s voided with the order's sale", order_id, voided, extra={"order_id": order_id})


async def _void_return(d: MirrorDeps, order_id: int, binding: RefundBinding, lease) -> None:
    """Re-post the return whole as VOIDED, as a sale is voided (SaleWrites._void): the same final
    state when repeated, so a lost answer is posted again; a server that lets no voided sale change
    refuses that second one although the first landed, so the return found voided is the void done."""
    body = RegisterSale.model_validate_json(binding.return_body)
    voided = body.model_copy(update={
        "id": binding.return_sale_id, "status": "VOIDED", "state": "voided",
        "register_sale_attributes": [], "register_sale_payments": [],
    })
    try:
        await d.xs.update_sale(voided, encoded=voided.to_json(), answer=WrittenSale,
                               before_send=d.store.leases.before_send(lease, d.lease_margin))
    except PermanentApiError as exc:
        await voided_already(d.xs, binding.return_sale_id, exc, f"return {binding.invoice_number}")
        log.info("order %s: X-Series refused the void of return %s (%s), which is voided already", order_id,
                 binding.return_sale_id, exc, extra={"order_id": order_id})


def _for_a_voided_sale(d: MirrorDeps, order_id: int, binding: RefundBinding) -> bool:
    """The return names a sale of the order other than its current one (voided: a sale is only ever
    replaced after its void)."""
    return_for = (RegisterSale.model_validate_json(binding.return_body).model_extra or {}).get("return_for")
    sale = d.store.order_binding(order_id)
    return return_for is not None and sale is not None and return_for != sale.sale_id


def _next_number(binding: RefundBinding) -> str:
    """BC-<order>-R<refund>-2, -3, …: the voided return keeps its number, and a number found after a
    lost answer must be the new return's alone."""
    first = return_invoice_number(binding.bc_order_id, binding.refund_id)
    if binding.invoice_number == first:
        return f"{first}-2"
    return f"{first}-{int(binding.invoice_number.rsplit('-', 1)[1]) + 1}"
