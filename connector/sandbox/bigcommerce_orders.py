"""How the simulated BigCommerce store builds an order: line items, discounts, fees, totals.

Pure functions, apart from the HTTP layer so the money rules can be read on their own. Money leaves
as 4-decimal strings, as V2 shows it; the arithmetic is Decimal, rounded half-up to 4 places.

Money rules (reference §3/§4/§15; the shapes of the spec examples):
- a tax-exclusive store stores ex-tax prices and derives inc-tax ones, a tax-inclusive store the
  reverse (`is_tax_inclusive_pricing` says which are exact); each line and fee has its own tax rate
  (the order's unless given); shipping / handling / wrapping are given ex tax, at the order's rate;
- line prices and totals are the list price before any discount; totals are unit price × quantity;
- every discount is recorded on the lines it applies to (`applied_discounts`) as the amount it takes
  off the line's tax-inclusive total (spec example: 65.23 − 1.59 = 63.64). A product-level discount
  is per unit, in the store's basis; the manual discount and coupons come off the tax-inclusive
  total, spread over the lines by price_ex_tax × quantity, the shares summing exactly to them (the
  ex-tax part of a share is share / (1 + the line's rate));
- discount_amount = manual + product-level discounts, coupon_discount = coupons; total_inc_tax =
  subtotal_inc + charges inc + fees inc − both; total_tax = total_inc_tax − total_ex_tax;
- gift certificates and store credit are tenders: they do not lower total_inc_tax (§15).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connector.values import cents, money_str

FOUR_PLACES = Decimal("0.0001")
ZERO = Decimal(0)


def round4(value: Decimal) -> Decimal:
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


# --- money ---

@dataclass(frozen=True)
class Charge:
    """One taxed amount (a unit price, a line total, shipping…) in both bases."""

    ex_tax: Decimal
    inc_tax: Decimal

    @property
    def tax(self) -> Decimal:
        return self.inc_tax - self.ex_tax

    def times(self, quantity: int) -> "Charge":
        return Charge(self.ex_tax * quantity, self.inc_tax * quantity)


def charge_from(amount: Decimal, tax_rate: Decimal, *, amount_includes_tax: bool) -> Charge:
    """A price as the store holds it → both bases, the given one exact.

    Tax added to an ex-tax price is rounded to the cent (the store's figures then stay in cents,
    like "65.2300" in the spec example); an ex-tax price taken out of an inc-tax one keeps 4
    places (like "62.6793").
    """
    amount = round4(Decimal(amount))
    if amount_includes_tax:
        return Charge(round4(amount / (1 + tax_rate)), amount)
    return Charge(amount, amount + cents(amount * tax_rate))


def spread_discount(discount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `discount` over lines in proportion to `weights`, in cents; the shares sum exactly to it."""
    total_weight = sum(weights, ZERO)
    if discount == 0 or total_weight == 0:
        return [ZERO for _ in weights]
    # Every line but the last gets its share in cents; the last takes what is left.
    shares = [cents(discount * weight / total_weight) for weight in weights[:-1]]
    return [*shares, discount - sum(shares, ZERO)]


# --- building an order ---

def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass
class LineInput:
    """One line as a test asks for it (add_order's `lines` dicts, same keys)."""

    name: str
    unit_price: Decimal  # list price, in the store's basis
    quantity: int
    product_id: int = 0
    variant_id: int = 0
    sku: str = ""
    tax_rate: Decimal | None = None  # None: the order's rate
    unit_discount: Decimal = ZERO  # product-level discount per unit, in the store's basis
    cost_price: Decimal = ZERO  # the merchant's unit cost, ex tax
    type: str = "physical"  # physical | digital | giftcertificate
    product_options: list[dict[str, Any]] = field(default_factory=list)  # {display_name, display_value}

    @classmethod
    def from_dict(cls, line: dict[str, Any]) -> "LineInput":
        return cls(**{key: convert(line[key]) for key, convert in _LINE_KEYS.items() if line.get(key) is not None})


_LINE_KEYS = {
    "name": str, "unit_price": _decimal, "quantity": int, "product_id": int, "variant_id": int, "sku": str,
    "tax_rate": _decimal, "unit_discount": _decimal, "cost_price": _decimal, "type": str, "product_options": list,
}


@dataclass(frozen=True)
class OrderDiscount:
    """An order-level discount before it is spread: the manual discount or a coupon."""

    id: str
    name: str
    code: str | None
    amount: Decimal  # off the tax-inclusive total
    coupon: bool = False


@dataclass(frozen=True)
class LineDiscount:
    entry: dict[str, Any]  # the applied_discounts object
    off: Charge  # what it takes off the line, both bases
    coupon: bool


@dataclass
class PricedLine:
    item: LineInput
    rate: Decimal
    unit: Charge
    discounts: list[LineDiscount]

    @property
    def total(self) -> Charge:
        return self.unit.times(self.item.quantity)


def _applied(id_: str, name: str, code: str | None, target: str, off: Charge) -> dict[str, Any]:
    return {"id": id_, "amount": money_str(off.inc_tax), "name": name, "code": code, "target": target}


def price_lines(
    inputs: list[LineInput], *, tax_rate: Decimal, tax_inclusive: bool, discounts: list[OrderDiscount],
) -> list[PricedLine]:
    """Each line at its list price, with every discount that applies to it."""
    priced = []
    for item in inputs:
        rate = tax_rate if item.tax_rate is None else item.tax_rate
        line = PricedLine(item, rate, charge_from(item.unit_price, rate, amount_includes_tax=tax_inclusive), [])
        if item.unit_discount:
            off = charge_from(item.unit_discount, rate, amount_includes_tax=tax_inclusive).times(item.quantity)
            line.discounts.append(LineDiscount(
                _applied("product-discount", "Product Discount", None, "product", off), off, coupon=False))
        priced.append(line)
    weights = [line.total.ex_tax for line in priced]
    for discount in discounts:
        for line, share in zip(priced, spread_discount(round4(discount.amount), weights)):
            if share:
                off = Charge(round4(share / (1 + line.rate)), share)
                entry = _applied(discount.id, discount.name, discount.code, "order", off)
                line.discounts.append(LineDiscount(entry, off, discount.coupon))
    return priced


def line_json(
    line: PricedLine, *, line_id: int, order_id: int, address_id: int, pickup_method_id: int,
    tax_inclusive: bool,
) -> dict[str, Any]:
    """One orderProducts object (only fields the O2 schema declares: it forbids any other)."""
    item, unit, total = line.item, line.unit, line.total
    base_price = unit.inc_tax if tax_inclusive else unit.ex_tax
    custom = item.product_id == 0
    off = sum((d.off.inc_tax for d in line.discounts), ZERO)
    return {
        "id": line_id,
        "order_id": order_id,
        "product_id": item.product_id,
        "variant_id": 0 if custom else item.variant_id,
        "order_pickup_method_id": pickup_method_id,
        "order_address_id": address_id,
        **dict.fromkeys(("name", "name_customer", "name_merchant"), item.name),
        "sku": item.sku,
        "type": item.type,
        "base_price": money_str(base_price),
        "price_ex_tax": money_str(unit.ex_tax),
        "price_inc_tax": money_str(unit.inc_tax),
        "price_tax": money_str(unit.tax),
        "base_total": money_str(base_price * item.quantity),
        "total_ex_tax": money_str(total.ex_tax),
        "total_inc_tax": money_str(total.inc_tax),
        "total_tax": money_str(total.tax),
        "discounted_total_inc_tax": money_str(total.inc_tax - off),
        "quantity": item.quantity,
        # Cost is ex tax; the spec example shows the same figure inc tax, with no tax on it.
        **dict.fromkeys(("base_cost_price", "cost_price_inc_tax", "cost_price_ex_tax"), money_str(item.cost_price)),
        "weight": 1,
        # Left empty: the simulated store has no refunds, wrapping, eBay or bundles (shipping fills
        # quantity_shipped later).
        **dict.fromkeys(("cost_price_tax", "width", "height", "depth", "refund_amount", "base_wrapping_cost",
                         "wrapping_cost_ex_tax", "wrapping_cost_inc_tax", "wrapping_cost_tax",
                         "fixed_shipping_cost"), "0.0000"),
        **dict.fromkeys(("upc", "wrapping_name", "wrapping_message", "ebay_item_id", "ebay_transaction_id",
                         "bin_picking_number", "brand"), ""),
        **dict.fromkeys(("quantity_refunded", "return_id", "wrapping_id", "quantity_shipped"), 0),
        **dict.fromkeys(("event_name", "event_date", "option_set_id", "parent_order_product_id", "external_id"), None),
        "is_refunded": False,
        "is_bundled_product": False,
        "gift_certificate_id": line_id if item.type == "giftcertificate" else None,
        "applied_discounts": [d.entry for d in line.discounts],
        "product_options": [_option_json(o, line_id, index) for index, o in enumerate(item.product_options)],
        "configurable_fields": [],
    }


def _option_json(option: dict[str, Any], line_id: int, index: int) -> dict[str, Any]:
    """orderProductOptions from {display_name, display_value[, option_id, value]}."""
    name, value = str(option["display_name"]), str(option["display_value"])
    return {
        "id": line_id * 10 + index, "option_id": int(option.get("option_id", index + 1)),
        "order_product_id": line_id, "product_option_id": 100 + index,
        "display_name": name, "display_name_customer": name, "display_name_merchant": name,
        "display_value": value, "display_value_customer": value, "display_value_merchant": value,
        "value": str(option.get("value", value)), "type": "Multiple choice", "name": name,
        "display_style": "Rectangle",
    }


def fee_json(
    fee_id: int, fee: dict[str, Any], *, tax_rate: Decimal, tax_inclusive: bool,
) -> tuple[dict[str, Any], Charge]:
    """orderFees_Resp from {name, amount (store's basis)[, tax_rate, tax_class_id, merchant_name]}."""
    rate = Decimal(str(fee.get("tax_rate", tax_rate)))
    amount = Decimal(str(fee["amount"]))
    cost = charge_from(amount, rate, amount_includes_tax=tax_inclusive)
    return {
        "id": fee_id, "type": "custom_fee",
        "display_name_customer": fee["name"], "display_name_merchant": fee.get("merchant_name", fee["name"]),
        "source": "v2", "base_cost": money_str(round4(amount)), "cost_ex_tax": money_str(cost.ex_tax),
        "cost_inc_tax": money_str(cost.inc_tax), "cost_tax": money_str(cost.tax),
        "tax_class_id": fee.get("tax_class_id"),
    }, cost


def order_money(
    lines: list[PricedLine], fees: list[Charge], *, tax_rate: Decimal, tax_inclusive: bool,
    shipping_ex_tax: Decimal, handling_ex_tax: Decimal, wrapping_ex_tax: Decimal, charge_tax_class_id: int = 0,
) -> dict[str, Any]:
    """The order-level money fields, as strings, from the priced lines, the fees and the charges."""
    subtotal = Charge(sum((line.total.ex_tax for line in lines), ZERO),
                      sum((line.total.inc_tax for line in lines), ZERO))
    given = {"shipping": shipping_ex_tax, "handling": handling_ex_tax, "wrapping": wrapping_ex_tax}
    charges = {name: charge_from(amount, tax_rate, amount_includes_tax=False) for name, amount in given.items()}
    offs = [d for line in lines for d in line.discounts]
    discount = sum((d.off.inc_tax for d in offs if not d.coupon), ZERO)
    coupons = sum((d.off.inc_tax for d in offs if d.coupon), ZERO)
    added = [*charges.values(), *fees]
    total_inc = subtotal.inc_tax + sum((c.inc_tax for c in added), ZERO) - discount - coupons
    total_ex = subtotal.ex_tax + sum((c.ex_tax for c in added), ZERO) - sum((d.off.ex_tax for d in offs), ZERO)

    def cost_fields(name: str, charge: Charge) -> dict[str, Any]:
        # base_shipping_cost, shipping_cost_ex_tax, …: the same five fields for each charge
        return {
            f"base_{name}_cost": money_str(charge.inc_tax if tax_inclusive else charge.ex_tax),
            f"{name}_cost_ex_tax": money_str(charge.ex_tax),
            f"{name}_cost_inc_tax": money_str(charge.inc_tax),
            f"{name}_cost_tax": money_str(charge.tax),
            f"{name}_cost_tax_class_id": charge_tax_class_id,
        }

    return {
        "subtotal_ex_tax": money_str(subtotal.ex_tax),
        "subtotal_inc_tax": money_str(subtotal.inc_tax),
        "subtotal_tax": money_str(subtotal.tax),
        **{k: v for name, charge in charges.items() for k, v in cost_fields(name, charge).items()},
        "total_ex_tax": money_str(total_ex),
        "total_inc_tax": money_str(total_inc),
        "total_tax": money_str(total_inc - total_ex),
        "discount_amount": money_str(discount),
        "coupon_discount": money_str(coupons),
        "is_tax_inclusive_pricing": tax_inclusive,
        "items_total": sum(line.item.quantity for line in lines),
    }


def coupon_json(coupon_id: int, order_id: int, discount: OrderDiscount) -> dict[str, Any]:
    """orderCoupons_Base for an order-level coupon (type 2, per_total_discount)."""
    return {"id": coupon_id, "coupon_id": coupon_id, "order_id": order_id, "code": discount.code,
            "amount": money_str(discount.amount), "type": 2, "discount": float(discount.amount)}
