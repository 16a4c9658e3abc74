"""A stateful Lightspeed Retail X-Series simulator (Starlette ASGI app), for tests, demo, benchmarks.

Follows shared/reference/xseries-api.md and the API 2.0 OpenAPI file: Bearer auth (401), optional
scopes (403), the §4 rate limit (`300 × registers + 50` per 300 s window, X-RateLimit-* headers, 429
with an HTTP-date Retry-After), 2.0 reads with version-cursor paging, search, customer and product
creates, the 0.9 product and sale writes (xseries_products, xseries_sales), reference data as a store
has it (taxes, variant attributes, the retailer's "Discount" product), faults and a request log.
What the reference marks unverified is a constructor knob.
"""

from __future__ import annotations

import asyncio
import json
import random
import string
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from connector.clock import SYSTEM_CLOCK, Clock
from connector.sandbox.faults import FaultConfig, FaultInjector, LoggedRequest, SimulatedTimeout
from connector.sandbox.transport import Simulator, find_route, query_value, route, within
from connector.sandbox.xseries_merchant import CUSTOMER_TEXT_FIELDS, MerchantSide
from connector.sandbox.xseries_products import create_products, write_product_09
from connector.sandbox.xseries_sales import (
    RETURNABLE_STATUSES,
    SimHttpError,
    bad_request,
    not_found,
    render_sale_09,
    render_sale_20,
    unprocessable,
    write_register_sale,
)
from connector.values import parse_iso8601, to_http_date, to_iso8601

_SYMBOLS = {"USD": "$", "NZD": "$", "AUD": "$", "CAD": "$", "EUR": "€", "GBP": "£"}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _json_value(value: Any) -> Any:
    """Internal values json cannot write: Decimal → number (X-Series sends money as JSON numbers),
    datetime → ISO-8601."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return to_iso8601(value)
    raise TypeError(f"not JSON: {value!r}")


@dataclass
class _Call:
    """What a handler needs from a request."""

    request: Request
    body: Any


class XSeriesSimulator(MerchantSide, Simulator):
    base_url = "http://xseries.sim"
    secret_header = "authorization"
    # [I] The 2.0 default/maximum page_size is not documented (reference §6, §13).
    default_page_size = 1000
    max_page_size = 10_000
    max_search_page_size = 1000  # spec: "currently limited to 1000"
    # Retry-After of an *injected* 429: short, so a demo on the system clock does not stall.
    injected_retry_after_seconds = 1.0

    def __init__(
        self,
        *,
        domain_prefix: str = "mystore",
        token: str = "xs-test-token",
        clock: Clock = SYSTEM_CLOCK,
        registers: int = 1,
        window_seconds: float = 300.0,
        rate_limit: int | None = None,  # None → 300 × registers + 50 per window (reference §4)
        faults: FaultConfig | None = None,
        tax_exclusive: bool = True,
        currency: str = "USD",  # the retailer's (and its outlet's) currency code
        # Taxes besides "No Tax" and the default "GST" (15 %): (name, rate), rate 0.2 = 20 %.
        extra_taxes: tuple[tuple[str, Decimal], ...] = (("Standard VAT", Decimal("0.2")),
                                                        ("Reduced VAT", Decimal("0.05"))),
        reject_duplicate_source_id: bool = False,  # unverified in the reference (§8.4): knob
        closed_requires_full_payment: bool = False,  # unverified (§13): knob
        accepts_return_for: bool = True,  # whether the 0.9 body takes return_for is unverified (§8.2): knob
        # A given invoice number "should use the register's prefix/suffix" (§8.2): whether a server adds
        # them to one that does not is unverified: knob.
        prefixes_invoice_numbers: bool = False,
        # ...or refuses (422) one that does not (the spec's "should use"): knob.
        invoice_numbers_need_affixes: bool = False,
        # ...or numbers every sale itself, the register's next number, whatever it is given: knob.
        numbers_sales_itself: bool = False,
        # Whether CLOSED may carry `delivery` (§8.1's table gives closed + delivery its own status,
        # DISPATCHED_CLOSED) is unverified: knob refusing a status that does not name every attribute.
        status_names_attributes: bool = False,
        # A server that ignores a posted sale's id and makes a new sale (the reference: "include
        # existing sale id to update"): knob, for the connector's check of the answer.
        ignores_sale_ids: bool = False,
        # Whether a tax-inclusive retailer's 0.9 line `price` is read excluding tax is unverified
        # (§13): knob reading it as tax-inclusive there (the stored price is price − tax).
        line_price_includes_tax: bool = False,
        sku_search_misses_hyphens: bool = False,  # live quirk §9.1: knob
        # Whether the quirk hits the other exact keys (e-mail, customer code, invoice number) is
        # unverified: knob extending it to every key.
        search_misses_hyphens: bool = False,
        # How soon the search sees a sale written is undocumented: knob hiding a sale from the search
        # for this many seconds after it is created (an index that lags behind the writes).
        search_lag_seconds: float = 0.0,
        # Whether API sales need an open register is unverified (§7, §13): knob refusing (422) a sale
        # posted to a closed register (close_register; PUT …/actions/open opens it).
        sales_need_open_register: bool = False,
        # Further knobs (all default to the documented / most likely behaviour):
        scopes: set[str] | None = None,  # None = every scope; else e.g. {"sales:read", ...}
        current_user_as_list: bool = False,  # /user: spec schema says object, its example a list
        sale_read_completed_only: bool = False,  # /sales/{id}: spec text says completed sales only
        # [I] The 0.9 product write's answer (§9.3): "product" ({"product": {...}}), "bare" (the
        # product itself) or "no_id" ({"product": {...}} without its id).
        product_09_answer: str = "product",
        seed: int = 0,
    ) -> None:
        if registers < 1:
            raise ValueError("registers must be at least 1")
        if product_09_answer not in ("product", "bare", "no_id"):
            raise ValueError(f"unknown product_09_answer: {product_09_answer!r}")
        self.product_09_answer = product_09_answer
        self.currency = currency
        self.domain_prefix = domain_prefix
        self.token = token
        self.clock = clock
        self.window_seconds = window_seconds
        self.rate_limit = rate_limit if rate_limit is not None else 300 * registers + 50
        self.faults = FaultInjector(faults)
        self.tax_exclusive = tax_exclusive
        self.reject_duplicate_source_id = reject_duplicate_source_id
        self.closed_requires_full_payment = closed_requires_full_payment
        self.accepts_return_for = accepts_return_for
        self.prefixes_invoice_numbers = prefixes_invoice_numbers
        self.invoice_numbers_need_affixes = invoice_numbers_need_affixes
        self.numbers_sales_itself = numbers_sales_itself
        self.sales_need_open_register = sales_need_open_register
        self.status_names_attributes = status_names_attributes
        self.ignores_sale_ids = ignores_sale_ids
        self.line_price_includes_tax = line_price_includes_tax
        self.sku_search_misses_hyphens = sku_search_misses_hyphens or search_misses_hyphens
        self.search_misses_hyphens = search_misses_hyphens
        self.search_lag_seconds = search_lag_seconds
        self.scopes = scopes
        # Live products per lowercased SKU: the duplicate check on create looked through every
        # product, which made a 100,000-order benchmark wait on the simulator, not the connector.
        self.live_by_sku: dict[str, set[str]] = {}
        self.current_user_as_list = current_user_as_list
        self.sale_read_completed_only = sale_read_completed_only

        self._rng = random.Random(seed)
        self._version = 1000
        self._sku_sequence = 10000
        # sale id → stock it has taken out, per (product_id, outlet_id); sale id → account balance
        self._sale_stock: dict[str, dict[tuple[str, str], Decimal]] = {}
        self._sale_balance: dict[str, tuple[str | None, Decimal]] = {}

        self.outlets: dict[str, dict] = {}
        self.registers: dict[str, dict] = {}
        self.users: dict[str, dict] = {}
        self.payment_types: dict[str, dict] = {}
        self.taxes: dict[str, dict] = {}
        self.variant_attributes: dict[str, dict] = {}
        self.products: dict[str, dict] = {}
        self.customers: dict[str, dict] = {}
        self.sales: dict[str, dict] = {}
        self.inventory: dict[tuple[str, str], dict] = {}
        self._seed_reference_data(registers, extra_taxes)

        self._routes = self._build_routes()
        super().__init__()

    # --- ids, versions, time ---------------------------------------------------------------------

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def bump_version(self) -> int:
        # Global and increasing, with gaps (reference §6: "gaps are normal"), so clients cannot
        # assume contiguous versions.
        self._version += self._rng.randint(1, 3)
        return self._version

    def new_short_code(self) -> str:
        return "".join(self._rng.choice(string.ascii_lowercase) for _ in range(6))

    def _now_iso(self) -> str:
        return to_iso8601(self.clock.now())

    # --- reference data ------------------------------------------------------------------------

    def _seed_reference_data(self, register_count: int, extra_taxes: tuple[tuple[str, Decimal], ...]) -> None:
        now = self._now_iso()
        self.tax_ids: dict[str, str] = {}  # tax name → id
        for name, rate in (("No Tax", Decimal(0)), ("GST", Decimal("0.15")), *extra_taxes):
            tax_id = self.tax_ids[name] = self.new_id()
            self.taxes[tax_id] = {
                "id": tax_id, "name": name, "display_name": name, "is_default": name == "GST",
                "rates": [{"id": self.new_id(), "name": name, "rate": rate, "display_name": name}],
                "deleted_at": None, "version": self.bump_version(),
            }
        self.no_tax_id, self.default_tax_id = self.tax_ids["No Tax"], self.tax_ids["GST"]
        self.variant_attribute_ids: dict[str, str] = {}  # attribute name → id
        for name in ("Size", "Colour"):
            attribute_id = self.variant_attribute_ids[name] = self.new_id()
            self.variant_attributes[attribute_id] = {"id": attribute_id, "name": name, "deleted_at": None}

        self.main_outlet_id = self.new_id()
        self.outlets[self.main_outlet_id] = {
            "id": self.main_outlet_id, "name": "Main Outlet", "default_tax_id": self.default_tax_id,
            "currency": self.currency, "currency_symbol": _SYMBOLS.get(self.currency, self.currency),
            "display_prices": "exclusive" if self.tax_exclusive else "inclusive",
            "time_zone": "Pacific/Auckland", "physical_address_1": "", "physical_address_2": "",
            "physical_suburb": "", "physical_city": "Auckland", "physical_postcode": "",
            "physical_state": "", "physical_country_id": "NZ", "email": "shop@example.com",
            "attributes": [], "deleted_at": None, "version": self.bump_version(),
        }

        for n in range(register_count):
            register_id = self.new_id()
            self.registers[register_id] = {
                "id": register_id, "name": "Online Store" if n == 0 else f"Register {n + 1}",
                "outlet_id": self.main_outlet_id,
                "invoice_prefix": "OS-" if n == 0 else f"R{n + 1}-", "invoice_suffix": "",
                "invoice_sequence": 0, "is_open": True, "register_open_time": now,
                "register_close_time": None, "print_receipt": False, "email_receipt": False,
                "ask_for_note_on_save": 0, "print_note_on_receipt": False,
                "ask_for_user_on_sale": False, "show_discounts_on_receipts": True,
                "button_layout_id": None, "deleted_at": None, "version": self.bump_version(),
            }
        self.main_register_id = next(iter(self.registers))  # the first, the Online Store

        self.user_id = self.new_id()
        self.users[self.user_id] = {
            "id": self.user_id, "username": "api@example.com", "display_name": "Online Shop",
            "email": "api@example.com", "email_verified_at": None, "account_type": "admin",
            "enabled": True, "restricted_outlet_id": None, "restricted_outlet_ids": [],
            "is_primary_user": True, "created_at": now, "updated_at": now, "deleted_at": None,
            "version": self.bump_version(),
        }

        self.payment_type_ids: dict[str, str] = {}
        # type_id = the global payment type; illustrative values (it must not be used to identify).
        for name, type_id in (("Cash", 1), ("Credit Card", 2), ("Other", 7), ("Store Credit", 13)):
            ptype_id = self.payment_type_ids[name] = self.new_id()
            self.payment_types[ptype_id] = {
                "id": ptype_id, "name": name, "type_id": type_id, "deleted_at": None,
                "version": self.bump_version(),
            }

        self.customer_group_id = self.new_id()
        # Every store has this product: a sale-level discount is a line on it with quantity -1.
        self.discount_product_id = self.store_product(name="Discount", sku="vend-discount", track_inventory=False)
        self.retailer = {
            "id": self.new_id(), "domain_prefix": self.domain_prefix, "name": "Simulated Store",
            "account_status": "active", "tax_exclusive": self.tax_exclusive, "country": "NZ",
            "currency": {"code": self.currency, "symbol": _SYMBOLS.get(self.currency, self.currency)},
            "timezone": "Pacific/Auckland", "culture": "en-NZ", "discount_product_id": self.discount_product_id,
            "no_tax_group_id": self.no_tax_id, "store_credit": True,
            "loyalty": {"enabled": False, "ratio": 0}, "created_at": now,
        }

    # --- HTTP plumbing -------------------------------------------------------------------------

    def _quota(self) -> tuple[int, float]:
        return self.rate_limit, self.window_seconds

    def _rate_headers(self) -> dict[str, str]:
        used = self._window_used if self._window_left() > 0 else 0
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(max(self.rate_limit - used, 0)),
        }

    def _too_many_requests(self, wait_seconds: float) -> Response:
        reset_at = self.clock.now() + timedelta(seconds=max(wait_seconds, 0))
        if reset_at.microsecond:
            # The HTTP-date has whole seconds: round up so a client never retries too early.
            reset_at = reset_at.replace(microsecond=0) + timedelta(seconds=1)
        return self._json(
            429, {"error": "Too Many Requests", "message": "Rate limiting enforced"},
            extra_headers={"Retry-After": to_http_date(reset_at)},
        )

    def _json(self, status: int, payload: Any, extra_headers: dict[str, str] | None = None) -> Response:
        return Response(
            json.dumps(payload, separators=(",", ":"), default=_json_value), status_code=status,
            headers={**self._rate_headers(), **(extra_headers or {})}, media_type="application/json",
        )

    def _authorized(self, request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and value.strip() == self.token

    def _required_scope(self, method: str, path: str, query) -> str | None:
        parts = path.strip("/").split("/")
        if parts[:2] in (["api", "register_sales"], ["api", "products"]):  # the 0.9 writes
            resource = "sales" if parts[1] == "register_sales" else "products"
        elif parts[:2] == ["api", "2.0"] and len(parts) >= 3:
            resource = {"search": query.get("type") or "search", "user": "users"}.get(parts[2], parts[2])
            if parts[2] == "products" and parts[4:5] == ["inventory"]:
                resource = "inventory"
        else:
            return None
        return f"{resource}:{'write' if method in WRITE_METHODS else 'read'}"

    async def _answer(self, request: Request, entry: LoggedRequest) -> Response:
        method = request.method
        path = request.url.path
        await self.faults.delay()
        if not self._authorized(request):
            return self._json(401, {"error": "Access token is not valid"})
        wait = self._take_quota()
        if wait is not None:
            return self._too_many_requests(wait)
        scope = self._required_scope(method, path, request.query_params)
        if self.scopes is not None and scope is not None and scope not in self.scopes:
            return self._json(403, {"error": "permission denied"})

        fault = entry.fault = self.faults.pick_before(path)
        if fault == "5xx":
            return self._json(500, {"error": "Internal Server Error", "message": "simulated server error"})
        if fault == "429":
            return self._too_many_requests(self.injected_retry_after_seconds)
        if fault == "timeout":
            raise SimulatedTimeout(f"{method} {path}")  # nothing applied, no answer

        try:
            if not entry.body_is_json:
                raise bad_request("the body is not valid JSON")
            status, payload = self._route(method, path, _Call(request, entry.body))
        except SimHttpError as error:
            return self._json(error.status, error.body)

        if method in WRITE_METHODS and 200 <= status < 300 and self.faults.lose_response(method, path):
            entry.fault = "lost_response"  # applied, but the client never hears back
            raise SimulatedTimeout(f"{method} {path}")
        if method in WRITE_METHODS and self.faults.config.answer_delay_seconds and self.faults.applies_to(path):
            await asyncio.sleep(self.faults.config.answer_delay_seconds)
        return self._json(status, payload)

    def _build_routes(self) -> list[Route]:
        return [
            route("/api/2.0/retailer", lambda c: (200, {"data": self.retailer})),
            route("/api/2.0/outlets", lambda c: self._list(c, self.outlets.values())),
            route("/api/2.0/outlets/{id}", lambda c, id: self._one(self.outlets, id, "outlet")),
            route("/api/2.0/registers", lambda c: self._list(c, self.registers.values())),
            route("/api/2.0/registers/{id}", lambda c, id: self._one(self.registers, id, "register")),
            route("/api/2.0/registers/{id}/actions/open", self._open_register_http, "PUT"),
            route("/api/2.0/users", lambda c: self._list(c, self.users.values())),
            route("/api/2.0/users/{id}", lambda c, id: self._one(self.users, id, "user")),
            route("/api/2.0/user", self._get_current_user),
            route("/api/2.0/payment_types", lambda c: self._list(c, self.payment_types.values())),
            route("/api/2.0/taxes", lambda c: self._list(c, self.taxes.values())),
            route("/api/2.0/variant_attributes", self._list_variant_attributes),
            route("/api/2.0/products", self._list_products),
            route("/api/2.0/products", self._create_product_http, "POST"),
            route("/api/2.0/products/{id}", lambda c, id: self._one(self.products, id, "product")),
            route("/api/2.0/products/{id}/inventory", self._product_inventory),
            route("/api/2.0/inventory", lambda c: self._list(c, self.inventory.values())),
            route("/api/2.0/customers", lambda c: self._list(c, self.customers.values())),
            route("/api/2.0/customers", self._create_customer_http, "POST"),
            route("/api/2.0/customers/{id}", lambda c, id: self._one(self.customers, id, "customer")),
            route("/api/2.0/sales", self._list_sales),
            route("/api/2.0/sales/{id}", self._get_sale_20),
            route("/api/2.0/search", self._search),
            route("/api/products", self._write_product_09_http, "POST"),
            route("/api/register_sales", self._post_register_sale, "POST"),
            route("/api/register_sales/{id}", self._get_sale_09),
        ]

    def _route(self, method: str, path: str, call: _Call) -> tuple[int, Any]:
        # One trailing slash is tolerated.
        match, found, params = find_route(self._routes, method, path.removesuffix("/"))
        if match is Match.PARTIAL:
            raise SimHttpError(405, {"error": "Method Not Allowed", "message": f"{method} {path}"})
        if found is None:
            raise not_found(f"no such endpoint: {path}")
        return found.endpoint(call, **params)

    # --- 2.0 reads -----------------------------------------------------------------------------

    @staticmethod
    def _int_param(query, name: str) -> int | None:
        return query_value(query, name, int, lambda _: bad_request(f"{name} must be an integer"))

    @staticmethod
    def _visible(query, items) -> list[dict]:
        """The items, less the deleted ones unless `deleted=true` (or 1) asks for them too."""
        deleted = (query.get("deleted") or "").lower() in ("true", "1")
        return [item for item in items if deleted or not item.get("deleted_at")]

    def _list(self, call: _Call, items, render: Callable[[dict], dict] | None = None) -> tuple[int, Any]:
        """Version-cursor paging (reference §6): `after` and `before` are exclusive bounds,
        results in version order, an empty `data` ends the feed."""
        query = call.request.query_params
        after = self._int_param(query, "after")
        before = self._int_param(query, "before")
        page_size = max(1, min(self._int_param(query, "page_size") or self.default_page_size, self.max_page_size))
        chosen = sorted(
            (item for item in self._visible(query, items)
             if (after is None or item["version"] > after) and (before is None or item["version"] < before)),
            key=lambda item: item["version"],
        )[:page_size]
        return 200, _versioned([render(item) if render else item for item in chosen])

    @staticmethod
    def _one(store: dict[str, dict], object_id: str, kind: str) -> tuple[int, Any]:
        item = store.get(object_id)
        if item is None:
            raise SimHttpError(404, {"error": f"{kind} not found"})
        return 200, {"data": item}

    def _open_register_http(self, call: _Call, id: str) -> tuple[int, Any]:
        """PUT /api/2.0/registers/{id}/actions/open (spec OpenRegister): {"data": Register}."""
        self._one(self.registers, id, "register")
        return 200, {"data": self.open_register(id)}

    def _get_current_user(self, call: _Call) -> tuple[int, Any]:
        user = self.users[self.user_id]
        # The spec's UserResponse schema says `data` is a User; every example shows a list.
        return 200, {"data": [user] if self.current_user_as_list else user}

    def _list_products(self, call: _Call) -> tuple[int, Any]:
        sku = call.request.query_params.get("sku")
        if sku is not None:
            # Spec: "loads a product by one of its SKUs ... all other query params are ignored".
            return 200, _versioned([p for p in self.products.values() if p["sku"] == sku and not p["deleted_at"]])
        return self._list(call, self.products.values())

    def _product_inventory(self, call: _Call, id: str) -> tuple[int, Any]:
        self._one(self.products, id, "product")
        return self._list(call, [r for r in self.inventory.values() if r["product_id"] == id])

    def _list_sales(self, call: _Call) -> tuple[int, Any]:
        return self._list(call, self.sales.values(), render=lambda s: render_sale_20(self, s))

    def _get_sale_20(self, call: _Call, id: str) -> tuple[int, Any]:
        sale = self.sales.get(id)
        if sale is None or (self.sale_read_completed_only
                            and sale["status"] not in RETURNABLE_STATUSES):
            raise SimHttpError(404, {"error": "sale not found"})
        return 200, {"data": render_sale_20(self, sale)}

    # --- search --------------------------------------------------------------------------------

    def _search(self, call: _Call) -> tuple[int, Any]:
        query = call.request.query_params
        kind = query.get("type")
        if kind not in ("products", "customers", "sales"):
            raise bad_request("type must be one of sales, products, customers")
        if kind == "products":
            found = [p for p in self.products.values() if self._product_matches(p, query)]
        elif kind == "customers":
            found = [c for c in self.customers.values() if self._customer_matches(c, query)]
        else:
            indexed_before = self.clock.now() - timedelta(seconds=self.search_lag_seconds)
            found = [render_sale_20(self, s) for s in self.sales.values()
                     if self._sale_matches(s, query) and s["created_at"] <= indexed_before]
        found = [item for item in self._visible(query, found) if _wanted(query, "_id", item["id"])]

        order_by = query.get("order_by")
        if order_by:
            found.sort(key=lambda item: (item.get(order_by) is None, _sort_key(item.get(order_by))),
                       reverse=query.get("order_direction") == "desc")
        else:
            found.sort(key=lambda item: item["version"])
        offset = max(self._int_param(query, "offset") or 0, 0)
        page_size = self._int_param(query, "page_size") or self.max_search_page_size
        page_size = max(1, min(page_size, self.max_search_page_size))
        return 200, {"data": found[offset:offset + page_size]}

    def _product_matches(self, product: dict, query) -> bool:
        # Matching is on the lowercased SKU: the spec says values "must be lowercased", so an
        # upper-case query value finds nothing, like on a live store.
        sku = (product["sku"] or "").lower()
        if not _wanted(query, "sku", sku):
            return False
        if self.sku_search_misses_hyphens and query.getlist("sku") and "-" in sku:
            return False  # live quirk §9.1: hyphenated SKUs are never found by sku=
        for key in ("supplier_id", "brand_id", "product_type_id", "variant_parent_id"):
            if not _wanted(query, key, product.get(key)):
                return False
        if query.getlist("tag_id") and not set(query.getlist("tag_id")) & set(product["tag_ids"]):
            return False
        # Undocumented free-text search (the §9.1 fallback): substring of name, SKU, handle.
        return _free_text(query, [product["name"], product["sku"] or "", product["handle"], product["variant_name"] or ""])

    def _customer_matches(self, customer: dict, query) -> bool:
        # [I] exact vs partial matching is not documented; exact, case-insensitive here.
        keys = ("email", "customer_code", "first_name", "last_name", "company_name", "mobile", "phone")
        return all(query.get(key) is None or (customer.get(key) or "").lower() == query[key].lower()
                   and not (self.search_misses_hyphens and "-" in query[key]) for key in keys) \
            and _free_text(query, [customer.get(key) or "" for key in keys])

    def _sale_matches(self, sale: dict, query) -> bool:
        # The 2.0 spec's sale keys only: register_id and state are 2026-07's (§8.4), not applied here.
        for key in ("invoice_number", "customer_id", "outlet_id", "user_id", "status"):
            wanted = query.getlist(key)
            if wanted and sale[key] not in wanted:
                return False
        if self.search_misses_hyphens and query.getlist("invoice_number") and "-" in (sale["invoice_number"] or ""):
            return False
        if not _free_text(query, [sale["invoice_number"] or "", sale.get("note") or ""]):
            return False
        bounds = [query_value(query, bound, parse_iso8601, lambda _: bad_request(f"bad {bound}"))
                  for bound in ("date_from", "date_to")]
        return within(sale["sale_date"], *bounds)

    # --- 2.0 writes ----------------------------------------------------------------------------

    def _create_product_http(self, call: _Call) -> tuple[int, Any]:
        # Spec: 200 with an array of the created ids, not the object.
        return 200, {"data": create_products(self, call.body)}

    def _write_product_09_http(self, call: _Call) -> tuple[int, Any]:
        product = write_product_09(self, call.body)
        shown = {**product, "track_inventory": product["has_inventory"]}
        if self.product_09_answer == "no_id":
            del shown["id"]
        return 200, shown if self.product_09_answer == "bare" else {"product": shown}

    def _list_variant_attributes(self, call: _Call) -> tuple[int, Any]:
        # One answer with every attribute (spec: only a `deleted` parameter, no version paging).
        return 200, {"data": self._visible(call.request.query_params, self.variant_attributes.values())}

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
        customer_id = self._create_customer(body)
        return 201, {"data": self.customers[customer_id]}

    # --- 0.9 sales -----------------------------------------------------------------------------

    def _post_register_sale(self, call: _Call) -> tuple[int, Any]:
        sale = write_register_sale(self, call.body)
        # [I] 200 for create and update alike; the answer wraps the sale in `register_sale`.
        return 200, {"register_sale": render_sale_09(self, sale)}

    def _get_sale_09(self, call: _Call, id: str) -> tuple[int, Any]:
        sale = self.sales.get(id)
        if sale is None:
            raise not_found(f"sale {id} not found")
        # 0.9 reads answer with the plural collection key even for one id (as 0.9 GET-by-id did
        # for other resources) — [I]: the reference confirms only that the read exists (§8.3).
        return 200, {"register_sales": [render_sale_09(self, sale)]}


def _versioned(items: list[dict]) -> dict[str, Any]:
    """A 2.0 list answer: the items and the range of their versions."""
    versions = [item["version"] for item in items]
    return {"data": items, "version": {"min": min(versions, default=None), "max": max(versions, default=None)}}


def _free_text(query, haystack: list[str]) -> bool:
    """The undocumented free-text `q`: a substring of any of the object's texts (no `q`: all)."""
    needle = (query.get("q") or "").lower()
    return not needle or any(needle in value.lower() for value in haystack)


def _wanted(query, key: str, value: Any) -> bool:
    """A search filter: `key` lists the values to keep (none listed: all), `-key` those to drop."""
    include = query.getlist(key)
    return (not include or value in include) and value not in query.getlist(f"-{key}")


def _sort_key(value: Any) -> Any:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return (0, Decimal(str(value)), "")
    return (1, Decimal(0), str(value) if value is not None else "")
