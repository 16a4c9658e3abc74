"""Lightspeed Retail X-Series client: the calls order-sync makes, typed.

Paths, parameters and bodies follow xseries-api.md (sections cited below) and the API 2.0 OpenAPI
file. Everything about HTTP itself (auth header, pacing, retries, error mapping) is the shared
ApiTransport's job; this module builds paths and parses bodies, and decides per call whether a
write is safe to repeat. Sales are in xseries_sales.py, how answers are unwrapped in xseries_answers.py,
how lists are paged in xseries_paging.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timezone
from typing import Any

import httpx

from connector.clients.transport import ApiTransport, RetryPolicy, TransportClient
from connector.clients.xseries_answers import API, data_list, data_one, path_id, unknown_outcome, written_json
from connector.clients.xseries_models import (
    Customer,
    CustomerCreate,
    InventoryRecord,
    Outlet,
    Page,
    PaymentType,
    Product,
    ProductCreate,
    ProductCreate09,
    ProductPage,
    Register,
    Retailer,
    Tax,
    User,
    VariantAttribute,
)
from connector.clients.xseries_pacer import XSeriesPacer
from connector.clients.xseries_paging import V20, PagedReads
from connector.clients.xseries_sale_models import Sale
from connector.clients.xseries_sales import SaleResources
from connector.clock import SYSTEM_CLOCK, Clock


class XSeriesClient(SaleResources, PagedReads, TransportClient):
    def __init__(
        self,
        *,
        domain_prefix: str,
        token: str,
        api_url: str | None = None,
        http_transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = SYSTEM_CLOCK,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        pacer: XSeriesPacer | None = None,
    ) -> None:
        self.api_url = (api_url or f"https://{domain_prefix}.retail.lightspeed.app").rstrip("/")
        # Set once X-Series refuses a larger 2.0 page_size: not asked for again by any feed.
        self.page_size_cap: int | None = None
        # Set once X-Series refuses a sale for its delivery/pickup attribute (OrderMirror): every later
        # sale of this client goes without it, whichever cycle or webhook sends it.
        self.fulfilment_refused = False
        # Set once X-Series refuses a sale's invoice number without the register's prefix/suffix and
        # takes it with them (OrderMirror, RefundMirror): later sales and returns carry them at once.
        self.invoices_affixed = False
        # Set once a sale is answered under an invoice number that is none of ours (OrderMirror):
        # said once a process, as a WARNING.
        self.numbers_sales_itself = False
        # One pacer per client: every call of this integration spends the same per-retailer quota.
        self.pacer = pacer or XSeriesPacer(clock=clock)
        self.transport = ApiTransport(
            api=API,
            base_url=self.api_url,
            # httpx adds Content-Type: application/json to every JSON body itself.
            headers={"Authorization": f"Bearer {token}"},
            pacer=self.pacer,
            retry=retry,
            clock=clock,
            http_transport=http_transport,
            timeout=timeout,
        )

    def __repr__(self) -> str:  # never the token
        return f"XSeriesClient(api_url={self.api_url!r})"

    # -- reference data (§7) -----------------------------------------------------------------

    async def retailer(self) -> Retailer:
        path = f"{V20}/retailer"
        return Retailer.model_validate(data_one(await self._get_json(path), path, needed="retailer"))

    async def outlets(self) -> list[Outlet]:
        return await self._list_all(f"{V20}/outlets", Outlet.model_validate)

    async def registers(self) -> list[Register]:
        return await self._list_all(f"{V20}/registers", Register.model_validate)

    async def register(self, register_id: str) -> Register | None:
        """One register (GET /api/2.0/registers/{id}, §7); None when the answer holds none."""
        path = f"{V20}/registers/{path_id(register_id)}"
        found = data_one(await self._get_json(path), path)
        return None if found is None else Register.model_validate(found)

    async def open_register(self, register_id: str) -> None:
        """PUT /api/2.0/registers/{id}/actions/open (§7), opened now (UTC). Safe to repeat: a
        second open leaves the register open."""
        at = self.transport.clock.now().astimezone(timezone.utc).isoformat(timespec="seconds")
        await self.transport.request("PUT", f"{V20}/registers/{path_id(register_id)}/actions/open",
                                     json={"register_open_time": at}, safe_to_repeat=True)

    async def users(self) -> list[User]:
        return await self._list_all(f"{V20}/users", User.model_validate, data_required=True)

    async def current_user(self) -> User | None:
        """The token's own user (GET /api/2.0/user, §7); None when the answer holds no user."""
        found = data_one(await self._get_json(f"{V20}/user"), f"{V20}/user")
        return None if found is None else User.model_validate(found)

    async def payment_types(self) -> list[PaymentType]:
        return await self._list_all(f"{V20}/payment_types", PaymentType.model_validate)

    async def taxes(self) -> list[Tax]:
        return await self._list_all(f"{V20}/taxes", Tax.model_validate, data_required=True)

    async def variant_attributes(self) -> list[VariantAttribute]:
        """Every variant attribute ("Size", "Colour"): one answer, not a version feed (spec)."""
        path = f"{V20}/variant_attributes"
        return [VariantAttribute.model_validate(item) for item in data_list(await self._get_json(path), path)]

    # -- version-cursor feeds (§6) -----------------------------------------------------------

    def iter_products(
        self, after_version: int = 0, page_size: int = 1000, *, include_deleted: bool = False
    ) -> AsyncIterator[ProductPage]:
        """GET /api/2.0/products page by page; keep the last max_version to resume from."""
        return self._iter_versioned(
            f"{V20}/products", Product.model_validate, ProductPage, after_version, page_size, include_deleted
        )

    def iter_customers(
        self, after_version: int = 0, page_size: int = 1000, *, include_deleted: bool = False
    ) -> AsyncIterator[Page[Customer]]:
        return self._iter_versioned(
            f"{V20}/customers", Customer.model_validate, Page, after_version, page_size, include_deleted
        )

    def iter_sales(
        self, after_version: int = 0, page_size: int = 1000, *, include_deleted: bool = False
    ) -> AsyncIterator[Page[Sale]]:
        return self._iter_versioned(
            f"{V20}/sales", Sale.model_validate, Page, after_version, page_size, include_deleted
        )

    # -- products (§9) -----------------------------------------------------------------------

    async def find_products_by_sku(self, sku: str) -> list[Product]:
        """Live products whose SKU is `sku`. The search wants SKUs lowercased (spec, /search).
        Whether it matches exactly and leaves deleted products out (its `deleted` parameter has no
        documented default) is not promised: only exact, live matches are kept."""
        wanted = sku.strip()
        if not wanted:
            raise ValueError("empty SKU")

        def exact(products: list[Product]) -> list[Product]:
            return [p for p in products if p.deleted_at is None and (p.sku or "").strip().lower() == wanted.lower()]

        return await self._search_exact("products", {"sku": wanted.lower()}, wanted, Product.model_validate, exact)

    async def create_product(self, body: ProductCreate) -> list[str]:
        """POST /api/2.0/products: the ids of the new products (the API answers {"data": [ids]}).
        Which ids a family create answers with is unverified; look its variants up by SKU."""
        path = f"{V20}/products"
        # A create is not safe to repeat: a lost answer raises UnknownWriteOutcome (look the SKU up).
        response = await self.transport.request("POST", path, json_bytes=body.to_json(), safe_to_repeat=False)
        data = written_json(response, path).get("data")
        if isinstance(data, dict):
            data = [data]
        if isinstance(data, list):
            # The spec's example answers bare ids; its schema types the items as objects.
            data = [item.get("id") if isinstance(item, dict) else item for item in data]
        if isinstance(data, list) and data and all(isinstance(item, str) and item for item in data):
            return data
        raise unknown_outcome("product create answered without an id; look the SKU up before creating again",
                               response, path, data)

    async def create_untracked_product(self, *, name: str, sku: str, handle: str,
                                       source_id: str | None = None) -> str | None:
        """A product that is not stock-tracked (shipping, custom lines…), through the 0.9
        POST /api/products: the 2.0 body cannot say track_inventory. The answer's shape is
        unverified (§9.3): the product wrapped in `product`, `products` or 2.0's `data` (an object,
        its id, or a list of one), or bare. None when it names no one id: the product may exist, so
        look it up by SKU. Not safe to repeat (UnknownWriteOutcome)."""
        path = "/api/products"
        body = ProductCreate09(name=name, sku=sku, handle=handle, source_id=source_id)
        response = await self.transport.request("POST", path, json_bytes=body.to_json(), safe_to_repeat=False)
        answer = written_json(response, path)
        product: Any = next((answer[k] for k in ("product", "products", "data") if k in answer), answer)
        if isinstance(product, list):
            # One created product: a list of two cannot say which is ours (never guess an id).
            product = product[0] if len(product) == 1 else None
        product_id = product.get("id") if isinstance(product, dict) else product
        return product_id if isinstance(product_id, str) and product_id else None

    async def track_inventory(self, product_id: str) -> None:
        """Make a product stock-tracked: the 0.9 update (POST /api/products with its id), the one
        body that says track_inventory (§9.3). Setting it again changes nothing: safe to repeat."""
        path = "/api/products"
        body = json.dumps({"id": product_id, "track_inventory": True}).encode()
        written_json(await self.transport.request("POST", path, json_bytes=body, safe_to_repeat=True), path)

    async def inventory(self, product_id: str) -> list[InventoryRecord]:
        """Stock of one product in every outlet (GET /api/2.0/products/{id}/inventory)."""
        path = f"{V20}/products/{path_id(product_id)}/inventory"
        return [InventoryRecord.model_validate(item) for item in data_list(await self._get_json(path), path)]

    # -- customers (§10) ---------------------------------------------------------------------

    async def search_customers_by_email(self, email: str) -> list[Customer]:
        """Customers whose e-mail is `email`, compared case-insensitively: the search's own
        matching (exact or partial, case rules) is undocumented, so results are only candidates."""
        wanted = email.strip().lower()
        if not wanted:
            raise ValueError("empty e-mail")
        # A deleted customer is no match (the search's `deleted` default is undocumented).
        return await self._search_exact("customers", {"email": email.strip()}, wanted, Customer.model_validate,
                                        lambda found: [c for c in found if c.deleted_at is None and c.email
                                                       is not None and c.email.strip().lower() == wanted])

    async def search_customers_by_code(self, code: str) -> list[Customer]:
        """Live customers whose customer_code is `code`, compared as e-mails are (candidates only)."""
        wanted = code.strip().casefold()
        return await self._search_exact("customers", {"customer_code": code.strip()}, wanted, Customer.model_validate,
                                        lambda found: [c for c in found if c.deleted_at is None and
                                                       (c.customer_code or "").strip().casefold() == wanted])

    async def create_customer(self, body: CustomerCreate) -> Customer:
        """POST /api/2.0/customers → 201 {"data": Customer}. Not safe to repeat."""
        path = f"{V20}/customers"
        response = await self.transport.request("POST", path, json_bytes=body.to_json(), safe_to_repeat=False)
        data = written_json(response, path).get("data")
        if not isinstance(data, dict) or not data.get("id"):
            raise unknown_outcome(
                "customer create answered without the customer; search by e-mail before creating again",
                response, path, data)
        return Customer.model_validate(data)
