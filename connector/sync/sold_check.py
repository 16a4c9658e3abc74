"""A refund checked against the sale X-Series has, not only against the order as it is now.

The return plan takes the order's lines as BigCommerce has them now. An order edited after its sale
was written (sync.on_edit: exception) may have lines, or units, its X-Series sale never sold: a
refund of those, returned, would put into stock (and pay back) what X-Series never took out. So
each product a refund gives back is compared with the sale as it was written (its body), less what
earlier returns against it gave back, in units and in money (money back without a unit, or a
merchant's override above the units' price, is paid back too); beyond that, a person decides
(MappingError kind "refund": recorded as an exception, nothing written, as a refund X-Series cannot
express). Money an earlier return gave back without a unit is on the refund product, which names no
line: it is not counted against the line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from decimal import Decimal

from connector.clients.bigcommerce_v3_models import Refund
from connector.clients.xseries_sale_models import RegisterSale, RegisterSaleProduct
from connector.errors import MappingError
from connector.mapping.amounts import cents
from connector.mapping.planned_sale import SalePlan
from connector.store.tables import OrderBinding, RefundBinding

ZERO = Decimal(0)


def returned_before(refund: Refund, bindings: Iterable[RefundBinding]) -> list[RegisterSaleProduct]:
    """The lines earlier returns against the order's sale gave back (those voided with an earlier
    sale are no longer "returned")."""
    return [line for binding in bindings
            if binding.refund_id != refund.id and binding.outcome == "returned" and binding.return_body
            for line in RegisterSale.model_validate_json(binding.return_body).register_sale_products or []
            if Decimal(str(line.quantity)) < 0]


def check_within_sale(refund: Refund, order_plan: SalePlan, sale: OrderBinding, earlier: list[RegisterSaleProduct],
                      product_id: Callable[[str], str | None], prices_include_tax: bool = False) -> None:
    """Raise MappingError when the refund gives back more of a product than the order's sale sold
    and has not been given back yet (`earlier`: returned_before), in units or in money (its items'
    requested amounts: money back without a unit, or beyond the units' price). product_id: the
    X-Series product bound to a line's key (every product a sale sold was bound before it was
    written); prices_include_tax: the bodies' prices are incl. tax (xseries.line_prices_include_tax)."""
    if not sale.sale_body:
        return  # nothing written to compare with
    left, worth = Counter(), Counter()  # units and money (incl. tax) per product
    for line in RegisterSale.model_validate_json(sale.sale_body).register_sale_products or []:
        left[line.product_id] += Decimal(str(line.quantity))
        worth[line.product_id] += Decimal(str(line.quantity)) * (line.price + (0 if prices_include_tax else line.tax))
    returned, back = Counter(), Counter()
    for line in earlier:
        returned[line.product_id] -= Decimal(str(line.quantity))
        back[line.product_id] -= Decimal(str(line.quantity)) * (line.price + (0 if prices_include_tax else line.tax))
    asked: dict[str, tuple[str, Decimal, Decimal, Decimal]] = {}  # sku, units, amounts asked, units without one
    for item in refund.items:
        if item.item_type != "PRODUCT":
            continue
        lines = [line for line in order_plan.lines if line.kind == "product" and line.bc_line_id == item.item_id]
        if not lines:
            continue  # a line the order has not: the return plan says so
        key, units = lines[0].product_key, Decimal(item.quantity or 0)
        sku, asked_units, amount, unpriced = asked.get(key, (lines[0].sku, ZERO, ZERO, ZERO))
        asked[key] = (sku, asked_units + units, amount + (item.requested_amount or ZERO),
                      unpriced + (units if item.requested_amount is None else ZERO))
    for key, (sku, units, amount, unpriced) in asked.items():
        pid = product_id(key)
        sold = left[pid] if pid is not None else Decimal(0)
        given_back = returned[pid] if pid is not None else Decimal(0)
        # Money back on a product the sale never sold (no unit returned) is beyond it too.
        if units > sold - given_back or sold <= 0:
            raise MappingError(
                f"refund {refund.id} of order {refund.order_id} gives back {units} × {sku}, but the order's"
                f" X-Series sale {sale.invoice_number} sold {sold} of it ({given_back} returned already): the"
                " order was edited after its sale was written; return it in X-Series by hand if it should be,"
                " and resolve this", order_id=refund.order_id, kind="refund")
        # Units without an amount go back at what the sale sold them for.
        money = cents(amount + unpriced * worth[pid] / sold)
        if money > cents(worth[pid] - back[pid]):
            raise MappingError(
                f"refund {refund.id} of order {refund.order_id} gives back {money} on {sku}, but the order's"
                f" X-Series sale {sale.invoice_number} sold {cents(worth[pid])} of it ({cents(back[pid])} given"
                " back already): record the money beyond it in X-Series by hand if it should be, and resolve"
                " this", order_id=refund.order_id, kind="refund")
