"""Order → SalePlan: the pure heart of the mapping (no I/O, Decimal math).

A SalePlan says what the X-Series sale of a BigCommerce order must contain, in business terms:
its POS state, whether it is paid and by which tenders, its customer, and its lines with exact
ex-tax and tax amounts, each on the X-Series tax of its rate. Products and customers are named by
binding keys; the sync resolves them to X-Series ids.

The lines (issue 15): each BigCommerce line sold at list − its product-level discount
(discounts.py); shipping, handling, wrapping and each fee on their special products; order-level
discounts and coupons as sale-level discount lines on the retailer's discount product, one per tax
rate (quantity −1, price the discount ex tax, tax the tax it removes). Lines plus tax add up to the
order's total and tax exactly, units at up to PRICE_PLACES decimals (amounts.py); payments add up to
its total.
"""

from __future__ import annotations

from dataclasses import fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connector.errors import MappingError
from connector.mapping.amounts import CENT, HALF_CENT, UnitCutter, cents, reconcile
from connector.mapping.discounts import LineAmounts, line_amounts, spread_undrawn
from connector.mapping.fulfilment import sale_attributes, sale_note
from connector.mapping.identity import invoice_number, order_content_hash
from connector.mapping.planned_sale import (DISCOUNT_KEY, ZERO, PlannedCustomer, PlannedLine, PlannedPayment,
                                            SalePlan, custom_product_sku, product_key_for_custom,
                                            product_key_for_sku)
from connector.mapping.special_lines import SpecialLine, SpecialLines, SpecialProduct
from connector.mapping.status_table import PosState, StatusTable
from connector.mapping.tax_table import TaxBook
from connector.values import parse_money

# Decimals of the unit prices and taxes sent to X-Series (its 2.0 examples carry five). Whether a
# write keeps them is unverified: the plan stays exact at 2, splitting more lines.
PRICE_PLACES = 5

# The billing-address fields a PlannedCustomer copies as they are (all but the e-mail).
_ADDRESS_FIELDS = tuple(f.name for f in fields(PlannedCustomer) if f.name != "email")


def target_state(order: Any, statuses: StatusTable) -> PosState:
    state = statuses.pos_state(order.status_id)
    if state is None:
        raise MappingError(
            f"unknown BigCommerce status id {order.status_id!r} ({getattr(order, 'status', '')!r});"
            f" add it to {statuses.source}",
            order_id=order.id,
        )
    return state


def build_sale_plan(order: Any, statuses: StatusTable, specials: SpecialLines, taxes: TaxBook,
                    generation: int = 1, content_hash: str | None = None, on_account: bool = False) -> SalePlan:
    """The sale an order must become. Raises MappingError naming the order when it cannot.
    content_hash: the order's order_content_hash when the caller has it already. on_account: unpaid
    whatever its status says (the caller knows no payment came: a status order-sync's ID check set)."""
    try:
        return _sale_plan(order, statuses, specials, taxes, generation, content_hash, on_account, by_unit=True)
    except MappingError as error:
        if error.kind != "totals":
            raise
    # Cheap units' cent-rounded tax fits several rates (0.01 on 0.07: 8.25 % to 20 %), or one X-Series
    # has that is not the store's (0.02 on 0.33: 5 %, charged at 7 %): the discounts' tax worked out
    # at the rate matched can miss the order's by more than rounding. Then it is estimated in proportion.
    return _sale_plan(order, statuses, specials, taxes, generation, content_hash, on_account, by_unit=False)


def _sale_plan(order: Any, statuses: StatusTable, specials: SpecialLines, taxes: TaxBook, generation: int,
               content_hash: str | None, on_account: bool, by_unit: bool) -> SalePlan:
    state = target_state(order, statuses)
    inclusive = bool(order.is_tax_inclusive_pricing)
    # (PlannedLine fields but the unit amounts, price total, tax total): rounded together once every
    # line is known, then cut into units.
    drafts: list[tuple[dict[str, Any], Decimal, Decimal]] = []
    order_discounts: dict[tuple[str, str], list[Decimal]] = {}  # (tax id, source) → [ex tax, tax]
    slack = ZERO  # what the lines' figures may be off beyond a cent each

    for line in order.lines:
        if line.quantity <= 0:
            raise MappingError(f"line {line.sku or line.name!r} has quantity {line.quantity}", order_id=order.id,
                               kind="totals")
        # Order lines carry no tax class (only the order's charges do): a rate X-Series lacks means the default.
        # The rate is told by the line's full figures (a product discount may have made it free), and
        # its discounts' tax is worked out at it.
        tax_id, source = taxes.pick(line.total_inc_tax - line.total_tax, line.total_tax, None, line.quantity)
        rate = next((t.rate for t in taxes.taxes if t.id == tax_id), None) if source == "rate" else None
        amounts = line_amounts(line, inclusive, rate, by_unit)
        if by_unit and (amounts.product_discount or rate is None and amounts.order_tax):
            # A product discount's tax is rounded per unit, maybe otherwise than here; without a rate
            # an order discount's tax is at the line's, off by its units' tax rounded to the cent.
            # The estimate in proportion (the fallback) is held to a cent a line, as it was before.
            slack += HALF_CENT * line.quantity
        drafts.append((_line_fields(line, amounts, tax_id, source, inclusive), amounts.sold_price, amounts.sold_tax))
        if amounts.order_price or amounts.order_tax:
            share = order_discounts.setdefault((tax_id, source), [ZERO, ZERO])
            share[0] += amounts.order_price
            share[1] += amounts.order_tax

    for kind, inc, tax, class_attr, prefix in (
        (SpecialLine.SHIPPING, order.shipping_cost_inc_tax, order.shipping_cost_tax, "shipping_cost_tax_class_id",
         "cost"),
        (SpecialLine.HANDLING, order.handling_cost_inc_tax, order.handling_cost_tax, "handling_cost_tax_class_id",
         "handling_cost"),
        (SpecialLine.WRAPPING, order.wrapping_cost_inc_tax, order.wrapping_cost_tax, "wrapping_cost_tax_class_id",
         None),
    ):
        charges = _per_address(order, prefix, inc, tax) if inc and prefix else None
        for part_inc, part_tax, class_id, address_id in charges or [
                (inc, tax or ZERO, getattr(order, class_attr, None), 0)]:
            if part_inc:
                facts, price, line_tax = _special(specials.products[kind], kind, part_inc, part_tax, class_id, taxes)
                drafts.append(({**facts, "bc_line_id": address_id or 0}, price, line_tax))
    fee_names = []
    for fee in getattr(order, "fees", []):
        if fee.cost_inc_tax:
            drafts.append(_special(specials.products[SpecialLine.FEE], SpecialLine.FEE, fee.cost_inc_tax,
                                   fee.cost_tax, fee.tax_class_id, taxes))
            fee_names.append(fee.display_name_merchant or fee.display_name_customer)

    total_inc, total_tax = cents(order.total_inc_tax), cents(order.total_tax)
    _undrawn_discount(order, drafts, order_discounts, total_inc, total_tax, taxes)
    first_discount = len(drafts)
    for (tax_id, source), (price, tax) in order_discounts.items():
        # Quantity −1 at a positive unit price: how Vend's sales guide (sale-level discounts) says a
        # line on the retailer's discount product is written; its lines are not a return.
        drafts.append((dict(kind="discount", product_key=DISCOUNT_KEY, sku="", name="Discount", quantity=-1,
                            tax_id=tax_id, tax_source=source, track_inventory=False), -price, -tax))

    largest_discount = min(range(first_discount, len(drafts)), key=lambda i: drafts[i][1], default=None)
    reconciled = reconcile(order.id, [(price, tax) for _, price, tax in drafts], total_inc, total_tax, inclusive,
                           largest_discount, rates=[facts["tax_id"] for facts, _, _ in drafts], slack=slack)
    cutter = UnitCutter(PRICE_PLACES)
    lines = [
        PlannedLine(**{**facts, "quantity": quantity}, unit_price=unit_price, unit_tax=unit_tax)
        for (facts, _, _), (price, tax) in zip(drafts, reconciled)
        if price or tax or facts["kind"] != "discount"  # a share of a rate that rounds to nothing
        for quantity, unit_price, unit_tax in cutter.cut(facts["quantity"], price, tax)
    ]

    billing = order.billing_address
    email = (billing.email or "").strip() if billing else ""
    # Stripped: X-Series refuses a name of spaces; a blank one takes the placeholder (CustomerBinder).
    address = {name: ((getattr(billing, name) if billing else "") or "").strip() for name in _ADDRESS_FIELDS}
    return SalePlan(
        bc_order_id=order.id,
        invoice_number=invoice_number(order.id, generation),
        pos_state=state,
        unpaid=on_account or statuses.is_unpaid(order.status_id, order.payment_status),
        customer=PlannedCustomer(email=email or None, **address),
        lines=tuple(lines),
        total_inc_tax=total_inc,
        total_tax=total_tax,
        payment_method=order.payment_method or "",
        sale_date=order.date_created,
        note=sale_note(order, fee_names),
        content_hash=content_hash or order_content_hash(order),
        payments=_tenders(order, total_inc),
        currency=order.default_currency_code or "",
        attributes=sale_attributes(order),
        source_id=str(order.id) if generation <= 1 else f"{order.id}-{generation}",
        wrapping_by_line=_wrapping_by_line(order),
        rates={tax.id: tax.rate for tax in taxes.taxes if any(line.tax_id == tax.id for line in lines)},
    )


def _wrapping_by_line(order: Any) -> dict[int, Decimal]:
    found = {}
    for line in getattr(order, "lines", []):
        try:
            amount = cents(parse_money(getattr(line, "wrapping_cost_inc_tax", None) or 0))
        except ValueError:
            continue  # not a money value: a refund of it gives back the order's wrapping, as before
        if amount > 0 and line.id:
            found[line.id] = amount
    return found


def _per_address(order: Any, prefix: str, inc: Decimal, tax: Decimal | None) -> list | None:
    """An order shipping to several addresses: each address's shipping (or handling) charge, with its
    tax class and address id, when every address gives its own and they add up to the order's; else
    None (one line)."""
    addresses = getattr(order, "shipping_addresses", None) or []
    parts = [(getattr(a, f"{prefix}_inc_tax", None), getattr(a, f"{prefix}_tax", None),
              getattr(a, f"{prefix}_tax_class_id", None), a.id) for a in addresses]
    if len(parts) < 2 or any(part_inc is None or part_tax is None for part_inc, part_tax, _, _ in parts):
        return None
    if sum(p[0] for p in parts) != inc or sum(p[1] for p in parts) != (tax or ZERO):
        return None
    return parts


def _undrawn_discount(order: Any, drafts: list, order_discounts: dict, total_inc: Decimal, total_tax: Decimal,
                      taxes: TaxBook) -> None:
    """A coupon or manual discount the lines do not show (no per-line figures for it, or a shipping
    coupon, §4 types 3 and 4): the order's total is below its lines, charges and discount shares by
    more than rounding, and by no more than its discount_amount and coupon_discount. That gap is an
    order-level discount, spread over the products' rates as BigCommerce spreads one, else at the
    rate its tax says (discounts.spread_undrawn; untaxed when it removed no tax), not a price cut
    hidden in one line (nor an order refused as inconsistent)."""
    declared = cents(order.discount_amount or ZERO) + cents(order.coupon_discount or ZERO)
    if not declared:
        return
    shares = [(price, tax) for price, tax in order_discounts.values()]
    drafted_inc = sum((price + tax for _, price, tax in drafts), ZERO) - sum((p + t for p, t in shares), ZERO)
    drafted_tax = sum((tax for _, _, tax in drafts), ZERO) - sum((t for _, t in shares), ZERO)
    gap_inc, gap_tax = drafted_inc - total_inc, drafted_tax - total_tax
    if gap_inc <= 0 or gap_inc > declared + CENT:
        return
    # A gap the size of the lines' rounding is that rounding, unless no line shows a discount and it
    # is the one declared (in or ex tax, to a cent): 0.05 off ten lines is a discount, not a price cut.
    if gap_inc <= HALF_CENT * (len(drafts) + len(shares)) and (
            shares or min(abs(gap_inc - declared), abs(gap_inc - gap_tax - declared)) > CENT):
        return
    products = [((facts["tax_id"], facts["tax_source"]), price, tax) for facts, price, tax in drafts
                if facts["kind"] in ("product", "custom")]
    for key, price, tax in spread_undrawn(gap_inc - gap_tax, gap_tax, products,
                                          lambda price, tax: taxes.pick(price, tax, None)):
        share = order_discounts.setdefault(key, [ZERO, ZERO])
        share[0] += price
        share[1] += tax


def _line_fields(line: Any, amounts: LineAmounts, tax_id: str, tax_source: str, inclusive: bool) -> dict[str, Any]:
    """A BigCommerce line's PlannedLine fields but its unit amounts."""
    product_id, variant_id = line.product_id, line.variant_id or 0
    sku, name = (line.sku or "").strip(), (line.name or "").strip()
    if line.type == "giftcertificate" or product_id == 0:
        kind = "gift_certificate" if line.type == "giftcertificate" else "custom"
        sku = sku or custom_product_sku(line.name)
        key = product_key_for_custom(sku)
    else:
        # A catalogue product without a SKU is keyed by its ids: two such products never share one.
        kind = "product"
        key = product_key_for_sku(sku) if sku else f"bc:{product_id}:{variant_id}"
        sku = sku or f"bc-{product_id}-{variant_id}"
    options = tuple((o.display_name, o.display_value) for o in line.product_options) if variant_id else ()
    family = name if options else ""
    if options:
        name = " / ".join([name, *(value for _, value in options if value)])
    return dict(
        kind=kind, product_key=key, sku=sku,
        # X-Series refuses a product without a name (422): a blank line name falls back to the SKU.
        name=name or sku, quantity=line.quantity, tax_id=tax_id, tax_source=tax_source,
        # Rounded to cents per line first: BigCommerce's 4-place taxes blur its ex-tax share by a
        # fraction of a cent (0.00998 for a 0.01 discount).
        unit_discount=(cents(amounts.product_discount) / line.quantity).quantize(
            Decimal(1).scaleb(-PRICE_PLACES), ROUND_HALF_UP),
        # BigCommerce sends 0 when the merchant entered no cost: unknown, not free.
        unit_cost=getattr(line, "cost_price_ex_tax", None) or None,
        # A digital product (a download, a gift card by e-mail) has no stock to move.
        list_price=line.base_price, list_price_includes_tax=inclusive,
        track_inventory=kind == "product" and getattr(line, "type", "physical") != "digital",
        bc_product_id=product_id, bc_variant_id=variant_id, family_name=family, options=options, bc_line_id=line.id,
    )


def _special(product: SpecialProduct, kind: SpecialLine, inc: Decimal, tax: Decimal, tax_class_id: int | None,
             taxes: TaxBook) -> tuple[dict[str, Any], Decimal, Decimal]:
    tax_id, source = taxes.pick(inc - tax, tax, tax_class_id)
    return (dict(kind=kind.value, product_key=f"special:{kind.value}", sku=product.sku, name=product.name, quantity=1,
                 tax_id=tax_id, tax_source=source, track_inventory=False), inc - tax, tax)


def _tenders(order: Any, total_inc: Decimal) -> tuple[PlannedPayment, ...]:
    """Gift certificates and store credit pay part of the order's total (BigCommerce counts them in
    it); the order's payment method pays the rest. Zero amounts are left out."""
    gift, credit = cents(order.gift_certificate_amount), cents(order.store_credit_amount)
    if gift + credit > total_inc:
        raise MappingError(
            f"gift certificates ({gift}) and store credit ({credit}) paid {gift + credit}, more than the"
            f" order's total ({total_inc}); the order is inconsistent, check it in BigCommerce",
            order_id=order.id, kind="totals",  # no table fixes it: mirrored by hand, if at all
        )
    payments = (PlannedPayment("gift_certificate", "", gift), PlannedPayment("store_credit", "", credit),
                PlannedPayment("method", order.payment_method or "", total_inc - gift - credit))
    return tuple(p for p in payments if p.amount)
