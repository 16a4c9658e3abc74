"""The X-Series simulator's reads: 2.0 lists (version-cursor paging) and objects, the 0.9 sale read."""

from __future__ import annotations

from typing import Any, Callable

from connector.sandbox.transport import query_value
from connector.sandbox.xseries_http import _Call
from connector.sandbox.xseries_refusals import SimHttpError, bad_request, not_found
from connector.sandbox.xseries_sale_status import RETURNABLE_STATUSES
from connector.sandbox.xseries_sale_views import render_sale_09, render_sale_20


class Reads:
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

    def _list_variant_attributes(self, call: _Call) -> tuple[int, Any]:
        # One answer with every attribute (spec: only a `deleted` parameter, no version paging).
        return 200, {"data": self._visible(call.request.query_params, self.variant_attributes.values())}

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
