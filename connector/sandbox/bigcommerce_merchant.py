"""The merchant's side of the simulated BigCommerce store: orders placed, statuses set, orders
touched, written straight into the store's state, never through the quota or the faults. A mixin of
BigCommerceSimulator (bigcommerce.py), whose state (orders, products, clock…) it works on. Refunds,
metafields and the catalog have their own modules (bigcommerce_refunds, _metafields, _catalog).
"""

from __future__ import annotations

import bisect
import copy
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from connector.sandbox.bigcommerce_consignments import ADDRESS_FIELDS, DEFAULT_PICKUP, link
from connector.sandbox.bigcommerce_orders import (
    LineInput,
    OrderDiscount,
    coupon_json,
    fee_json,
    line_json,
    order_money,
    price_lines,
)
from connector.sandbox.bigcommerce_statuses import PAYMENT_STATUS_FOR, SYSTEM_STATUSES
from connector.values import as_utc, money_str, parse_any_date, to_rfc2822

# What an order's address says where the customer left a field out (other fields: "").
DEFAULT_ADDRESS = {
    "street_1": "555 East Street", "city": "Austin", "state": "Texas", "zip": "78108",
    "country": "United States", "country_iso2": "US",
}


@dataclass
class OrderDates:
    """The order's dates as datetimes, kept beside the JSON so overrides may malform the JSON."""

    created: datetime
    modified: datetime


def _check_status(status_id: int) -> None:
    if status_id not in SYSTEM_STATUSES:
        raise ValueError(f"unknown BigCommerce status id {status_id}")


def whole_seconds(value: datetime) -> datetime:
    # V2 shows dates to the second; keeping them that way makes filters agree with what clients see.
    return as_utc(value).replace(microsecond=0)


class MerchantSide:
    def add_order(
        self,
        *,
        customer: dict[str, Any] | None,
        lines: list[dict[str, Any]],
        status_id: int = 11,
        shipping_ex_tax: Decimal = Decimal(0),
        handling_ex_tax: Decimal = Decimal(0),
        wrapping_ex_tax: Decimal = Decimal(0),
        tax_rate: Decimal = Decimal("0.10"),
        discount: Decimal = Decimal(0),
        payment_method: str = "Credit Card",
        date_created: datetime | None = None,
        order_id: int | None = None,
        coupons: Iterable[dict[str, Any]] = (),
        fees: Iterable[dict[str, Any]] = (),
        gift_certificate_amount: Decimal = Decimal(0),
        store_credit_amount: Decimal = Decimal(0),
        tax_inclusive: bool | None = None,
        charge_tax_class_id: int = 0,
        default_currency_code: str = "USD",
        customer_message: str = "",
        shipping_method: str | None = None,
        shipping_address: dict[str, Any] | None = None,
        pickup: bool | dict[str, Any] = False,
        **overrides: Any,
    ) -> dict[str, Any]:
        """Store a new order and return it as the API shows it (money rules: bigcommerce_orders).

        `lines` are LineInput dicts; a catalogue variant's option values fill product_options when
        left out. `discount` and `coupons` ([{code, amount}]) come off the tax-inclusive total; `fees`
        are [{name, amount[, tax_rate, tax_class_id, merchant_name]}]. Gift certificates and store
        credit may exceed the total here (a store refuses that), so a test can check the refusal.
        `pickup` (True or pickup consignment fields): physical lines are collected, not shipped.
        A historical `date_created` is also the date_modified; `overrides` are written over the JSON
        as given (datetimes become RFC-2822), so a test can plant malformed fields.
        """
        _check_status(status_id)
        if not lines:
            raise ValueError("an order needs at least one line")
        if order_id is None:
            order_id = self._next_order_id
        if order_id in self.orders:
            raise ValueError(f"order {order_id} already exists")
        self._next_order_id = max(self._next_order_id, order_id + 1)
        tax_rate = Decimal(str(tax_rate))
        inclusive = self.tax_inclusive if tax_inclusive is None else tax_inclusive
        created = whole_seconds(date_created) if date_created is not None else self._now()
        billing = self._billing_address(customer, order_id)

        inputs = [LineInput.from_dict({"product_options": self._variant_options(line), **line}) for line in lines]
        order_discounts = [OrderDiscount("manual-discount", "Manual Discount", None, Decimal(str(discount))), *(
            OrderDiscount(str(next(self._ids["coupon"])), coupon.get("name", coupon["code"]), coupon["code"],
                          Decimal(str(coupon["amount"])), coupon=True)
            for coupon in coupons
        )]
        priced = price_lines(inputs, tax_rate=tax_rate, tax_inclusive=inclusive, discounts=order_discounts)
        built_fees = [fee_json(next(self._ids["fee"]), fee, tax_rate=tax_rate, tax_inclusive=inclusive) for fee in fees]
        money = order_money(
            priced, [cost for _, cost in built_fees], tax_rate=tax_rate, tax_inclusive=inclusive,
            shipping_ex_tax=Decimal(str(shipping_ex_tax)), handling_ex_tax=Decimal(str(handling_ex_tax)),
            wrapping_ex_tax=Decimal(str(wrapping_ex_tax)), charge_tax_class_id=charge_tax_class_id,
        )

        physical = any(item.type == "physical" for item in inputs)
        shipped = physical and not pickup
        address_id = next(self._ids["address"]) if shipped else 0
        pickup_id = next(self._ids["pickup"]) if physical and pickup else 0
        self.pickups[order_id] = [{
            "id": pickup_id, "pickup_method_id": pickup_id,
            **copy.deepcopy(DEFAULT_PICKUP), **(pickup if isinstance(pickup, dict) else {}),
        }] if pickup_id else []
        default_method = "Flat Rate" if Decimal(str(shipping_ex_tax)) > 0 else "Free Shipping"
        self.shipping_addresses[order_id] = [{
            "id": address_id, "order_id": order_id,
            **{k: (shipping_address or billing).get(k, "") for k in ADDRESS_FIELDS},
            "form_fields": [],
            "shipping_method": shipping_method or default_method,
        }] if shipped else []
        built_lines = [
            line_json(line, line_id=next(self._ids["line"]), order_id=order_id, tax_inclusive=inclusive,
                      address_id=address_id if line.item.type == "physical" else 0,
                      pickup_method_id=pickup_id if line.item.type == "physical" else 0)
            for line in priced
        ]
        self.order_fees[order_id] = [fee for fee, _ in built_fees]
        self.order_coupons[order_id] = [
            coupon_json(int(d.id), order_id, d) for d in order_discounts if d.coupon
        ]
        status = SYSTEM_STATUSES[status_id]
        order: dict[str, Any] = {
            "id": order_id,
            "customer_id": int(customer.get("id", 0)) if customer else 0,
            **dict.fromkeys(("date_created", "date_modified"), to_rfc2822(created)),
            "status_id": status_id,
            "status": status.name,
            "custom_status": self.custom_labels[status_id],
            **money,
            "items_shipped": 0,
            "payment_method": payment_method,
            "payment_status": PAYMENT_STATUS_FOR.get(status_id, "captured"),
            "refunded_amount": "0.0000",
            "order_is_digital": not physical,
            "store_credit_amount": money_str(Decimal(str(store_credit_amount))),
            "gift_certificate_amount": money_str(Decimal(str(gift_certificate_amount))),
            # Left empty: not shipped yet, no gateway, no geo-IP, no staff notes, no external order.
            **dict.fromkeys(("date_shipped", "payment_provider_id", "ip_address", "ip_address_v6", "geoip_country",
                             "geoip_country_iso2", "staff_notes", "external_order_id"), ""),
            **dict.fromkeys(("credit_card_type", "external_source", "external_id", "external_merchant_id"), None),
            **dict.fromkeys(("currency_id", "default_currency_id"), 1),
            **dict.fromkeys(("currency_code", "default_currency_code"), default_currency_code),
            "currency_exchange_rate": "1.0000000000",
            "customer_message": customer_message,
            "shipping_address_count": len(self.shipping_addresses[order_id]),
            "is_deleted": False,
            "ebay_order_id": "0",
            "cart_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bigcommerce.sim/{self.store_hash}/{order_id}")),
            "billing_address": billing,
            "is_email_opt_in": False,
            "order_source": "www",
            "channel_id": 1,
            "tax_provider_id": "BasicTaxProvider",
            "customer_locale": "en",
            **{name: link(self.v2_url, f"/orders/{order_id}/{name}")
               for name in ("products", "shipping_addresses", "coupons", "consignments", "fees")},
        }
        dates = OrderDates(created=created, modified=created)
        for key, value in overrides.items():
            if isinstance(value, datetime):
                value = to_rfc2822(value)
            order[key] = value
            if key in ("date_created", "date_modified"):
                try:
                    parsed = whole_seconds(parse_any_date(value))
                except (ValueError, TypeError):
                    continue  # malformed on purpose: the JSON carries it, filters keep the real date
                setattr(dates, "created" if key == "date_created" else "modified", parsed)
        self.orders[order_id] = order
        self.order_products[order_id] = built_lines
        self._dates[order_id] = dates
        bisect.insort(self._by_created, (dates.created, order_id))
        if status_id == 2 and "date_shipped" not in overrides:
            self._mark_shipped(order_id, dates.modified)
        return self.order(order_id)

    def _variant_options(self, line: dict[str, Any]) -> list[dict[str, Any]]:
        """The option values of the catalogue variant a line sold, as its product_options."""
        variant = self.catalog_variants.get(int(line.get("variant_id", 0)))
        if variant is None or variant["product_id"] != int(line.get("product_id", 0)):
            return []
        return [{"display_name": o["option_display_name"], "display_value": o["label"],
                 "option_id": o["option_id"], "value": str(o["id"])} for o in variant["option_values"]]

    def _billing_address(self, customer: dict[str, Any] | None, order_id: int) -> dict[str, Any]:
        # A guest (customer None or id 0) still leaves a name and an e-mail at checkout.
        details = customer or {
            "first_name": "Guest", "last_name": f"Shopper {order_id}",
            "email": f"guest{order_id}@example.com",
        }
        return {**{k: details.get(k, DEFAULT_ADDRESS.get(k, "")) for k in ADDRESS_FIELDS}, "form_fields": []}

    def order(self, order_id: int) -> dict[str, Any]:
        """The order's current API JSON (a copy)."""
        return copy.deepcopy(self.orders[order_id])

    def products(self, order_id: int) -> list[dict[str, Any]]:
        """The order's current line items as /products shows them (a copy)."""
        return copy.deepcopy(self.order_products[order_id])

    def date_modified(self, order_id: int) -> datetime:
        return self._dates[order_id].modified

    def set_status(self, order_id: int, status_id: int) -> None:
        """The merchant changes the status in the control panel."""
        _check_status(status_id)
        self._apply_status(order_id, status_id)
        self.touch(order_id)

    def _apply_status(self, order_id: int, status_id: int) -> None:
        order = self.orders[order_id]
        order.update(status_id=status_id, status=SYSTEM_STATUSES[status_id].name,
                     custom_status=self.custom_labels[status_id])
        if status_id == 2 and not order.get("date_shipped"):
            self._mark_shipped(order_id, self._now())

    def _mark_shipped(self, order_id: int, at: datetime) -> None:
        # "Ship Items" ships everything: date_shipped is set once the order is fully shipped.
        for line in self.order_products[order_id]:
            line["quantity_shipped"] = line["quantity"]
        self.orders[order_id].update(date_shipped=to_rfc2822(at),
                                     items_shipped=sum(line["quantity"] for line in self.order_products[order_id]))

    def touch(self, order_id: int) -> None:
        """Any other edit in the control panel: only date_modified moves."""
        now = self._now()
        self._dates[order_id].modified = now
        self.orders[order_id]["date_modified"] = to_rfc2822(now)

    def rename_status(self, status_id: int, custom_label: str) -> None:
        _check_status(status_id)
        self.custom_labels[status_id] = custom_label
        for order in self.orders.values():
            if order.get("status_id") == status_id:
                order["custom_status"] = custom_label
