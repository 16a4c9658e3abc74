"""SalePlan → the X-Series 0.9 register_sales body (pure).

How each POS state is written (reference §8.1–§8.3):
- closed, paid:    status CLOSED, state closed, one payment per tender of the plan (gift
                   certificates, store credit, the order's payment method), adding up to its total.
- closed, unpaid:  status ONACCOUNT, state pending, attribute onaccount, no payment (the balance
                   lands on the customer's account; stock moves as for CLOSED). An order with no
                   e-mail gets the walk-in customer (OrderMirror), since an on-account sale needs
                   a customer.
- voided:          status VOIDED, state voided: X-Series returns the lines to stock and deletes
                   the payments. To void an existing sale the same complete body is re-posted with
                   its id (0.9 updates are full replacements, not patches).
Closed and on-account sales also carry the plan's fulfilment attribute (delivery or pickup), which
puts them on X-Series' Fulfillments page.

Each line carries its own tax (by rate), its product-level discount and the merchant's cost; the
plan's sale-level discount lines go on the retailer's discount product (GET /api/2.0/retailer).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from connector.clients.xseries_sale_models import RegisterSale, RegisterSalePayment, RegisterSaleProduct
from connector.errors import MappingError
from connector.mapping.identity import invoice_forms
from connector.mapping.line_prices import lines_inc_tax
from connector.mapping.planned_sale import DISCOUNT_KEY, PlannedLine, PlannedPayment, SalePlan
from connector.mapping.return_plan import ReturnPlan
from connector.mapping.status_table import PosState
from connector.mapping.tax_table import TaxBook

SOURCE = "BIGCOMMERCE"


@dataclass(frozen=True)
class PosRefs:
    """X-Series ids resolved once at start-up from the config's names."""

    outlet_id: str
    register_id: str
    user_id: str
    default_tax_id: str
    no_tax_id: str
    payment_type_ids: dict[str, str]  # payment table target → payment type id
    taxes: TaxBook | None = None  # what build_sale_plan picks each line's tax from
    discount_product_id: str | None = None  # the retailer's product for sale-level discounts
    currency: str | None = None  # the retailer's currency code
    invoice_affixes: tuple[str, str] = ("", "")  # the register's invoice prefix and suffix
    # xseries.line_prices_include_tax: 0.9 line prices are sent tax-inclusive (§13, unverified reading)
    line_prices_include_tax: bool = False

    @property
    def tax_book(self) -> TaxBook:
        """The taxes lines are picked from; refs built without them know the default and zero taxes."""
        return self.taxes or TaxBook((), self.default_tax_id, self.no_tax_id)


def sale_status(plan: SalePlan, state: PosState, has_customer: bool) -> tuple[str, str, list[str]]:
    """(legacy status, state, attributes) for a plan written in `state`."""
    if state is PosState.VOIDED:
        return "VOIDED", "voided", []
    if plan.unpaid and has_customer:  # OrderMirror gives an unpaid order without one the walk-in
        return "ONACCOUNT", "pending", ["onaccount", *plan.attributes]
    return "CLOSED", "closed", list(plan.attributes)


FULFILMENT_ATTRIBUTES = ("delivery", "pickup")


def without_fulfilment(body: RegisterSale) -> RegisterSale | None:
    """`body` without its delivery/pickup attribute (None: it has none). §8.1's table pairs CLOSED
    with no attribute and closed + delivery with DISPATCHED_CLOSED; whether a server takes CLOSED
    with `delivery` is unverified. A server that refuses it gets the sale plain: off the
    Fulfillments page, but with the status whose stock movement every reading agrees on."""
    kept = [a for a in body.register_sale_attributes or [] if a not in FULFILMENT_ATTRIBUTES]
    if len(kept) == len(body.register_sale_attributes or []):
        return None
    return body.model_copy(update={"register_sale_attributes": kept})


def with_invoice_affixes(body: RegisterSale, affixes: tuple[str, str]) -> RegisterSale | None:
    """`body` with its invoice number in the register's prefix and suffix (None: it has no number,
    or the number already has them). §8.2: a given number "should use" them; whether a server
    refuses one that does not is unverified. Found again either way: a sale is looked up under
    both forms (identity.invoice_forms)."""
    forms = invoice_forms(body.invoice_number, affixes) if body.invoice_number else ()
    return body.model_copy(update={"invoice_number": forms[1]}) if len(forms) > 1 else None


def refusal_fallbacks(body: RegisterSale, plain: RegisterSale | None,
                      affixes: tuple[str, str]) -> list[RegisterSale]:
    """What a sale refused as it stands (400/422: nothing written) is posted as next, in order: `plain`
    (without a part whose acceptance is unverified), with the register's invoice prefix/suffix, with
    both. The first accepted says which change the server wanted."""
    affixed = with_invoice_affixes(body, affixes)
    both = with_invoice_affixes(plain, affixes) if plain is not None and affixed is not None else None
    return [b for b in (plain, affixed, both) if b is not None]


def total_gap(body: RegisterSale, total_price: Decimal | None, total_tax: Decimal | None,
              prices_include_tax: bool = False) -> Decimal | None:
    """How far the totals X-Series computed for `body` are from what its lines say (None: close
    enough, or not told). X-Series computes a sale's totals from its lines (§8.2); whether it reads
    a tax-inclusive retailer's line price as excluding tax is unverified (§13). A cent per line is
    rounding."""
    if total_price is None or total_tax is None:
        return None
    lines = body.register_sale_products
    gap = total_price + total_tax - lines_inc_tax(body, prices_include_tax)
    return gap if abs(gap) > Decimal("0.01") * max(1, len(lines)) else None


def register_sale(
    plan: SalePlan,
    state: PosState,
    refs: PosRefs,
    product_ids: dict[str, str],
    customer_id: str | None,
    payment_type_ids: Sequence[str] = (),
    sale_id: str | None = None,
) -> RegisterSale:
    """The register_sales body of a plan written in `state` (with `sale_id`: to replace that sale).

    product_ids: product key → X-Series product id for every line but the discount lines.
    payment_type_ids: the X-Series payment type id of each of plan.payments, in the same order
    (PaymentTable.targets(plan.payments) through refs.payment_type_ids); needed for a paid CLOSED sale."""
    status, new_state, attributes = sale_status(plan, state, customer_id is not None)
    products = [
        RegisterSaleProduct(
            product_id=_product_id(line.product_key, refs, product_ids, plan.bc_order_id),
            quantity=line.quantity, price=_price(line, refs), tax=line.unit_tax, tax_id=line.tax_id,
            discount=line.unit_discount or None, cost=line.unit_cost, register_id=refs.register_id, sequence=index,
            # The price comes from BigCommerce: X-Series must not re-price it from a price book.
            price_set=True, status="CONFIRMED",
        )
        for index, line in enumerate(plan.lines)
    ]
    payments = []
    if status != "VOIDED":
        paid = paid_now(plan)
        if len(payment_type_ids) != len(paid):
            raise ValueError(f"{len(paid)} payments planned, {len(payment_type_ids)} payment type ids given")
        payments = [
            RegisterSalePayment(retailer_payment_type_id=type_id, amount=payment.amount,
                                payment_date=plan.sale_date, register_id=refs.register_id)
            for payment, type_id in zip(paid, payment_type_ids)
        ]
    return RegisterSale(
        id=sale_id, register_id=refs.register_id, user_id=refs.user_id, customer_id=customer_id,
        sale_date=plan.sale_date, status=status, state=new_state, register_sale_attributes=attributes,
        note=plan.note, invoice_number=plan.invoice_number, source=SOURCE, source_id=plan.source_id,
        register_sale_products=products, register_sale_payments=payments,
    )


def register_return(plan: ReturnPlan, refs: PosRefs, product_ids: dict[str, str], customer_id: str | None,
                    payment_type_ids: Sequence[str], return_for: str) -> RegisterSale:
    """The register_sales body of a return: a CLOSED sale of negative quantities and refund
    payments (negative amounts), naming the sale it returns (`return_for`, as the 2.0 return action
    sets it; whether the 0.9 body keeps it is unverified [I]: the negative lines make it a return)."""
    if len(payment_type_ids) != len(plan.payments):
        raise ValueError(f"{len(plan.payments)} payments planned, {len(payment_type_ids)} payment type ids given")
    products = [
        RegisterSaleProduct(product_id=product_ids[line.product_key], quantity=line.quantity, price=_price(line, refs),
                            tax=line.unit_tax, tax_id=line.tax_id, discount=line.unit_discount or None,
                            cost=line.unit_cost, register_id=refs.register_id, sequence=index, price_set=True,
                            status="CONFIRMED")
        for index, line in enumerate(plan.lines)
    ]
    payments = [RegisterSalePayment(retailer_payment_type_id=type_id, amount=-payment.amount,
                                    payment_date=plan.refund_date, register_id=refs.register_id)
                for payment, type_id in zip(plan.payments, payment_type_ids)]
    return RegisterSale(
        register_id=refs.register_id, user_id=refs.user_id, customer_id=customer_id, sale_date=plan.refund_date,
        status="CLOSED", state="closed", note=plan.note, invoice_number=plan.invoice_number, source=SOURCE,
        source_id=plan.source_id, register_sale_products=products, register_sale_payments=payments,
        return_for=return_for,
    )


def paid_now(plan: SalePlan) -> list[PlannedPayment]:
    """The payments a sale is written with: every tender of a paid order; of an unpaid one, what gift
    certificates and store credit already paid (BigCommerce took them at checkout), so only the
    payment method's share is left owing (on the customer's account when ONACCOUNT)."""
    return list(plan.payments) if not plan.unpaid else [p for p in plan.payments if p.tender != "method"]


def owed_on_settle(sent: RegisterSale, plan: SalePlan) -> list[PlannedPayment]:
    """What an ONACCOUNT sale's payment adds: the payment method's share, or every tender when the
    sale was written with no payment at all (as before gift certificates were paid on it)."""
    return [p for p in plan.payments if not sent.register_sale_payments or p.tender == "method"]


def settle_shortfall(sent: RegisterSale, owed: Sequence[PlannedPayment],
                     prices_include_tax: bool = False) -> tuple[Decimal, Decimal] | None:
    """(paid, unpaid) when the payments owed are not what the on-account sale as sent leaves unpaid
    (its lines less the payments it has), beyond a cent a line; None when they settle it. They differ
    when the order was edited after its sale was written: closing the sale with them would book its
    old lines against the new amount (an ONACCOUNT_CLOSED sale not fully paid)."""
    lines = sent.register_sale_products
    unpaid = lines_inc_tax(sent, prices_include_tax) \
        - sum((payment.amount for payment in sent.register_sale_payments), Decimal(0))
    paid = sum((payment.amount for payment in owed), Decimal(0))
    return None if abs(paid - unpaid) <= Decimal("0.01") * max(1, len(lines)) else (paid, unpaid)


def settled_on_account(sent: RegisterSale, sale_id: str, plan: SalePlan, refs: PosRefs,
                       payment_type_ids: Sequence[str], paid_at) -> RegisterSale:
    """An ONACCOUNT sale whose order is now paid, as its complete replacement body: the same lines,
    the payments it has (by their ids) and one per tender it was owed, dated when the order changed,
    status ONACCOUNT_CLOSED (state closed, attribute onaccount kept: §8.1). Stock does not move
    again: the goods left with the ONACCOUNT sale. payment_type_ids: of owed_on_settle()'s payments."""
    owed = owed_on_settle(sent, plan)
    if len(payment_type_ids) != len(owed):
        raise ValueError(f"{len(owed)} payments owed, {len(payment_type_ids)} payment type ids given")
    payments = list(sent.register_sale_payments) + [
        RegisterSalePayment(retailer_payment_type_id=type_id, amount=payment.amount, payment_date=paid_at,
                            register_id=refs.register_id)
        for payment, type_id in zip(owed, payment_type_ids)
    ]
    return sent.model_copy(update={"id": sale_id, "status": "ONACCOUNT_CLOSED", "state": "closed",
                                   "register_sale_payments": payments})


def _price(line: PlannedLine, refs: PosRefs) -> Decimal:
    """A line's 0.9 `price`: the plan's ex-tax unit price, or with its tax where the retailer's X-Series
    reads line prices as tax-inclusive (xseries.line_prices_include_tax); `tax` is the same either way."""
    return line.unit_price + line.unit_tax if refs.line_prices_include_tax else line.unit_price


def _product_id(key: str, refs: PosRefs, product_ids: dict[str, str], order_id: int) -> str:
    if key != DISCOUNT_KEY:
        return product_ids[key]
    if not refs.discount_product_id:
        raise MappingError("the order has an order-level discount but X-Series named no discount product"
                           " (retailer discount_product_id)", order_id=order_id)
    return refs.discount_product_id


def changed_on_refusal(first: RegisterSale, body: RegisterSale) -> str:
    """How a sale posted again after a refusal differs from the one refused first."""
    changes = []
    dropped = [a for a in first.register_sale_attributes or [] if a not in (body.register_sale_attributes or [])]
    if dropped:
        changes.append(f"without its {'/'.join(dropped)} attribute")
    if body.invoice_number != first.invoice_number:
        changes.append(f"as invoice {body.invoice_number} (the register's prefix/suffix)")
    return " and ".join(changes)
