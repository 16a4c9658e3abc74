"""The X-Series simulator's GET /api/2.0/search: products, customers and sales by key or free text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from connector.sandbox.transport import query_value, within
from connector.sandbox.xseries_http import _Call
from connector.sandbox.xseries_refusals import bad_request
from connector.sandbox.xseries_sale_views import render_sale_20


class Search:
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
        bounds = [query_value(query, bound, _documented_date, lambda _: bad_request(f"bad {bound}"))
                  for bound in ("date_from", "date_to")]
        return within(sale["sale_date"], *bounds)


def _documented_date(value: str) -> datetime:
    """A sale search's date_from/date_to in the one form documented: "UTC timestamp. Format:
    2016-08-08T12:00:00Z" (Postman collection, Search). Any other form is refused, as a server that
    reads only that one would: a client sending another is caught here."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


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
