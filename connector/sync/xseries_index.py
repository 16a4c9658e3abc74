"""The local index of X-Series products and customers, kept current through version cursors.

One refresh per cycle costs one empty page per feed in steady state, and turns every "does this
SKU / e-mail exist in X-Series?" into a local lookup (API economy, and immune to the hyphenated-SKU
search quirk of reference §9.1)."""

from __future__ import annotations

from connector.clients.xseries import XSeriesClient
from connector.mapping.planned_sale import email_key
from connector.store.repository import Store


class XSeriesIndex:
    def __init__(self, store: Store, xs: XSeriesClient) -> None:
        self.store = store
        self.xs = xs

    async def refresh(self) -> None:
        await self.refresh_products()
        await self.refresh_customers()

    async def refresh_products(self) -> None:
        after = self.store.index_version("products")
        async for page in self.xs.iter_products(after_version=after, include_deleted=True):
            self.store.upsert_indexed_products([
                {"id": p.id, "sku_key": (p.sku or "").strip().casefold(), "name": p.name or "",
                 "version": p.version or 0, "deleted": p.deleted_at is not None}
                for p in page.items
            ])
            if page.max_version is not None:
                self.store.set_index_version("products", page.max_version)

    async def refresh_customers(self) -> None:
        after = self.store.index_version("customers")
        async for page in self.xs.iter_customers(after_version=after, include_deleted=True):
            self.store.upsert_indexed_customers([
                {"id": c.id, "email_key": email_key(c.email or ""),
                 "version": c.version or 0, "deleted": c.deleted_at is not None}
                for c in page.items
            ])
            if page.max_version is not None:
                self.store.set_index_version("customers", page.max_version)
