"""The lists of failed orders and of open exceptions, a page at a time (no browser: httpx's ASGI
transport): a store with thousands of either must not render them all in one page. Each page has
PAGE_SIZE rows and a "next page" link only when there are more; following the links shows every row
once, none repeated, none missed, across pairs too; a cursor that is not one is no 500."""

from __future__ import annotations

import html
import re

import httpx

from connector.config import Settings
from served_console import USER, asgi_client, console_app, console_settings, logged_in, two_pairs

PAGE_SIZE = 50
HUGE = "9" * 25  # not an int64


def client_of(settings: Settings, runtimes: dict) -> httpx.AsyncClient:
    return asgi_client(console_app(settings, runtimes))


async def client_of_world(world) -> httpx.AsyncClient:
    runtime = await world.runtime()
    return client_of(console_settings(runtime.settings), {runtime.settings.pair: runtime})


def rows_of(text: str, kind: str) -> list[tuple[str, int]]:
    """(pair, order id or exception id) of each row, in the page's order."""
    return [(pair, int(key)) for pair, key in re.findall(rf'<tr id="{kind}-([A-Za-z0-9_.-]+)-(\d+)"', text)]


def next_link(text: str) -> str | None:
    found = re.search(r'<a class="next-page" href="([^"]+)"', text)
    return html.unescape(found.group(1)) if found else None


async def walk(client, path: str, kind: str) -> list[list[tuple[str, int]]]:
    """Every page's rows, from `path` along the "next page" links."""
    pages, target = [], path
    while target is not None:
        assert target.startswith(path), target
        answer = await client.get(target)
        assert answer.status_code == 200, (target, answer.status_code)
        pages.append(rows_of(answer.text, kind))
        target = next_link(answer.text)
        assert len(pages) < 20, "the next links go round"
    return pages


def fail_orders(store, order_ids) -> None:
    for order_id in order_ids:
        store.record_failure(order_id, step="write", reason=f"HTTP 503 for {order_id}", permanent=True,
                             max_attempts=1)


def open_exceptions(store, order_ids) -> list[int]:
    return [store.open_exception(order_id, "currency", f"the order {order_id} is in EUR").id
            for order_id in order_ids]


async def test_failed_orders_come_a_page_at_a_time(world):
    runtime = await world.runtime()
    ids = list(range(1000, 1120))  # 120 failed orders
    fail_orders(runtime.store, ids)
    async with await client_of_world(world) as client:
        await logged_in(client)
        first = await client.get("/failed")
        assert first.status_code == 200
        assert len(rows_of(first.text, "failed")) == PAGE_SIZE and next_link(first.text)
        pages = await walk(client, "/failed", "failed")
    assert [len(p) for p in pages] == [50, 50, 20]
    shown = [key for page in pages for _, key in page]
    assert shown == ids  # in order, each once, none missed


async def test_open_exceptions_come_a_page_at_a_time(world):
    runtime = await world.runtime()
    ids = open_exceptions(runtime.store, range(2000, 2120))  # 120 open exceptions
    runtime.store.resolve_exception(ids[7], by=USER)  # a resolved one is not listed
    open_ids = ids[:7] + ids[8:]
    async with await client_of_world(world) as client:
        await logged_in(client)
        first = await client.get("/exceptions")
        assert len(rows_of(first.text, "exception")) == PAGE_SIZE and next_link(first.text)
        pages = await walk(client, "/exceptions", "exception")
    assert [len(p) for p in pages] == [50, 50, 19]
    assert [key for page in pages for _, key in page] == open_ids


async def test_an_exact_page_has_no_next_link_and_none_is_empty(world):
    runtime = await world.runtime()
    fail_orders(runtime.store, range(1, PAGE_SIZE + 1))
    open_exceptions(runtime.store, range(1, 4))
    async with await client_of_world(world) as client:
        await logged_in(client)
        failed = await client.get("/failed")
        assert len(rows_of(failed.text, "failed")) == PAGE_SIZE and next_link(failed.text) is None
        exceptions = await client.get("/exceptions")
        assert len(rows_of(exceptions.text, "exception")) == 3 and next_link(exceptions.text) is None


async def test_a_failed_order_gone_while_paging_moves_no_other(world):
    """The cursor is the last row's key, not an offset: a row gone meanwhile (mirrored at last)
    shifts nothing."""
    runtime = await world.runtime()
    ids = list(range(1, 121))
    fail_orders(runtime.store, ids)
    async with await client_of_world(world) as client:
        await logged_in(client)
        first = await client.get("/failed")
        assert next_link(first.text)
        runtime.store.forget_failure(ids[0])
        second = await client.get(next_link(first.text))
    assert [key for _, key in rows_of(second.text, "failed")] == ids[50:100]


async def test_a_page_retry_and_resolve_come_back_to_the_same_page(world):
    runtime = await world.runtime()
    fail_orders(runtime.store, range(1, 121))
    open_exceptions(runtime.store, range(1, 121))
    async with await client_of_world(world) as client:
        await logged_in(client)
        for path in ("/failed", "/exceptions"):
            second = next_link((await client.get(path)).text)
            assert second, path
            text = (await client.get(second)).text
            backs = {html.unescape(b) for b in re.findall(r'name="back" value="([^"]+)"', text)}
            assert backs == {second}, (path, backs)


async def test_a_cursor_that_is_not_one_is_no_500(world):
    runtime = await world.runtime()
    fail_orders(runtime.store, range(1, 61))
    open_exceptions(runtime.store, range(1, 61))
    bad = ["x", "default", "default:", "default:x", f"default:{HUGE}", "default:-5", "default:1.5",
           "west:3", ":3", "default:3:4", "é:1", "default:\x00", "%", ""]
    async with await client_of_world(world) as client:
        await logged_in(client)
        for path, kind in (("/failed", "failed"), ("/exceptions", "exception")):
            first = rows_of((await client.get(path)).text, kind)
            for cursor in bad:
                answer = await client.get(path, params={"after": cursor})
                assert answer.status_code in (200, 400), (path, cursor, answer.status_code)
                if answer.status_code == 200:  # the first page, then
                    assert rows_of(answer.text, kind) == first, (path, cursor)
            many = await client.get(path, params=[("after", "default:10"), ("after", "x")])
            assert many.status_code in (200, 400), (path, many.status_code)


async def test_pages_run_on_across_pairs(world_factory, tmp_path):
    """Rows are listed pair after pair: a page may end in one pair and the next start in another."""
    url = f"sqlite:///{tmp_path / 'pairs.db'}"
    north, south = world_factory(url), world_factory(url)
    async with two_pairs(url, north, south) as (settings, runtimes):
        # The same order ids in both pairs: each store numbers its own.
        fail_orders(runtimes["north"].store, range(100, 130))
        fail_orders(runtimes["south"].store, range(100, 170))
        north_x = open_exceptions(runtimes["north"].store, range(100, 170))
        south_x = open_exceptions(runtimes["south"].store, range(100, 130))
        async with client_of(console_settings(settings), runtimes) as client:
            await logged_in(client)
            failed = await walk(client, "/failed", "failed")
            exceptions = await walk(client, "/exceptions", "exception")
    assert [len(p) for p in failed] == [50, 50]
    assert [row for page in failed for row in page] == \
        [("north", i) for i in range(100, 130)] + [("south", i) for i in range(100, 170)]
    assert [len(p) for p in exceptions] == [50, 50]
    assert [row for page in exceptions for row in page] == \
        [("north", i) for i in north_x] + [("south", i) for i in south_x]
