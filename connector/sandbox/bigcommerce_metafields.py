"""Order metafields of the simulated store: other apps (Real ID) write them, the V3 lists read them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from connector.sandbox.bigcommerce_queries import Queries, _found, _Refusal
from connector.sandbox.transport import query_value, within
from connector.values import parse_iso8601, to_iso8601


class Metafields(Queries):
    def set_metafield(self, order_id: int, namespace: str, key: str, value: str) -> dict[str, Any]:
        """Another app (Real ID) creates or updates an order metafield."""
        if order_id not in self.orders:
            raise KeyError(f"no order {order_id}")
        now = to_iso8601(self._now())
        for metafield in self.metafields.values():
            if (metafield["resource_id"], metafield["namespace"], metafield["key"]) == (order_id, namespace, key):
                metafield.update(value=value, date_modified=now)
                return dict(metafield)
        metafield = {
            "id": next(self._ids["metafield"]),
            "key": key,
            "value": value,
            "namespace": namespace,
            "permission_set": "read",
            "resource_type": "order",
            "resource_id": order_id,
            "description": "",
            **dict.fromkeys(("date_created", "date_modified"), now),
            "owner_client_id": "realid-sim-client",
        }
        self.metafields[metafield["id"]] = metafield
        return dict(metafield)

    def _metafield_rows(self, request: Request, order_id: int | None) -> list[dict[str, Any]]:
        q = request.query_params
        namespaces = self._any_of(request, "namespace")
        if self._in_list(request, "key:in") and self.metafield_key_in == "refuse":
            raise _Refusal(400, "The filter 'key:in' is not supported.", errors={"key:in": q["key:in"]})
        keys = self._any_of(request, "key", with_in_list=self.metafield_key_in != "ignore")
        modified_min, modified_max = (query_value(q, name, _documented_date, lambda v, name=name: _Refusal(
            422, f"The filter '{name}' is not a valid date.", errors={name: f"invalid date {v!r}"}))
            for name in ("date_modified:min", "date_modified:max"))
        return [dict(m) for _, m in sorted(self.metafields.items())
                if (order_id is None or m["resource_id"] == order_id)
                and (not namespaces or m["namespace"] in namespaces) and (not keys or m["key"] in keys)
                and within(parse_iso8601(m["date_modified"]), modified_min, modified_max)]

    async def _batch_metafields(self, request: Request) -> Response:
        return self._v3_page(request, self._metafield_rows(request, None))

    async def _order_metafields(self, request: Request, order_id: int) -> Response:
        _found(self.orders, order_id, f"Order {order_id} was not found.")
        return self._v3_page(request, self._metafield_rows(request, order_id))


def _documented_date(value: str) -> datetime:
    """A metafield filter's date in a form orders.v3.yml documents (`2019-09-04T00:00:00` or `2019-09-04`),
    read as UTC. Another (an offset, a Z) is refused, as a server reading only those would: a client
    sending another is caught here."""
    for form in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, form).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise ValueError(f"not a documented date: {value!r}")
