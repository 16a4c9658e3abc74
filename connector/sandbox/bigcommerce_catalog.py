"""The simulated store's catalog: products and variants the merchant adds, and the V3 catalog reads."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connector.sandbox.bigcommerce_queries import Queries, _found
from connector.values import to_iso8601

PRODUCT_NOT_FOUND = "The requested product was not found."


class Catalog(Queries):
    def add_catalog_product(
        self, *, sku: str, name: str, price: Decimal, variants: list[dict[str, Any]] | None = None,
        cost_price: Decimal = Decimal(0), tax_class_id: int = 0,
    ) -> dict[str, Any]:
        """A catalog product (V3 product_Full subset) and its variants: dicts of sku, price (None:
        the product's), cost_price and option_values ([{label, option_display_name}]; option ids are
        shared across the product's variants by display name). Without `variants` the product gets a
        base variant with its SKU, as the real catalog does (so /catalog/variants?sku= finds it)."""
        product_id = next(self._ids["product"])
        now = to_iso8601(self._now())
        option_ids: dict[str, int] = {}
        created: list[int] = []  # its variants' ids: its JSON names them without a scan of the catalog
        for spec in variants or [{"sku": sku, "price": None, "option_values": []}]:
            variant_id = next(self._ids["variant"])
            created.append(variant_id)
            price_value = spec.get("price")
            option_values = [{
                "id": variant_id * 10 + index,
                "label": option["label"],
                "option_id": option_ids.setdefault(name, product_id * 10 + len(option_ids)),
                "option_display_name": name,
            } for index, option in enumerate(spec.get("option_values", []))
                for name in [option.get("option_display_name", "Option")]]
            self.catalog_variants[variant_id] = {
                "id": variant_id,
                "product_id": product_id,
                "sku": spec["sku"],
                "sku_id": variant_id,
                "price": float(price_value) if price_value is not None else None,
                "calculated_price": float(price_value if price_value is not None else price),
                "cost_price": float(spec["cost_price"]) if spec.get("cost_price") is not None else None,
                "calculated_weight": 1.0,
                # Unset on a simulated variant: its own prices, dimensions, images, codes and stock.
                **dict.fromkeys(("sale_price", "retail_price", "weight", "width", "height", "depth",
                                 "fixed_cost_shipping_price"), None),
                **dict.fromkeys(("purchasing_disabled_message", "image_url", "upc", "mpn", "gtin",
                                 "bin_picking_number"), ""),
                **dict.fromkeys(("inventory_level", "inventory_warning_level"), 0),
                **dict.fromkeys(("is_free_shipping", "purchasing_disabled"), False),
                "option_values": option_values,
            }
        product = {
            "id": product_id,
            "name": name,
            "type": "physical",
            "sku": sku,
            "weight": 1.0,
            **dict.fromkeys(("price", "calculated_price"), float(price)),
            "cost_price": float(cost_price),
            "tax_class_id": tax_class_id,
            "categories": [],
            # Unset on a simulated product: dimensions, other prices, codes, brand and stock.
            **dict.fromkeys(("width", "depth", "height", "retail_price", "sale_price", "map_price"), 0.0),
            **dict.fromkeys(("description", "product_tax_code", "upc", "mpn", "gtin"), ""),
            **dict.fromkeys(("brand_id", "inventory_level", "inventory_warning_level"), 0),
            "inventory_tracking": "variant" if variants else "none",
            "is_visible": True,
            **dict.fromkeys(("date_created", "date_modified"), now),
            "base_variant_id": None if variants else variant_id,  # the one variant made above
        }
        self.catalog_products[product_id] = product
        return {**copy.deepcopy(product), "variants": [copy.deepcopy(self.catalog_variants[i]) for i in created]}

    def _product_json(self, product: dict[str, Any], *, with_variants: bool) -> dict[str, Any]:
        result = copy.deepcopy(product)
        if with_variants:
            result["variants"] = self._variants(lambda v: v["product_id"] == product["id"])
        return result

    async def _list_catalog_products(self, request: Request) -> Response:
        skus = self._any_of(request, "sku")
        with_variants = "variants" in self._in_list(request, "include")
        rows = [
            self._product_json(p, with_variants=with_variants)
            for _, p in sorted(self.catalog_products.items()) if not skus or p["sku"] in skus
        ]
        return self._v3_page(request, rows)

    async def _get_catalog_product(self, request: Request, product_id: int) -> Response:
        product = _found(self.catalog_products, product_id, PRODUCT_NOT_FOUND)
        with_variants = "variants" in self._in_list(request, "include")
        return JSONResponse({"data": self._product_json(product, with_variants=with_variants), "meta": {}})

    async def _list_product_variants(self, request: Request, product_id: int) -> Response:
        _found(self.catalog_products, product_id, PRODUCT_NOT_FOUND)
        return self._v3_page(request, self._variants(lambda v: v["product_id"] == product_id))

    async def _list_catalog_variants(self, request: Request) -> Response:
        sku = request.query_params.get("sku")
        return self._v3_page(request, self._variants(lambda v: sku is None or v["sku"] == sku))

    def _variants(self, keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Copies of the catalog variants `keep` accepts, by id (ids only grow: insertion order is
        id order, and sorting them for each product made seeding a large store quadratic)."""
        return [copy.deepcopy(v) for v in self.catalog_variants.values() if keep(v)]
