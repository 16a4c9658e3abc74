"""A stateful Lightspeed Retail X-Series simulator (Starlette ASGI app), for tests, demo, benchmarks.

Follows shared/reference/xseries-api.md and the API 2.0 OpenAPI file: Bearer auth (401), optional
scopes (403), the §4 rate limit (`300 × registers + 50` per 300 s window, X-RateLimit-* headers, 429
with an HTTP-date Retry-After), 2.0 reads with version-cursor paging, search, customer and product
creates, the 0.9 product and sale writes (xseries_products, xseries_sales), reference data as a store
has it (taxes, variant attributes, the retailer's "Discount" product), faults and a request log.
What the reference marks unverified is a constructor knob.
"""

from __future__ import annotations

import random
import string
import uuid
from decimal import Decimal

from connector.clock import SYSTEM_CLOCK, Clock
from connector.sandbox.faults import FaultConfig, FaultInjector
from connector.sandbox.transport import Simulator
from connector.sandbox.xseries_http import HttpSide
from connector.sandbox.xseries_merchant import MerchantSide
from connector.sandbox.xseries_reads import Reads
from connector.sandbox.xseries_reference import ReferenceData
from connector.sandbox.xseries_search import Search
from connector.sandbox.xseries_writes import Writes
from connector.values import to_iso8601


# Each part of the API is a mixin of its own; this class holds the knobs, the state and the ids.
class XSeriesSimulator(MerchantSide, ReferenceData, HttpSide, Reads, Search, Writes, Simulator):
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
        # §8.1: "a voided sale must not change again"; whether a repeated void of it is answered with
        # the sale or refused (422) is unverified: knob refusing it.
        refuses_second_void: bool = False,
        # Whether a tax-inclusive retailer's 0.9 line `price` is read excluding tax is unverified
        # (§13): knob reading it as tax-inclusive there (the stored price is price − tax).
        line_price_includes_tax: bool = False,
        # §5: since 2026-07 stricter postal-code validation in 40 countries can 400 on customer
        # addresses; which codes it refuses is not said: knob, the postcodes a customer create refuses.
        refused_postcodes: frozenset[str] = frozenset(),
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
        self.refuses_second_void = refuses_second_void
        self.refused_postcodes = refused_postcodes
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
