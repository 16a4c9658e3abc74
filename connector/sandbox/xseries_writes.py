"""The X-Series simulator's writes: 2.0 product and customer creates, the 0.9 product and sale writes."""

from __future__ import annotations

from typing import Any

from connector.sandbox.xseries_http import _Call
from connector.sandbox.xseries_merchant import CUSTOMER_TEXT_FIELDS
from connector.sandbox.xseries_products import create_products, write_product_09
from connector.sandbox.xseries_refusals import bad_request, unprocessable
from connector.sandbox.xseries_sale_views import render_sale_09
from connector.sandbox.xseries_sales import write_register_sale


class Writes:
    def _create_product_http(self, call: _Call) -> tuple[int, Any]:
        # Spec: 200 with an array of the created ids, not the object.
        return 200, {"data": create_products(self, call.body)}

    def _write_product_09_http(self, call: _Call) -> tuple[int, Any]:
        product = write_product_09(self, call.body)
        shown = {**product, "track_inventory": product["has_inventory"]}
        if self.product_09_answer == "no_id":
            del shown["id"]
        return 200, shown if self.product_09_answer == "bare" else {"product": shown}

    def _create_customer_http(self, call: _Call) -> tuple[int, Any]:
        body = call.body
        if not isinstance(body, dict):
            raise unprocessable("the body must be a JSON object")
        for key in ("first_name", "last_name"):
            value = body.get(key)
            if not isinstance(value, str) or not value.strip():
                raise unprocessable(f"{key} is required")
        for key in CUSTOMER_TEXT_FIELDS:
            if body.get(key) is not None and not isinstance(body[key], str):
                raise unprocessable(f"{key} must be a string")
        for key in ("physical_postcode", "postal_postcode"):
            if body.get(key) is not None and body[key] in self.refused_postcodes:
                raise bad_request(f"{key} {body[key]!r} is not a valid postal code for its country")
        customer_id = self._create_customer(body)
        return 201, {"data": self.customers[customer_id]}

    def _post_register_sale(self, call: _Call) -> tuple[int, Any]:
        sale = write_register_sale(self, call.body)
        # [I] 200 for create and update alike; the answer wraps the sale in `register_sale`.
        return 200, {"register_sale": render_sale_09(self, sale)}
