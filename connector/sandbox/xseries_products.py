"""Product writes in the X-Series simulator: the 2.0 create (a product or a variant family) and the
0.9 create-or-update, each checked against the official body it claims to be.

- POST /api/2.0/products validates against ProductCreateBody of the API 2.0 spec (PRODUCT_CREATE
  below, the spec's schema with its references resolved; a contract test compares the two). Fields
  the spec does not declare are refused too: a live store ignores them at best, which is how a
  track_inventory on this body once left shipping products stock-tracked.
- POST /api/products (0.9) takes only the keys of the Postman collection's "Create or update
  product 0.9" example (POSTMAN_09_KEYS), and is the one create that honours track_inventory.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connector.sandbox.xseries_refusals import not_found, optional_str, parse_number, unprocessable
from connector.values import to_iso8601

if TYPE_CHECKING:  # pragma: no cover
    from connector.sandbox.xseries import XSeriesSimulator

# Schema notation: an object is a dict of its properties (REQUIRED lists the required ones), an
# array a one-item list, an enum a tuple of its values, anything else a JSON type name.
REQUIRED = "!required"
_INVENTORY = {"current_amount": "number", "outlet_id": "string", "reorder_amount": "number",
              "reorder_point": "number", REQUIRED: ("outlet_id", "current_amount")}
_PRICED = {  # ProductAddVariantPayload's fields that ProductCreateBody has too
    "sku": "string", "product_codes": [{"type": ("CUSTOM", "EAN", "ISBN", "ITF", "JAN", "UPC"), "code": "string"}],
    "price_including_tax": "number", "price_excluding_tax": "number", "supply_price": "number",
    "supplier_code": "string", "product_suppliers": [{"supplier_id": "string", "price": "number", "code": "string"}],
    "images": [{"type": ("s3", "url", "product-image", "sku-image"), "location": "string", "index": "integer",
                REQUIRED: ("type", "location")}],
    "weight": "number", "weight_unit": ("CT", "G", "OZ", "LB", "KG"), "length": "number", "width": "number",
    "height": "number", "dimensions_unit": ("IN", "CM", "MM", "YD"), "inventory": [_INVENTORY],
    "all_outlets_tax": {"is_default": "boolean", "tax_id": "string"},
    "outlet_taxes": [{"outlet_id": "string", "tax_id": "string", REQUIRED: ("outlet_id", "tax_id")}],
}
VARIANT = {**_PRICED, "variant_definitions": [{"attribute_id": "string", "value": "string"}]}
PRODUCT_CREATE = {
    **_PRICED, REQUIRED: ("name",), "name": "string", "description": "string", "handle": "string",
    "source": "string", "source_id": "string", "source_variant_id": "string", "is_active": "boolean",
    "supplier_id": "string", "product_type_id": "string", "product_category_id": "string",
    "brand_id": "string", "tag_ids": ["string"], "attributes": {"key": "string", "value": "string"},
    "account_code_sale": "string", "account_code_purchase": "string", "loyalty_amount": "number",
    "variants": [VARIANT], "composite": [{"product_id": "string", "quantity": "number"}],
}
POSTMAN_09_KEYS = frozenset({
    "id", "source_id", "handle", "active", "name", "description", "sku", "tags", "supplier_code",
    "supply_price", "inventory", "tax_name", "type", "supplier_name", "brand_name", "track_inventory",
    *(f"variant_option_{n}_{part}" for n in ("one", "two", "three") for part in ("name", "value")),
})
POSTMAN_09_INVENTORY_KEYS = frozenset({"outlet_id", "count", "reorder_point", "restock_level"})
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,)}


def check(schema: Any, value: Any, where: str) -> None:
    """422 for anything `schema` refuses, and for keys it does not declare."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise unprocessable(f"{where or 'the body'} must be an object")
        for key in schema.get(REQUIRED, ()):
            if key not in value:
                raise unprocessable(f"{_at(where, key)} is required")
        for key, item in value.items():
            if key == REQUIRED or key not in schema:
                raise unprocessable(f"{_at(where, key)} is not a field of this body")
            check(schema[key], item, _at(where, key))
    elif isinstance(schema, list):
        if not isinstance(value, list):
            raise unprocessable(f"{where} must be an array")
        for index, item in enumerate(value):
            check(schema[0], item, f"{where}[{index}]")
    elif isinstance(schema, tuple):
        if not isinstance(value, str) or value not in schema:
            raise unprocessable(f"{where} must be one of {', '.join(schema)}")
    elif isinstance(value, bool) != (schema == "boolean") or not isinstance(value, _JSON_TYPES[schema]):
        raise unprocessable(f"{where} must be a {schema}")  # (null included: nothing here is nullable)


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


# --- 2.0 ---------------------------------------------------------------------------------------

def create_products(sim: XSeriesSimulator, body: Any) -> list[str]:
    """POST /api/2.0/products: a product, or with `variants` a family (a parent product and one
    product per variant). Returns the new products' ids: the variants' for a family, in body order
    ([I]: which ids a live family create answers with is unverified)."""
    check(PRODUCT_CREATE, body, "")
    variants = body.get("variants") or []
    for where, item in [("", body), *((f"variants[{i}]", v) for i, v in enumerate(variants))]:
        if "price_excluding_tax" in item and "price_including_tax" in item:
            raise unprocessable(f"{_at(where, 'price_including_tax')} and price_excluding_tax cannot both be given")
        for index, entry in enumerate(item.get("inventory", [])):
            if entry["outlet_id"] not in sim.outlets:
                raise unprocessable(f"{_at(where, 'inventory')}[{index}].outlet_id is not an outlet")
    for index, variant in enumerate(variants):
        definitions = variant.get("variant_definitions") or []
        if not definitions:  # the guide: variant_definitions are required in each variant
            raise unprocessable(f"variants[{index}].variant_definitions is required")
        for d in definitions:
            if d.get("attribute_id") not in sim.variant_attributes or not d.get("value"):
                raise unprocessable(f"variants[{index}]: variant attribute {d.get('attribute_id')} not found")
    # [I] The spec only says a product's `sku` "should be unique"; the simulator insists.
    skus = [item["sku"].lower() for item in (body, *variants) if "sku" in item]
    taken = [sku for sku in skus if sim.live_by_sku.get(sku)]
    if taken or len(set(skus)) < len(skus):
        raise unprocessable(f"SKU {(taken or skus)[0]} is already in use")

    fields = dict(handle=body.get("handle"), source=body.get("source", "USER"), source_id=body.get("source_id"),
                  source_variant_id=body.get("source_variant_id"), is_active=body.get("is_active", True),
                  description=body.get("description"))
    parent = sim.store_product(name=body["name"], sku=body.get("sku"), **_priced(body, {}), **fields)
    if not variants:
        return [parent]
    return [
        sim.store_product(
            name=body["name"], sku=variant.get("sku"), **_priced(variant, body), **fields,
            variant_parent_id=parent,
            variant_options=[(sim.variant_attributes[d["attribute_id"]]["name"], d["value"])
                             for d in variant["variant_definitions"]],
        )
        for variant in variants
    ]


def _priced(item: dict[str, Any], family: dict[str, Any]) -> dict[str, Any]:
    """Price, supply price and stock of one product; a variant without a price takes the family's."""
    source = item if "price_excluding_tax" in item or "price_including_tax" in item else family
    number = {key: Decimal(str(source[key])) if key in source else None
              for key in ("price_excluding_tax", "price_including_tax")}
    return dict(**number, supply_price=Decimal(str(item.get("supply_price", family.get("supply_price", 0)))),
                inventory={e["outlet_id"]: Decimal(str(e["current_amount"])) for e in item.get("inventory", [])})


# --- 0.9 ---------------------------------------------------------------------------------------

_TEXT_09 = ("name", "sku", "handle", "source_id", "description")


def write_product_09(sim: XSeriesSimulator, body: Any) -> dict[str, Any]:
    """POST /api/products: create, or update the product whose `id` is given. Returns it."""
    if not isinstance(body, dict):
        raise unprocessable("the body must be a JSON object")
    unknown = sorted(set(body) - POSTMAN_09_KEYS)
    if unknown:
        raise unprocessable(f"{unknown[0]} is not a field of the 0.9 product body")
    text = {key: optional_str(body, key, unprocessable) for key in _TEXT_09}
    flags = {key: body[key] for key in ("active", "track_inventory") if key in body}
    if not all(isinstance(flag, bool) for flag in flags.values()):
        raise unprocessable("active and track_inventory must be booleans")
    supply = None if body.get("supply_price") is None else _number_09(body["supply_price"], "supply_price")
    levels = _inventory_09(sim, body.get("inventory"))
    sku = text["sku"]

    product_id = optional_str(body, "id", unprocessable)
    if product_id is None:
        if text["name"] is None:
            raise unprocessable("name is required")
        if sku is not None and sim.live_by_sku.get(sku.lower()):
            raise unprocessable(f"SKU {sku} is already in use")
        product_id = sim.store_product(
            name=text["name"], sku=sku, handle=text["handle"], source_id=text["source_id"],
            description=text["description"], supply_price=supply or Decimal(0),
            is_active=flags.get("active", True), track_inventory=flags.get("track_inventory", True),
            inventory=levels)
        return sim.products[product_id]
    product = sim.products.get(product_id)
    if product is None or product["deleted_at"]:
        raise not_found(f"product {product_id} not found")
    if sku is not None and sku.lower() != (product["sku"] or "").lower():
        if sim.live_by_sku.get(sku.lower()):
            raise unprocessable(f"SKU {sku} is already in use")
        sim.live_by_sku.get((product["sku"] or "").lower(), set()).discard(product_id)
        sim.live_by_sku.setdefault(sku.lower(), set()).add(product_id)
    product.update({key: value for key, value in text.items() if value is not None})
    if text["name"] is not None and not product["variant_parent_id"]:
        product["variant_name"] = text["name"]
    if "active" in flags:
        product["active"] = product["is_active"] = flags["active"]
    if "track_inventory" in flags:
        product["has_inventory"] = flags["track_inventory"]
    if supply is not None:
        product["supply_price"] = supply
    for outlet_id, level in levels.items():
        if product["has_inventory"]:
            sim.set_inventory(product_id, outlet_id, level)
    product.update(updated_at=to_iso8601(sim.clock.now()), version=sim.bump_version())
    return product


def _number_09(value: Any, where: str) -> Decimal:
    # The 0.9 example sends numbers as strings ("supply_price": "string"); JSON numbers pass too.
    return parse_number(value, where, unprocessable, strings=True)


def _inventory_09(sim: XSeriesSimulator, raw: Any) -> dict[str, Decimal]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise unprocessable("inventory must be a list")
    levels: dict[str, Decimal] = {}
    for index, entry in enumerate(raw):
        where = f"inventory[{index}]"
        if not isinstance(entry, dict) or set(entry) - POSTMAN_09_INVENTORY_KEYS:
            raise unprocessable(f"{where} takes only {', '.join(sorted(POSTMAN_09_INVENTORY_KEYS))}")
        if entry.get("outlet_id") not in sim.outlets:
            raise unprocessable(f"{where}.outlet_id is not an outlet")
        if entry.get("count") is not None:
            levels[entry["outlet_id"]] = _number_09(entry["count"], f"{where}.count")
    return levels
