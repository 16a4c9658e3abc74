"""The demo's three orders that show a sale as the accountant reads it (issue 15): a split tender
(gift certificate, store credit, card), a shirt size that becomes a variant of a new family, a fee;
and a refund of one shirt that becomes an X-Series return (issue 16).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Callable

from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.xseries import XSeriesSimulator

SHOPPER = {"id": 0, "first_name": "Ana", "last_name": "Lima", "email": "ana.lima@example.com",
           "street_1": "5 Harbour Road", "city": "Austin", "state": "Texas", "zip": "78702",
           "country": "United States", "country_iso2": "US"}


def add_showcase_orders(bc: BigCommerceSimulator) -> dict[str, int]:
    """Place the three orders; returns {what it shows: order id}."""
    shirt = bc.add_catalog_product(sku="OXF", name="Oxford Shirt", price=Decimal("45.00"), cost_price=Decimal("18.00"),
                                   variants=[{"sku": f"OXF-{size}", "price": None,
                                              "option_values": [{"label": size, "option_display_name": "Size"}]}
                                             for size in ("S", "M", "L")])
    large = shirt["variants"][2]

    def item(sku: str, name: str, price: str, quantity: int = 1, **more: Any) -> dict[str, Any]:
        return {"product_id": more.pop("product_id", 0), "variant_id": more.pop("variant_id", 0), "sku": sku,
                "name": name, "unit_price": Decimal(price), "quantity": quantity, **more}

    orders = {
        "split tender": bc.add_order(
            customer=SHOPPER, lines=[item("GIFT-BOX", "Gift Box", "80.00", product_id=9001, cost_price=Decimal("30.00"))],
            shipping_ex_tax=Decimal("10.00"), gift_certificate_amount=Decimal("25.00"),
            store_credit_amount=Decimal("15.00"), shipping_method="UPS Ground")["id"],
        "a variant": bc.add_order(
            customer=SHOPPER, lines=[item("OXF-L", "Oxford Shirt", "45.00", 2, product_id=shirt["id"],
                                          variant_id=large["id"], unit_discount=Decimal("5.00"))],
            shipping_method="Free Shipping", customer_message="Please gift wrap")["id"],
        "a fee": bc.add_order(
            customer=SHOPPER, lines=[item("LAMP-9", "Desk Lamp", "60.00", product_id=9002)],
            fees=[{"name": "Package Protection", "amount": Decimal("2.50")}], pickup=True)["id"],
    }
    return orders


def refund_one_shirt(bc: BigCommerceSimulator, orders: dict[str, int]) -> int:
    """The merchant refunds one of the two shirts of the variant order; its order id."""
    order_id = orders["a variant"]
    shirt = bc.products(order_id)[0]
    bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": shirt["id"], "quantity": 1}], reason="too small")
    return order_id


def _tenders(bc: BigCommerceSimulator, order_id: int) -> dict[Decimal, str]:
    """{amount: the tender as BigCommerce gave it} for the order's payments, an amount two tenders
    share left out: a payment is named by its amount only when that says which tender it is."""
    order = bc.order(order_id)
    gift, credit = Decimal(order["gift_certificate_amount"]), Decimal(order["store_credit_amount"])
    paid = [(gift, "gift certificate"), (credit, "store credit"),
            (Decimal(order["total_inc_tax"]) - gift - credit, order["payment_method"])]
    amounts = [amount for amount, _ in paid]
    return {amount: tender for amount, tender in paid if amount and amounts.count(amount) == 1}


def _print_lines(line: Callable[[str], None], money: Callable[[Any], str], xs: XSeriesSimulator, sale: dict,
                 tenders: dict[Decimal, str]) -> None:
    for item in sale["line_items"]:
        product = xs.products[item["product_id"]]
        name = product.get("variant_name") or product["name"]
        family = " (variant of a family)" if product.get("variant_parent_id") else ""
        # X-Series keeps the price after the discount, and the discount beside it (xseries-api.md §5).
        discount = item.get("discount") or 0
        price = f"{money(item['price'] + discount)} less {money(discount)} off" if discount else money(item["price"])
        line(f"    {name}{family}: {item['quantity']} × ({price} + {money(item['tax'])}"
             f" {xs.taxes[item['tax_id']]['name']}) = {money(item['quantity'] * (item['price'] + item['tax']))}")
    for payment in sale["payments"]:
        kind = xs.payment_types[payment["retailer_payment_type_id"]]["name"]
        verb = "refunded" if payment["amount"] < 0 else "paid"
        # A tender mapped to a type of another name (a gift certificate to Other) says what it was.
        tender = tenders.get(payment["amount"], kind)
        given = f" (BigCommerce: {tender})" if tender.casefold() != kind.casefold() else ""
        line(f"    {verb} {money(abs(payment['amount']))} by {kind}{given}")


def _refund_of(bc: BigCommerceSimulator, order_id: int, ret: dict) -> str:
    """The BigCommerce refund a return mirrors, with its reason; the return's note when its source id
    (<order>-R<refund>) names no refund of the order."""
    found = re.match(rf"{order_id}-R(\d+)(?:-|$)", ret["source_id"] or "")
    refund = bc.refunds.get(int(found.group(1))) if found else None
    if refund is None or refund["order_id"] != order_id:
        return ret["note"] or ""
    return f"BigCommerce refund {refund['id']}" + (f", reason: {refund['reason']}" if refund.get("reason") else "")


def print_showcase(line: Callable[[str], None], money: Callable[[Any], str], bc: BigCommerceSimulator,
                   xs: XSeriesSimulator, orders: dict[str, int]) -> None:
    line("\nthree sales as X-Series keeps them (each line: units × (price less any discount + tax, the tax by"
         " its rate) = what the line comes to), and a return:")
    for what, order_id in orders.items():
        sales = xs.sales_of_order(order_id)
        if not sales:
            line(f"  order {order_id} ({what}): no sale")
            continue
        sale = sales[-1]
        attributes = ", ".join(sale["attributes"]) or "none"
        line(f"  order {order_id} ({what}): {sale['invoice_number']} {sale['status']}, attributes: {attributes}")
        _print_lines(line, money, xs, sale, _tenders(bc, order_id))
        for note in (sale["note"] or "").splitlines()[1:]:
            line(f"    note: {note}")
        for ret in xs.sales_of_order(order_id, returns=True):
            returned = xs.sales[ret["return_for"]]["invoice_number"]
            line(f"  its refund: return {ret['invoice_number']} {ret['status']} for {returned},"
                 f" total {money(ret['total_price'] + ret['total_tax'])} ({_refund_of(bc, order_id, ret)})")
            _print_lines(line, money, xs, ret, {})
