"""Lightspeed Retail X-Series client: the calls order-sync makes, typed.

Paths, parameters and bodies follow xseries-api.md (sections cited below) and the API 2.0 OpenAPI
file. Everything about HTTP itself (auth header, pacing, retries, error mapping) is the shared
ApiTransport's job; this module builds paths and parses bodies, and decides per call whether a
write is safe to repeat. Sales are in xseries_sales.py, how answers are unwrapped in xseries_answers.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import timezone
from typing import Any, TypeVar

import httpx

from connector.clients.transport import ApiTransport, RetryPolicy, TransportClient
from connector.clients.xseries_answers import (API, data_list, data_one, parsed_items, path_id, unknown_outcome,
                                               written_json)
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
from connector.clients.xseries_sale_models import Sale
from connector.clients.xseries_sales import SaleResources
from connector.clock import SYSTEM_CLOCK, Clock
from connector.errors import PermanentApiError

log = logging.getLogger("connector.xseries")

V20 = "/api/2.0"
# The search endpoint pages by offset; 1000 is its documented maximum page size (§6).
SEARCH_PAGE_SIZE = 1000
# A live store's product search by `sku` returns nothing for SKUs containing these characters
# (xseries-api.md §9.1 "live quirk"); for them every exact look-up falls back to free-text `q`.
SEARCH_MISSES = frozenset("-")

T = TypeVar("T")
P = TypeVar("P", bound=Page)


DOCUMENTED_PAGE_SIZE = 200  # what the 2.0 docs are said to give as the maximum (§6)


class XSeriesClient(SaleResources, TransportClient):
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

    # -- plumbing ----------------------------------------------------------------------------

    async def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = await self.transport.request("GET", path, params=params)
        return response.json_or_retry(API, path)

    async def _iter_versioned(
        self,
        path: str,
        parse: Callable[[Any], T],
        page_type: type[P],
        after_version: int,
        page_size: int,
        include_deleted: bool,
        whole_without_cursor: bool = False,
        data_required: bool = False,
    ) -> AsyncIterator[P]:
        """Follow the 2.0 version cursor: after=<max of the previous page>, stop on empty data.

        The 2.0 maximum page_size is not confirmed (§6: the docs are said to give 200, larger works):
        a server that refuses a larger one (400/422) is asked again with 200, and so on after.
        whole_without_cursor: a page that names no version at all (neither its items nor a `version`
        block) is the whole collection, as a server may give a small one (§7 lists taxes and users
        without `version`; the spec's TaxCollection has no `version` block), not an error; and a later
        page with nothing after the cursor is a server that ignored `after` and gave the list again."""
        after = after_version
        if self.page_size_cap is not None:
            page_size = min(page_size, self.page_size_cap)
        while True:
            params: dict[str, Any] = {"after": after, "page_size": page_size}
            if include_deleted:
                params["deleted"] = "true"
            try:
                body = await self._get_json(path, params)
            except PermanentApiError as exc:
                if exc.status not in (400, 422) or page_size <= DOCUMENTED_PAGE_SIZE:
                    raise
                log.info("X-Series refused page_size %d on %s; asking for %d", page_size, path, DOCUMENTED_PAGE_SIZE)
                page_size = self.page_size_cap = DOCUMENTED_PAGE_SIZE
                continue
            raw_items = data_list(body, path, required=data_required)
            if not raw_items:
                return
            items = parsed_items(raw_items, parse, path)
            max_version = _max_version(body, raw_items)
            if whole_without_cursor and (max_version is None or max_version <= after):
                if max_version is None:
                    yield page_type(items=items, max_version=None)
                # Else every item is at or before the cursor, so already read: the list ends here.
                return
            if max_version is None or max_version <= after:
                # Without a cursor that moves, the next request would return this page again.
                raise PermanentApiError(
                    f"version cursor did not advance past {after}",
                    api=API, method="GET", path=path, body=body.get("version"),
                )
            yield page_type(items=items, max_version=max_version)
            after = max_version

    async def _list_all(self, path: str, parse: Callable[[Any], T], data_required: bool = False) -> list[T]:
        """A small reference collection (outlets, registers, users, payment types, taxes), read to
        the empty page that ends a version feed (§6). Not ended early at a short page: a page may be
        cut below the size asked for (the 2.0 maximum is unconfirmed, §6), and a register or tax
        left unread stops start-up with "X-Series has no register…"; one more call per collection."""
        result: list[T] = []
        async for page in self._iter_versioned(path, parse, Page, 0, 1000, False, whole_without_cursor=True,
                                               data_required=data_required):
            result.extend(page.items)
        return result

    async def _search_exact(self, kind: str, criteria: dict[str, str], wanted: str,
                            parse: Callable[[Any], T], exact: Callable[[list[T]], list[T]]) -> list[T]:
        """The exact matches of a keyed search. §9.1: on live stores `sku=` misses hyphenated SKUs;
        whether other keys (an e-mail, a customer code, an invoice number BC-123) miss them too is
        unverified, and a miss there creates a second customer or sale, so every exact look-up of a
        hyphenated value that finds nothing asks the free-text `q` (undocumented) too — its first page
        only: a server that ignores `q` answers with every sale or customer, and paging through them
        all at each look-up would spend the quota (what it ignored finds nothing, as before)."""
        found = exact(await self._search(kind, criteria, parse))
        if found or not (SEARCH_MISSES & set(wanted)):
            return found
        try:
            return exact(await self._search(kind, {"q": wanted}, parse, pages=1))
        except PermanentApiError as exc:
            if exc.status not in (400, 422):
                raise
            # A server that does not know `q` (it is not in the spec): the keyed search has answered.
            log.info("X-Series refused the free-text %s search (%s); %r not found", kind, exc, wanted)
            return []

    async def _search(
        self, kind: str, criteria: dict[str, str], parse: Callable[[Any], T], pages: int | None = None
    ) -> list[T]:
        """GET /api/2.0/search: pages by offset (not by version), at most 1000 per page; `pages`: at
        most that many."""
        found: list[T] = []
        offset = read = 0
        while True:
            params = {"type": kind, **criteria, "page_size": SEARCH_PAGE_SIZE, "offset": offset}
            raw_items = data_list(await self._get_json(f"{V20}/search", params), f"{V20}/search")
            found.extend(parsed_items(raw_items, parse, f"{V20}/search"))
            read += 1
            if len(raw_items) < SEARCH_PAGE_SIZE or read == pages:
                return found
            offset += len(raw_items)


def _max_version(body: dict[str, Any], raw_items: list[Any]) -> int | None:
    """The page's cursor: the items' own highest version, else `version.max`. The items decide:
    a `version.max` beyond the last item read (the collection's, not the page's) would skip the
    items between them."""
    versions = [v for v in (_version_number(i.get("version")) for i in raw_items if isinstance(i, dict))
                if v is not None]
    if versions:
        return max(versions)
    block = body.get("version")
    return _version_number(block.get("max")) if isinstance(block, dict) else None


def _version_number(value: Any) -> int | None:
    # A JSON integer, or the same digits in a string (some answers send numbers as strings).
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
