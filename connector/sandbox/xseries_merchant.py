"""The merchant's side of the simulated X-Series store: products, customers and stock seeded or
changed as a merchant (or the POS itself) would, and what a sale does to stock and to a customer's
balance (called by xseries_sales). A mixin of XSeriesSimulator (xseries.py), whose state it works on.
"""

from __future__ import annotations

import re
import string
from decimal import Decimal
from typing import Any

from connector.sandbox.xseries_sales import stock_moves

FIVE_PLACES = Decimal("0.00001")
CUSTOMER_TEXT_FIELDS = (
    "first_name", "last_name", "email", "customer_code", "note", "gender", "date_of_birth",
    "company_name", "phone", "mobile", "fax", "twitter", "website",
    *(f"{kind}_{part}" for kind in ("physical", "postal")
      for part in ("address_1", "address_2", "suburb", "city", "postcode", "state", "country_id")),
    *(f"custom_field_{n}" for n in range(1, 5)),
)


class MerchantSide:
    # --- seeding / merchant actions ------------------------------------------------------------

    def store_product(
        self, *, name: str, sku: str | None, handle: str | None = None,
        price_excluding_tax: Decimal | None = None, price_including_tax: Decimal | None = None,
        supply_price: Decimal = Decimal(0), track_inventory: bool = True,
        inventory: dict[str, Decimal] | None = None, variant_parent_id: str | None = None,
        variant_options: list[tuple[str, str]] | None = None,
        source: str = "USER", source_id: str | None = None, source_variant_id: str | None = None,
        is_active: bool = True, description: str | None = None,
    ) -> str:
        """Add a product as every write path does; returns its id. A variant (variant_parent_id)
        joins the family of a live product that is not itself a variant, and is named by its
        options ((attribute name, value) pairs): "Oxford Shirt / L"."""
        parent = self.products.get(variant_parent_id) if variant_parent_id else None
        if variant_parent_id is not None and (parent is None or parent["deleted_at"] or parent["variant_parent_id"]):
            raise ValueError(f"variant_parent_id {variant_parent_id} is not a product family")
        rate = 1 + self.taxes[self.default_tax_id]["rates"][0]["rate"]
        if price_including_tax is not None:
            price_excluding_tax = (price_including_tax / rate).quantize(FIVE_PLACES)
        else:
            price_excluding_tax = price_excluding_tax if price_excluding_tax is not None else Decimal(0)
            price_including_tax = (price_excluding_tax * rate).quantize(FIVE_PLACES)
        if sku is None:
            self._sku_sequence += 1
            sku = str(self._sku_sequence)
        product_id = self.new_id()
        now = self._now_iso()
        options = variant_options or []
        self.products[product_id] = {
            "id": product_id, "name": name, "description": description,
            "variant_name": " / ".join([name, *(value for _, value in options)]),
            "handle": handle or (parent["handle"] if parent else _handle_of(name)),
            "sku": sku, "source": source, "source_id": source_id,
            "source_variant_id": source_variant_id, "active": is_active, "is_active": is_active,
            "has_inventory": track_inventory, "is_composite": False, "has_variants": False,
            "variant_parent_id": variant_parent_id, "variant_count": 0,
            "variant_options": [{"name": attribute, "value": value} for attribute, value in options],
            "price_excluding_tax": price_excluding_tax, "price_including_tax": price_including_tax,
            "supply_price": supply_price, "supplier_id": None, "supplier_code": None,
            "supplier": {}, "product_type_id": None, "type": {}, "brand_id": None, "brand": {},
            "tag_ids": [], "categories": [], "attributes": [], "images": [], "product_codes": [],
            "account_code": None, "account_code_purchase": None, "loyalty_amount": None,
            "button_order": 0, "created_at": now, "updated_at": now, "deleted_at": None,
            "version": self.bump_version(),
        }
        self.live_by_sku.setdefault(sku.lower(), set()).add(product_id)
        if parent is not None:
            parent.update(has_variants=True, variant_count=parent["variant_count"] + 1, updated_at=now,
                          version=self.bump_version())
        if track_inventory:
            for outlet_id, level in {self.main_outlet_id: Decimal(0), **(inventory or {})}.items():
                self.set_inventory(product_id, outlet_id, Decimal(level))
        return product_id

    def add_product(self, *, sku: str, name: str, price_excluding_tax: Decimal = Decimal(0),
                    inventory: int | None = None, track_inventory: bool = True,
                    variant_parent_id: str | None = None, variant_options: list[tuple[str, str]] | None = None,
                    ) -> str:
        """Seed a product (no SKU uniqueness check: tests may want duplicates). Inventory is at
        the main outlet. Returns the product id."""
        levels = {self.main_outlet_id: Decimal(inventory)} if inventory is not None else None
        return self.store_product(
            name=name, sku=sku, price_excluding_tax=Decimal(price_excluding_tax),
            track_inventory=track_inventory, inventory=levels, variant_parent_id=variant_parent_id,
            variant_options=variant_options,
        )

    def add_family(self, *, name: str, variants: list[tuple[str, dict[str, str], Decimal, int]]) -> dict[str, str]:
        """Seed a variant family as the 2.0 create makes one: variants are (sku, {attribute name:
        value}, price excluding tax, stock at the main outlet). Returns SKU → product id."""
        parent = self.store_product(name=name, sku=None)
        return {sku: self.add_product(sku=sku, name=name, price_excluding_tax=price, inventory=stock,
                                      variant_parent_id=parent, variant_options=list(values.items()))
                for sku, values, price, stock in variants}

    def close_register(self, register_id: str) -> None:
        """Merchant closes a register (the end of the day)."""
        now = self._now_iso()
        self.registers[register_id].update(is_open=False, register_close_time=now, version=self.bump_version())

    def open_register(self, register_id: str) -> dict:
        register = self.registers[register_id]
        if not register["is_open"]:
            register.update(is_open=True, register_open_time=self._now_iso(), register_close_time=None,
                            version=self.bump_version())
        return register

    def delete_product(self, product_id: str) -> None:
        """Merchant deletes a product: it leaves lists and search unless `deleted=true`."""
        product = self.products[product_id]
        self.live_by_sku.get((product["sku"] or "").lower(), set()).discard(product_id)
        now = self._now_iso()
        product.update(deleted_at=now, updated_at=now, version=self.bump_version())

    def _create_customer(self, fields: dict[str, Any]) -> str:
        customer_id = self.new_id()
        now = self._now_iso()
        first = fields.get("first_name") or ""
        code = fields.get("customer_code") or (
            f"{first or 'Customer'}-" + "".join(self._rng.choice(string.ascii_uppercase + string.digits)
                                               for _ in range(4))
        )
        customer = {name: fields.get(name) for name in CUSTOMER_TEXT_FIELDS}
        customer.update({
            "id": customer_id, "customer_code": code,
            "name": f"{first} {fields.get('last_name') or ''}".strip(),
            "customer_group_id": fields.get("customer_group_id") or self.customer_group_id,
            "enable_loyalty": bool(fields.get("enable_loyalty", False)),
            "do_not_email": bool(fields.get("do_not_email", False)),
            "year_to_date": Decimal(0), "balance": Decimal(0), "loyalty_balance": Decimal(0),
            "on_account_limit": fields.get("on_account_limit"),
            "created_at": now, "updated_at": now, "deleted_at": None,
            "version": self.bump_version(),
        })
        self.customers[customer_id] = customer
        return customer_id

    def add_customer(self, *, first_name: str, last_name: str, email: str | None, customer_code: str | None = None) -> str:
        return self._create_customer({"first_name": first_name, "last_name": last_name, "email": email,
                                      "customer_code": customer_code})

    def stock(self, product_id: str) -> Decimal:
        """Current inventory level of a product at the main outlet."""
        if product_id not in self.products:
            raise KeyError(f"no product {product_id}")
        record = self.inventory.get((product_id, self.main_outlet_id))
        return record["inventory_level"] if record else Decimal(0)

    def sales_for_source_id(self, source_id: str) -> list[dict]:
        return [sale for sale in self.sales.values() if sale["source_id"] == source_id]

    def sales_of_order(self, bc_order_id: int, *, returns: bool = False) -> list[dict]:
        """Every sale of a BigCommerce order, oldest first: source_id <id>, then <id>-2… of a re-opened
        one; with `returns`, its returns instead (source_id <id>-R<refund id>)."""
        key = str(bc_order_id)
        found = [s for s in self.sales.values() if _is_return(s) == returns
                 and (s["source_id"] == key or (s["source_id"] or "").startswith(key + "-"))]
        return sorted(found, key=lambda s: (len(s["source_id"]), s["source_id"]))

    # --- effects of sales (called by xseries_sales) --------------------------------------------

    def set_inventory(self, product_id: str, outlet_id: str, level: Decimal) -> None:
        key = (product_id, outlet_id)
        record = self.inventory.get(key)
        if record is None:
            record = self.inventory[key] = {
                "id": self.new_id(), "product_id": product_id, "outlet_id": outlet_id,
                "reorder_point": None, "reorder_amount": None, "average_cost": Decimal(0),
            }
        record.update(inventory_level=level, current_amount=level, version=self.bump_version())

    def apply_sale_stock(self, sale: dict) -> None:
        """Bring stock in line with what the sale should have taken out in its new status:
        closing takes the lines out, voiding puts back exactly what was taken."""
        wanted = {
            key: qty for key, qty in stock_moves(sale).items()
            if self.products[key[0]]["has_inventory"]  # untracked products are not counted
        }
        applied = self._sale_stock.get(sale["id"], {})
        for key in set(wanted) | set(applied):
            delta = wanted.get(key, Decimal(0)) - applied.get(key, Decimal(0))
            if delta:
                current = self.inventory[key]["inventory_level"] if key in self.inventory else Decimal(0)
                self.set_inventory(key[0], key[1], current - delta)  # may go negative, as live
        self._sale_stock[sale["id"]] = wanted

    def apply_sale_balance(self, sale: dict, *, total_incl: Decimal, paid: Decimal) -> None:
        """An ONACCOUNT sale leaves its unpaid part on the customer's account (balance goes
        negative, as in the spec's customer example); closing or voiding it clears that."""
        owed = -(total_incl - paid) if sale["status"] == "ONACCOUNT" and sale["customer_id"] else Decimal(0)
        before_customer, before = self._sale_balance.get(sale["id"], (None, Decimal(0)))
        if before and before_customer is not None:
            self._adjust_balance(before_customer, -before)
        if owed:
            self._adjust_balance(sale["customer_id"], owed)
        self._sale_balance[sale["id"]] = (sale["customer_id"], owed)

    def _adjust_balance(self, customer_id: str, amount: Decimal) -> None:
        customer = self.customers[customer_id]
        customer.update(balance=customer["balance"] + amount, updated_at=self._now_iso(), version=self.bump_version())

    def invoice_number(self, register_id: str, given: str | None) -> tuple[str, int]:
        """(invoice number, sequence): the register's next, or a client-chosen one, which is kept;
        when it uses the register's prefix and suffix, the register's counter moves past it so later
        automatic numbers do not collide."""
        register = self.registers[register_id]
        prefix, suffix = register["invoice_prefix"], register["invoice_suffix"]
        if given is None or self.numbers_sales_itself:
            seq = register["invoice_sequence"] + 1
            given = f"{prefix}{seq}{suffix}"
        else:
            fits = given.startswith(prefix) and given.endswith(suffix)
            if not fits and self.prefixes_invoice_numbers:
                given, fits = f"{prefix}{given}{suffix}", True
            middle = given[len(prefix):len(given) - len(suffix)] if fits else ""
            seq = int(middle) if middle.isdigit() else 0
        if seq > register["invoice_sequence"]:
            register.update(invoice_sequence=seq, version=self.bump_version())
        return given, seq


def _handle_of(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "product"


def _is_return(sale: dict) -> bool:
    """A return names the sale it returns, or (posted without return_for) gives back every line."""
    lines = sale["line_items"]
    return bool(sale["return_for"]) or bool(lines) and all(line["quantity"] < 0 for line in lines)
