"""The client's models read BigCommerce's own examples (the official OpenAPI files) for the fields a
faithful sale needs: fees, line costs and options, tax classes, shipping consignments, variant options."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.clients.bigcommerce_models import Order
from connector.clients.bigcommerce_order_parts import OrderFee, OrderLine
from connector.clients.bigcommerce_v3_models import CatalogVariant

SPECS = Path(__file__).parents[2].parent / "shared" / "specs" / "bigcommerce"
if not (SPECS / "orders.v2.oas2.yml").exists():
    pytest.skip(f"BigCommerce OpenAPI files not found under {SPECS}", allow_module_level=True)

D = Decimal


@lru_cache(maxsize=None)
def spec(name: str) -> dict[str, Any]:
    return yaml.load((SPECS / name).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def order_example() -> dict[str, Any]:
    return spec("orders.v2.oas2.yml")["components"]["responses"]["order_Resp"]["content"]["application/json"][
        "examples"]["Response"]["value"]


def consignment_example(name: str) -> dict[str, Any]:
    return spec("orders.v2.oas2.yml")["components"]["schemas"]["orderConsignment_Get"]["x-examples"][name]


def test_the_example_order_embeds_its_fees_one_spelt_cost_exc_tax():
    parsed = Order.from_api(order_example())
    first, second = parsed.fees
    assert parsed.fees_included
    # The first fee says `cost_exc_tax`, the second `cost_ex_tax`: both are read.
    assert (first.id, first.type, first.cost_ex_tax, first.cost_inc_tax, first.cost_tax, first.tax_class_id) == (
        1, "custom_fee", D("12.3"), D("12.3"), D("0"), 22)
    assert (second.cost_ex_tax, second.cost_inc_tax, second.cost_tax, second.tax_class_id) == (D("4"), D("12"), D("8"), None)
    assert (parsed.shipping_cost_tax_class_id, parsed.handling_cost_tax_class_id,
            parsed.wrapping_cost_tax_class_id) == (0, 0, 0)
    assert parsed.order_is_digital is False and isinstance(parsed.customer_message, str)


def test_the_fees_endpoint_example():
    answer = spec("orders.v2.oas2.yml")["paths"]["/orders/{order_id}/fees"]["get"]["responses"]["200"]["content"][
        "application/json"]["examples"]["response"]["value"]
    fees = [OrderFee.model_validate(fee) for fee in answer["fees"]]
    assert [(f.display_name_merchant, f.cost_inc_tax) for f in fees] == [("A Fee", D("12.3")), ("B Fee", D("12"))]


def test_the_example_shipping_consignment_gives_address_and_method():
    parsed = Order.from_api({**order_example(), "consignments": consignment_example("order with shipping consignments")})
    (address,) = parsed.shipping_addresses
    assert (address.first_name, address.last_name, address.company, address.street_1, address.city, address.state,
            address.zip, address.country, address.country_iso2, address.shipping_method) == (
        "Jane", "Doe", "Laser Ltd", "123 Main Street", "Austin", "Texas", "12345", "United States", "US",
        "Free Shipping")
    # Its line items are links there: the lines are then read from /products.
    assert not parsed.lines_included


@pytest.mark.parametrize("name", ["order with pickup consignments", "order with digital consignments",
                                  "order with gift certificate consignments"])
def test_other_example_consignments_have_no_shipping_address(name):
    assert Order.from_api({**order_example(), "consignments": consignment_example(name)}).shipping_addresses == []


def test_the_example_order_product_has_cost_and_options():
    rows = spec("orders.v2.oas2.yml")["components"]["responses"]["orderProductsCollection_Resp"]["content"][
        "application/json"]["examples"]
    first = next(iter(rows.values()))["value"][0]
    parsed = OrderLine.model_validate(first)
    assert (parsed.cost_price_ex_tax, parsed.base_price) == (D("50"), D("55.99"))
    assert [(o.display_name, o.display_value) for o in parsed.product_options][:2] == [("Size", "S"), ("Color", "Orange")]
    assert [(d.target, d.amount) for d in parsed.applied_discounts] == [("order", D("1.59"))]


def test_the_example_variants_have_option_values_and_prices():
    body = spec("product-variants_catalog.v3.yml")["paths"]["/catalog/products/{product_id}/variants"]["get"][
        "responses"]["200"]["content"]["application/json"]["example"]
    variants = [CatalogVariant.model_validate(row) for row in body["data"]]
    assert [(v.sku, v.price, v.calculated_price, v.cost_price) for v in variants] == [
        ("SMIT", D("10"), D("10"), D("0")), ("SMIT-1", D("25"), D("25"), D("25")), ("SMIT-2", D("25"), D("25"), D("25"))]
    assert [[(o.option_display_name, o.label) for o in v.option_values] for v in variants] == [
        [("Color", "Beige")], [("Color", "Grey")], [("Color", "Black")]]
