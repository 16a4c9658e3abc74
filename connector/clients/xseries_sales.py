"""X-Series sales as the connector writes and reads them (reference §8): the 0.9 register_sales
create / update (void, settle), and the invoice-number search a lost answer is settled
by. A mixin of XSeriesClient (xseries.py), on its transport: paths and bodies only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TypeVar

from pydantic import BaseModel

from connector.clients.xseries_answers import data_one, path_id, unknown_outcome, written_json
from connector.clients.xseries_paging import V20
from connector.clients.xseries_sale_models import RegisterSale, Sale
from connector.errors import ApiError, PermanentApiError

log = logging.getLogger("connector.xseries")

# Statuses of a sale write refused as it stands (nothing written); 404 and 401/403 are not these.
REFUSED = frozenset({400, 409, 422})

A = TypeVar("A", bound=BaseModel)  # the model a sale write's answer is read into
Check = Callable[[], Awaitable[None]] | None  # a write's before_send (ApiTransport.request)


class SaleResources:
    # -- sales (§8) --------------------------------------------------------------------------

    async def create_sale_document(self, encoded: bytes, *, answer: type[A] = Sale, before_send: Check = None) -> A:
        """Create a sale from its body already encoded (RegisterSale.to_json(); the order path keeps
        the same bytes in the sale's binding). Never retried on an unknown outcome: a blind retry
        duplicates the sale (X-Series has no idempotency key, §8.4); the caller looks it up by
        invoice number. answer: the model the answer is read into — Sale, or WrittenSale when only
        the sale's id and state are needed. before_send: the transport's (run right before each attempt)."""
        # Why POST /api/register_sales (API 0.9) rather than the date-versioned
        # POST /api/{YYYY-MM}/sales (xseries-api.md §1, §8): it is the most documented sale body
        # (Lightspeed's Sales 101, the Postman collection), it carries source/source_id and the
        # invoice_number our duplicate lookup relies on, current third-party clients still post
        # there, and it accepts both the legacy `status` and the new `state` + attributes. The
        # body shape is confined to RegisterSale and these methods, thin adapters that can be
        # swapped for /api/{YYYY-MM}/sales (§8.6) when the un-dated path is retired.
        return await self._post_encoded_sale(encoded, safe_to_repeat=False, answer=answer, before_send=before_send)

    async def update_sale(self, sale: RegisterSale, *, encoded: bytes | None = None,
                          answer: type[A] = Sale, safe_to_repeat: bool = True, before_send: Check = None) -> A:
        """Replace a sale (e.g. void it): the same endpoint with the COMPLETE sale and its id.

        A void is safe to repeat: re-posting the same full body yields the same final state (§8.3).
        Closing an on-account sale is not (a closed sale may only be voided): safe_to_repeat=False.
        """
        if not sale.id:
            raise ValueError("update_sale needs the sale's id")
        return await self._post_encoded_sale(sale.to_json() if encoded is None else encoded,
                                             safe_to_repeat=safe_to_repeat, answer=answer, before_send=before_send)

    async def find_sales_by_invoice_number(self, invoice_number: str) -> list[Sale]:
        """Sales whose invoice number is exactly `invoice_number`. The search may match loosely;
        a loose match here would make the caller believe an order was already mirrored."""
        wanted = invoice_number.strip()
        if not wanted:
            raise ValueError("empty invoice number")
        return await self._search_exact("sales", {"invoice_number": wanted}, wanted, Sale.model_validate,
                                        lambda found: [s for s in found if (s.invoice_number or "").strip() == wanted],
                                        unsure_is_error=True)

    async def find_sales_by_source_id(self, source: str, source_id: str, outlet_id: str,
                                      windows: list[tuple[datetime, datetime]]) -> list[Sale]:
        """The outlet's sales dated within `windows` whose source and source_id are exactly these.
        source_id is no 2.0 search key (§8.4: invoice_number, customer_id, outlet_id, user_id, status,
        date_from, date_to), but 2.0 sales carry it (§8.5): every sale of each window is read and
        only an exact match counts — another system's sale may carry the same number."""
        found: list[Sale] = []
        for low, high in windows:
            criteria = {"outlet_id": outlet_id, "date_from": _utc(low), "date_to": _utc(high)}
            found += [s for s in await self._search("sales", criteria, Sale.model_validate)
                      if (s.source_id or "").strip() == source_id and (s.source or "").upper() == source.upper()
                      and s.id not in {f.id for f in found}]
        return found

    async def get_sale(self, sale_id: str) -> Sale | None:
        """One sale read by its id (GET /api/2.0/sales/{id}, §8.5): the sale itself, not the search
        index, which may lag a change of status. The spec's text says the read expects a completed
        sale, so a voided or parked one may be answered 404 (NotFoundError). None when the answer
        holds no sale."""
        path = f"{V20}/sales/{path_id(sale_id)}"
        found = data_one(await self._get_json(path), path)
        return None if found is None else Sale.model_validate(found)

    async def get_register_sale(self, sale_id: str) -> Sale | None:
        """One sale read by its id through 0.9 (GET /api/register_sales/{id}, §8.3), which reads a
        voided or parked sale the 2.0 read may answer 404. None when the answer holds no sale."""
        body = await self._get_json(f"/api/register_sales/{path_id(sale_id)}")
        found = _one_sale_of(body) if isinstance(body, dict) else None
        return None if found is None else Sale.model_validate(found)

    async def _post_encoded_sale(self, encoded: bytes, *, safe_to_repeat: bool, answer: type[A],
                                 before_send: Check) -> A:
        path = "/api/register_sales"
        once = dict(json_bytes=encoded, safe_to_repeat=safe_to_repeat, before_send=before_send)
        try:
            response = await self.transport.request("POST", path, **once)
        except PermanentApiError as exc:
            if exc.status not in REFUSED or not await self._opened_register_of(encoded, exc):
                raise
            # Refused, so nothing was written: once more, on the register just opened.
            response = await self.transport.request("POST", path, **once)
        body = written_json(response, path)
        data = _one_sale_of(body)
        if data is None:
            raise unknown_outcome("register_sales answered without the sale; look it up by invoice number",
                                   response, path, body)
        return answer.model_validate(data)

    async def _opened_register_of(self, encoded: bytes, refusal: PermanentApiError) -> bool:
        """Whether an API sale needs an open register is unverified (§7, §13; domain D: design for
        both): a sale refused while its register is closed would be refused until a person opened
        it, and every order meanwhile parked. True when the register read closed and is opened now;
        False (the refusal stands) when it is open, does not say, or cannot be opened."""
        try:
            register_id = json.loads(encoded).get("register_id")
        except (ValueError, AttributeError):
            return False
        if not isinstance(register_id, str) or not register_id:
            return False
        try:
            register = await self.register(register_id)
            if register is None or register.is_open is not False:
                return False
            await self.open_register(register_id)
        except ApiError as exc:  # a token that may not read or open registers: the refusal stands
            log.warning("X-Series refused a sale (%s); register %s could not be checked or opened: %s",
                        refusal, register_id, exc)
            return False
        log.warning("X-Series refused a sale (%s) while register %s (%s) was closed: opened it to post the sale"
                    " once more", refusal, register.name or register_id, register_id)
        return True


def _utc(moment: datetime) -> str:
    """A search date as the 2.0 search documents it: "UTC timestamp. Format: 2016-08-08T12:00:00Z"
    (Postman collection, Search): a server that reads only that form refuses an offset (400)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_sale_of(body: dict) -> dict | None:
    """The one sale of a 0.9 answer. 0.9 wraps it in `register_sale` (§8.7), but the answer's shape is
    unverified (§13): a 2.0-style `data`, 0.9's `register_sales` collection (a list of one) or the bare
    sale are read too. A list of several cannot say which sale is ours (never guess an id)."""
    data = next((body[k] for k in ("register_sale", "data", "register_sales") if k in body),
                body if isinstance(body.get("id"), str) and "error" not in body else None)
    if isinstance(data, list):
        data = data[0] if len(data) == 1 else None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        return None
    return data
