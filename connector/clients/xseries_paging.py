"""How X-Series lists are read: the 2.0 version-cursor feeds (§6) and the offset-paged search (§9.1).
A mixin of XSeriesClient (xseries.py), on its transport."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from connector.clients.xseries_answers import API, data_list, parsed_items
from connector.clients.xseries_models import Page
from connector.errors import PermanentApiError

log = logging.getLogger("connector.xseries")

V20 = "/api/2.0"
# The search endpoint pages by offset; 1000 is its documented maximum page size (§6).
SEARCH_PAGE_SIZE = 1000
# A live store's product search by `sku` returns nothing for SKUs containing these characters
# (xseries-api.md §9.1 "live quirk"); for them every exact look-up falls back to free-text `q`.
SEARCH_MISSES = frozenset("-")
# The pages the free-text fallback reads at most: `q` matches substrings, so BC-100 comes with every
# BC-1000…; a server that ignores `q` lists everything, and reading it all at each look-up spends the quota.
Q_FALLBACK_PAGES = 20

T = TypeVar("T")
P = TypeVar("P", bound=Page)


DOCUMENTED_PAGE_SIZE = 200  # what the 2.0 docs are said to give as the maximum (§6)


class PagedReads:
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
                            parse: Callable[[Any], T], exact: Callable[[list[T]], list[T]],
                            *, unsure_is_error: bool = False) -> list[T]:
        """The exact matches of a keyed search. §9.1: on live stores `sku=` misses hyphenated SKUs;
        whether other keys (an e-mail, a customer code, an invoice number BC-123) miss them too is
        unverified, and a miss there creates a second customer or sale, so every exact look-up of a
        hyphenated value that finds nothing asks the free-text `q` (undocumented) too, page after page
        until the exact match or the last page. Past Q_FALLBACK_PAGES, `unsure_is_error` (sales) raises
        rather than answer "none": a "none" not known there is a second sale, stock taken twice. For a
        customer or a product the unsure "none" stands (a duplicate record is less harm than an order
        parked), said in the log."""
        found = exact(await self._search(kind, criteria, parse))
        if found or not (SEARCH_MISSES & set(wanted)):
            return found
        read = 0
        try:
            async for page in self._search_pages(kind, {"q": wanted}, parse):
                if found := exact(page):
                    return found
                read += 1
                # A short page is the last (_search_pages ends there): all was read, none is ours.
                if read == Q_FALLBACK_PAGES and len(page) >= SEARCH_PAGE_SIZE:
                    break
            else:
                return []
        except PermanentApiError as exc:
            if exc.status not in (400, 422):
                raise
            # A server that does not know `q` (it is not in the spec): the keyed search has answered.
            log.info("X-Series refused the free-text %s search (%s); %r not found", kind, exc, wanted)
            return []
        if not unsure_is_error:
            log.warning("X-Series' free-text %s search lists more than %d containing %r without it; taken"
                        " as not found", kind, read * SEARCH_PAGE_SIZE, wanted)
            return []
        raise PermanentApiError(
            f"X-Series' search by key does not find {wanted!r} and its free-text search lists more than"
            f" {read * SEARCH_PAGE_SIZE} {kind} containing it without it: whether it exists cannot be told,"
            f" so nothing is written in its name; look for it in X-Series", api=API, method="GET", path=f"{V20}/search")

    async def _search(self, kind: str, criteria: dict[str, str], parse: Callable[[Any], T]) -> list[T]:
        """GET /api/2.0/search: every page."""
        return [item async for page in self._search_pages(kind, criteria, parse) for item in page]

    async def _search_pages(self, kind: str, criteria: dict[str, str],
                            parse: Callable[[Any], T]) -> AsyncIterator[list[T]]:
        """GET /api/2.0/search, page by page: by offset (not by version), at most 1000 per page."""
        offset = 0
        while True:
            params = {"type": kind, **criteria, "page_size": SEARCH_PAGE_SIZE, "offset": offset}
            raw_items = data_list(await self._get_json(f"{V20}/search", params), f"{V20}/search")
            yield parsed_items(raw_items, parse, f"{V20}/search")
            if len(raw_items) < SEARCH_PAGE_SIZE:
                return
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
