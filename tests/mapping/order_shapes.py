"""BigCommerce-shaped orders for the mapping tests: dicts with the field names of the V2 spec's
examples (reference §3, §4, §15), parsed by Order.from_api as the client parses them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

from connector.clients.bigcommerce_models import Order
from connector.mapping.sale_plan import build_sale_plan
from connector.mapping.tables import MappingTables
from connector.mapping.tax_table import PosTax, TaxBook

D = Decimal
TABLES = MappingTables.load(None)
TAXES = TaxBook(
    taxes=(PosTax("t-none", "No Tax", D(0)), PosTax("t-5", "Reduced VAT", D("0.05")),
           PosTax("t-825", "Sales Tax", D("0.0825")), PosTax("t-10", "GST 10", D("0.10")),
           PosTax("t-15", "GST", D("0.15")), PosTax("t-20", "Standard VAT", D("0.20"))),
    default_id="t-20", zero_id="t-none", by_class={},
)
RATE_OF = {t.id: t.rate for t in TAXES.taxes}
WHEN = "Sat, 10 Jan 2026 12:00:00 +0000"


def money(value: Any) -> str:
    return str(value)


def bc_line(inc: Any, tax: Any, quantity: int = 1, *, sku: str = "TEE-M", product_id: int = 111,
            variant_id: int = 0, discounted: Any = None, name: str = "Tee", line_id: int = 1,
            base_price: Any = None, discounts: Iterable[tuple[str, Any]] = (),
            options: Iterable[tuple[str, str]] = (), type: str = "physical", cost: Any = None) -> dict:
    """An order product (O2 orderProducts). inc / tax: the line totals before discounts;
    discounts: (target, amount) pairs of applied_discounts; options: (display_name, display_value)."""
    inc, tax = D(inc), D(tax)
    ex = inc - tax
    units = max(quantity, 1)  # a line of quantity 0 (refused by the plan) has unit prices too
    line = {
        "id": line_id, "order_id": 0, "product_id": product_id, "variant_id": variant_id, "name": name,
        "name_customer": name, "name_merchant": name, "sku": sku, "type": type, "quantity": quantity,
        "base_price": money(base_price if base_price is not None else ex / units),
        "price_ex_tax": money(ex / units), "price_inc_tax": money(inc / units),
        "price_tax": money(tax / units), "total_ex_tax": money(ex), "total_inc_tax": money(inc),
        "total_tax": money(tax),
        "applied_discounts": [
            {"id": "manual-discount" if target == "order" else f"promo-{i}", "amount": money(amount),
             "name": "Discount", "code": None, "target": target}
            for i, (target, amount) in enumerate(discounts)
        ],
        "product_options": [
            {"id": i + 1, "option_id": i + 1, "product_option_id": i + 100, "display_name": option,
             "display_value": value, "value": str(i), "type": "Multiple choice", "name": option}
            for i, (option, value) in enumerate(options)
        ],
    }
    if discounted is not None:
        line["discounted_total_inc_tax"] = money(discounted)
    if cost is not None:
        line["cost_price_ex_tax"] = money(cost)
    return line


def bc_order(lines: list[dict], *, total_inc: Any, total_tax: Any, status_id: int = 11, order_id: int = 4242,
             shipping: tuple[Any, Any] = ("0", "0"), handling: tuple[Any, Any] = ("0", "0"),
             wrapping: tuple[Any, Any] = ("0", "0"), payment_status: str = "captured",
             email: str = "jane@example.com", inclusive: bool = False, gift: Any = "0", credit: Any = "0",
             method: str = "Credit Card", fees: list[dict] | None = None,
             consignments: dict[str, list[int]] | None = None, ship_to: dict | None = None,
             **more: Any) -> Order:
    """A V2 order (O2 order_Resp). consignments: kind ("shipping", "pickups", "downloads",
    "email") → the ids of the lines in it, the shipping one going to `ship_to` (address fields and
    shipping_method); without, the lines come as from /orders/{id}/products."""
    for line in lines:
        line["order_id"] = order_id
    total_inc, total_tax = D(total_inc), D(total_tax)
    data = {
        "id": order_id, "customer_id": 11, "date_created": WHEN, "date_modified": WHEN, "date_shipped": "",
        "status_id": status_id, "status": "Awaiting Fulfillment", "custom_status": "Awaiting Fulfillment",
        "subtotal_ex_tax": "0", "subtotal_inc_tax": "0", "subtotal_tax": "0",
        "base_shipping_cost": money(shipping[0]), "shipping_cost_ex_tax": money(D(shipping[0]) - D(shipping[1])),
        "shipping_cost_inc_tax": money(shipping[0]), "shipping_cost_tax": money(shipping[1]),
        "shipping_cost_tax_class_id": 2,
        "handling_cost_ex_tax": money(D(handling[0]) - D(handling[1])), "handling_cost_inc_tax": money(handling[0]),
        "handling_cost_tax": money(handling[1]), "handling_cost_tax_class_id": 2,
        "wrapping_cost_ex_tax": money(D(wrapping[0]) - D(wrapping[1])), "wrapping_cost_inc_tax": money(wrapping[0]),
        "wrapping_cost_tax": money(wrapping[1]), "wrapping_cost_tax_class_id": 3,
        "total_ex_tax": money(total_inc - total_tax), "total_inc_tax": money(total_inc), "total_tax": money(total_tax),
        "is_tax_inclusive_pricing": inclusive, "payment_method": method, "payment_status": payment_status,
        "store_credit_amount": money(credit), "gift_certificate_amount": money(gift),
        "currency_code": "USD", "default_currency_code": "USD", "order_is_digital": False,
        "customer_message": "", "shipping_address_count": 1,
        "billing_address": {"first_name": "Jane", "last_name": "Doe", "company": "", "street_1": "1 Main St",
                            "street_2": "", "city": "Austin", "state": "Texas", "zip": "78701",
                            "country": "United States", "country_iso2": "US", "phone": "", "email": email},
        "shipping_addresses": {"url": f"https://api.bigcommerce.com/stores/x/v2/orders/{order_id}/shippingaddresses",
                               "resource": f"/orders/{order_id}/shippingaddresses"},
        **more,
    }
    if fees is not None:
        data["fees"] = fees
    if consignments is None:
        return Order.from_api(data, products=lines)
    by_id = {line["id"]: line for line in lines}
    group: dict[str, Any] = {}
    for kind, ids in consignments.items():
        entry = {"id": len(group) + 1, "line_items": [by_id[i] for i in ids]}
        if kind == "shipping":
            entry.update(ship_to or {})
        if kind == "email":
            group["email"] = {"gift_certificates": [entry]}
        else:
            group[kind] = [entry]
    return Order.from_api({**data, "consignments": group})


def bc_fee(inc: Any, tax: Any, *, fee_id: int = 1, name: str = "Package Protection", tax_class_id: int = 0) -> dict:
    """An order fee (reference §15)."""
    return {"id": fee_id, "type": "custom_fee", "display_name_customer": name, "display_name_merchant": name,
            "source": "app", "base_cost": money(D(inc) - D(tax)), "cost_ex_tax": money(D(inc) - D(tax)),
            "cost_inc_tax": money(inc), "cost_tax": money(tax), "tax_class_id": tax_class_id}


def plan_of(order: Order, generation: int = 1, taxes: TaxBook = TAXES):
    return build_sale_plan(order, TABLES.statuses, TABLES.specials, taxes, generation)


def totals(plan) -> tuple[Decimal, Decimal]:
    """What X-Series adds up from the lines: (total incl. tax, tax)."""
    return (sum((li.quantity * (li.unit_price + li.unit_tax) for li in plan.lines), D(0)),
            sum((li.quantity * li.unit_tax for li in plan.lines), D(0)))
