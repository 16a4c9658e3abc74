"""What an answer to a sale write says beyond the sale: a number X-Series gave the sale itself, or
another sale than ours answered to a re-post. A mixin of SaleWrites (`d`, `step`)."""

from __future__ import annotations

import logging

from connector.clients.xseries_sale_models import Sale, WrittenSale
from connector.errors import PermanentApiError
from connector.mapping.identity import invoice_forms
from connector.store.tables import OrderBinding

# The failed step of an order whose re-post was answered with another sale (_same_sale).
OTHER_SALE = "other_sale"
log = logging.getLogger("connector.sync")


class SaleAnswers:
    def _numbered_itself(self, order_id: int, sale: Sale | WrittenSale, invoice: str) -> str | None:
        """The invoice number X-Series answered the sale with when it is none of ours (ours, or ours
        with the register's prefix/suffix): a server that numbers sales itself. The sale is still
        the one the write made and is bound; but a write whose answer is lost on such a server cannot
        be found by our number, so the operator is told (once a process) and the audit keeps it."""
        answered = (sale.invoice_number or "").strip()
        forms = {form.casefold() for form in invoice_forms(invoice, self.d.refs.invoice_affixes)}
        if not answered or answered.casefold() in forms:
            return None
        if not self.d.xs.numbers_sales_itself:
            self.d.xs.numbers_sales_itself = True
            log.warning("order %s: X-Series numbered sale %s %s itself, not %s as sent: it is bound from the answer,"
                        " but on a server that ignores the invoice number given (§8.2) a sale write whose answer is"
                        " lost cannot be found again by its number", order_id, sale.id, answered, invoice,
                        extra={"order_id": order_id})
        return answered

    def _same_sale(self, order_id: int, binding: OrderBinding, sale: Sale | WrittenSale, write: str) -> None:
        """A re-post of the order's sale (its id given, §8.3) answered with another sale: the server
        made a new sale instead of changing ours (ours keeps its state and stock). Written again, it
        would make one more each time: the order is parked (PermanentApiError) with its write still
        pending, audited, and an exception opened, for a person to look at both sales."""
        if sale.id == binding.sale_id:
            return
        why = (f"X-Series answered the {write} of sale {binding.sale_id} ({binding.invoice_number}) with another"
               f" sale, {sale.id}: it may have made a new sale rather than change ours; both are to be checked"
               f" in X-Series before the order is retried")
        self.d.store.audit(platform="xseries", action="other_sale_answered", bc_order_id=order_id,
                           target_id=sale.id, reason=why, before=binding.sale_id)
        # The other sale took stock and money: a person is told (exceptions, console), not only the log.
        self.d.store.open_exception(order_id, "other_sale", why, before=binding.sale_id, after=sale.id)
        self.step = OTHER_SALE
        raise PermanentApiError(why, api="xseries", method="POST", path="/api/register_sales")
