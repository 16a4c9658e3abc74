"""Product and customer bindings, and the local X-Series indexes they are found in.

A mixin of Store (connector.store.repository), which gives it `db`, the id caches and `_ending_work`."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import select

from connector.store.leases import LeaseHandle
from connector.store.lookups import (CUSTOMER_LOOKUP, CACHED_AMONG, PRODUCT_LOOKUP, Lookup, ProductLookup,
                                     made_for_custom, oldest_live)
from connector.store.tables import CustomerBinding, ProductBinding, XsCustomer, XsProduct

_PRODUCT_ID_SELECT = core_select(ProductBinding.xs_product_id).where(
    ProductBinding.pair == bindparam("pair"), ProductBinding.key == bindparam("key"))
_CUSTOMER_ID_SELECT = core_select(CustomerBinding.xs_customer_id).where(
    CustomerBinding.pair == bindparam("pair"), CustomerBinding.email_key == bindparam("key"))
_MADE_FOR_CUSTOM = core_select(made_for_custom(bindparam("id")))
_INDEXED_PRODUCT_ID = oldest_live(XsProduct, XsProduct.sku_key)
_INDEXED_CUSTOMER_ID = oldest_live(XsCustomer, XsCustomer.email_key)


class ProductCustomerBook:
    def product_id(self, key: str) -> str | None:
        """The X-Series product bound to a line key, or None (cached once bound: never changes)."""
        return self._bound_id(self._product_ids, _PRODUCT_ID_SELECT, key)

    def customer_id(self, email_key: str) -> str | None:
        """The X-Series customer bound to a casefolded e-mail, or None (cached once bound)."""
        return self._bound_id(self._customer_ids, _CUSTOMER_ID_SELECT, email_key)

    def _bound_id(self, cache: "_Lru", statement, key: str) -> str | None:
        cached = cache.get(key)
        if cached is None:
            row = self.db.first(statement, {"pair": self.pair, "key": key})
            if row is not None:
                cached = cache[key] = row[0]
        return cached

    def product_binding(self, key: str) -> ProductBinding | None:
        with self.session() as s:
            return s.get(ProductBinding, (self.pair, key))

    def product_bindings(self) -> list[ProductBinding]:
        with self.session() as s:
            return list(s.exec(select(ProductBinding).where(ProductBinding.pair == self.pair)))

    def customer_binding(self, email_key: str) -> CustomerBinding | None:
        with self.session() as s:
            return s.get(CustomerBinding, (self.pair, email_key))

    def bind_product(self, key: str, xs_product_id: str, sku: str, *, created: bool,
                     name: str | None = None, audit: dict[str, Any] | None = None,
                     lease: LeaseHandle | None = None) -> None:
        """Bind a line key to a product. One order-sync just created (`name` and `audit` given) also
        gets its index row, its audit entry and the release of its creation lease, in the same
        transaction (another process's index refresh may be indexing it at the same moment)."""
        index_row = None if name is None else {
            "pair": self.pair, "id": xs_product_id, "sku_key": sku.strip().casefold(), "name": name, "version": 0, "deleted": False}
        self._bind("xs_product", index_row, "product_binding", {
            "pair": self.pair, "key": key, "xs_product_id": xs_product_id, "sku": sku, "created": created,
            "created_at": self.clock.now()}, audit, lease)
        self._product_ids[key] = xs_product_id

    def bind_customer(self, email_key: str, xs_customer_id: str, *, created: bool,
                      audit: dict[str, Any] | None = None, lease: LeaseHandle | None = None) -> None:
        """Bind an e-mail to a customer; one order-sync just created as in bind_product."""
        index_row = None if audit is None else {
            "pair": self.pair, "id": xs_customer_id, "email_key": email_key, "version": 0, "deleted": False}
        self._bind("xs_customer", index_row, "customer_binding", {
            "pair": self.pair, "email_key": email_key, "xs_customer_id": xs_customer_id, "created": created,
            "created_at": self.clock.now()}, audit, lease)
        self._customer_ids[email_key] = xs_customer_id

    def _bind(self, index: str, index_row: dict[str, Any] | None, binding: str, binding_row: dict[str, Any],
              audit: dict[str, Any] | None, lease: LeaseHandle | None) -> None:
        with self._ending_work(audit, lease) as conn:
            if index_row is not None:
                conn.execute(self._upserts[index], index_row)
            conn.execute(self._upserts[binding], binding_row)

    def made_for_custom_line(self, xs_product_id: str) -> bool:
        """Whether order-sync created this product for a custom line or gift certificate (untracked)."""
        return bool(self.db.first(_MADE_FOR_CUSTOM, {"pair": self.pair, "id": xs_product_id})[0])

    def product_lookup(self, key: str, sku: str) -> ProductLookup:
        """A line key's binding, whether it is deleted, and the indexed product with its SKU."""
        row = self.db.first(PRODUCT_LOOKUP, {"pair": self.pair, "key": key, "index_key": sku.strip().casefold()})
        if row.bound is not None and not row.deleted and not _moved(key, row.bound_sku_key):
            self._product_ids[key] = row.bound  # only a binding still good (one not is rebound, maybe later)
        return ProductLookup(row.bound, bool(row.deleted), row.indexed, bool(row.made_for_custom), row.bound_sku_key)

    def customer_lookup(self, email_key: str) -> Lookup:
        """An e-mail's binding, whether it is deleted, and the indexed customer with the e-mail."""
        row = self.db.first(CUSTOMER_LOOKUP, {"pair": self.pair, "key": email_key,
                                               "index_key": email_key.strip().lower()})  # as mapping.email_key
        if row.bound is not None:
            self._customer_ids[email_key] = row.bound
        return Lookup(row.bound, bool(row.deleted), row.indexed)

    def live_cached(self, product_keys: Iterable[str], email_key: str | None) -> tuple[dict[str, str], str | None]:
        """The ids of these keys bound in this process's cache, less those the index knows as deleted
        in X-Series: (product key → id, the customer's id or None). One statement for an order's
        products and customer, none when nothing is cached; a key left out is looked up afresh."""
        products = {key: found for key in product_keys if (found := self._product_ids.get(key)) is not None}
        customer = self._customer_ids.get(email_key) if email_key else None
        if not products and customer is None:
            return products, customer
        rows = self.db.all(CACHED_AMONG, {"pair": self.pair, "products": list(set(products.values())),
                                          "customers": [customer] if customer is not None else []})
        deleted = {(row.kind, row.id) for row in rows if row.deleted}
        skus = {row.id: row.sku_key for row in rows if row.kind == "products"}
        live = {key: found for key, found in products.items()
                if ("products", found) not in deleted and not _moved(key, skus.get(found))}
        for key in products.keys() - live.keys():  # looked up afresh (ProductBinder._existing rebinds)
            del self._product_ids[key]
        return live, None if ("customers", customer) in deleted else customer

    def indexed_product_id(self, sku: str) -> str | None:
        """The X-Series product with this SKU in the local index (case and spaces ignored)."""
        row = self.db.first(_INDEXED_PRODUCT_ID, {"pair": self.pair, "key": sku.strip().casefold()})
        return row[0] if row is not None else None

    def indexed_customer_id(self, email: str) -> str | None:
        row = self.db.first(_INDEXED_CUSTOMER_ID, {"pair": self.pair, "key": email.strip().casefold()})
        return row[0] if row is not None else None

    def upsert_indexed_products(self, rows: list[dict[str, Any]]) -> None:
        """Index rows, as dicts of the table's columns (plain dicts: a catalogue has thousands). A
        cached SKU key whose product now has another SKU (the merchant moved it) is forgotten: the
        next order looks it up again (ProductBinder._existing)."""
        self._upsert_many("xs_product", rows)
        skus = {row["id"]: row["sku_key"] for row in rows}
        for key, found in list(self._product_ids.items()):
            if _moved(key, skus.get(found)):
                del self._product_ids[key]

    def upsert_indexed_customers(self, rows: list[dict[str, Any]]) -> None:
        self._upsert_many("xs_customer", rows)

    def _upsert_many(self, table: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self.db.begin() as conn:
                conn.execute(self._upserts[table], [{**row, "pair": self.pair} for row in rows])


def _moved(key: str, indexed_sku_key: str | None) -> bool:
    """A SKU line key (sku:<sku>, custom:<sku>) whose bound product the index shows with another SKU."""
    return indexed_sku_key is not None and key.startswith(("sku:", "custom:")) and key.split(":", 1)[1] != indexed_sku_key


class _Lru(OrderedDict):
    """A dict that forgets its least recently used entries beyond `size`."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get(self, key, default=None):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)
