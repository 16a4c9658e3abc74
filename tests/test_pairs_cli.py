"""Store pairs from the command line (issue 17, point 1): `pairs:` in the config, every command's
--pair (default: all pairs), and one `run` daemon for every pair. Two merchants' stores number their
orders alike: order 1 of north and order 1 of south are two orders, two sales in two POS.
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import timedelta
from decimal import Decimal

import pytest

from connector import commands
from connector.cli import main
from connector.clock import SYSTEM_CLOCK
from connector.config import load_settings
from connector.errors import ConfigError
from connector.runtime import Runtime
from connector.sandbox.bigcommerce import BigCommerceSimulator
from connector.sandbox.xseries import XSeriesSimulator
from connector.scheduler import daemon
from connector.server.ops import STARTING
from connector.store.repository import Store

LINE = {"product_id": 111, "variant_id": 0, "sku": "TEE-M", "name": "Tee M", "unit_price": Decimal("20.00"),
        "quantity": 1}
JANE = {"id": 1, "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}
PAIRS = ("north", "south")


class Agency:
    """Two store pairs, each with its own simulators, in one config and one database."""

    def __init__(self, tmp_path, monkeypatch) -> None:
        self.bc = {p: BigCommerceSimulator(clock=SYSTEM_CLOCK, store_hash=p) for p in PAIRS}
        self.xs = {p: XSeriesSimulator(clock=SYSTEM_CLOCK, rate_limit=100_000) for p in PAIRS}
        for xs in self.xs.values():
            xs.add_product(sku="TEE-M", name="Tee M", price_excluding_tax=Decimal("20"), inventory=10)
        self.database_url = f"sqlite:///{tmp_path / 'agency.db'}"
        self.config = tmp_path / "config.yaml"
        start_at = (SYSTEM_CLOCK.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = f"database_url: {self.database_url}\nsync:\n  start_at: {start_at}\n  interval_seconds: 1\npairs:\n"
        for p in PAIRS:
            monkeypatch.setenv(f"{p.upper()}_BC", self.bc[p].access_token)
            monkeypatch.setenv(f"{p.upper()}_XS", self.xs[p].token)
            text += (f"  - name: {p}\n"
                     f"    bigcommerce: {{store_hash: {p}, access_token: '${{{p.upper()}_BC}}'}}\n"
                     f"    xseries: {{domain_prefix: {p}, token: '${{{p.upper()}_XS}}', outlet: Main Outlet,"
                     " register: Online Store}\n")
        self.config.write_text(text)
        start = Runtime.start.__func__
        bc, xs = self.bc, self.xs

        async def start_on_simulators(cls, settings, **options):  # each pair on its own simulators
            return await start(cls, settings, bc_transport=bc[settings.pair].transport(),
                               xs_transport=xs[settings.pair].transport(), **options)

        monkeypatch.setattr(Runtime, "start", classmethod(start_on_simulators))

    def add_order(self, pair: str, status_id: int = 11, ago: timedelta = timedelta(hours=1)) -> int:
        when = SYSTEM_CLOCK.now() - ago
        return self.bc[pair].add_order(customer=JANE, lines=[LINE], status_id=status_id, date_created=when)["id"]

    def run(self, *args: str) -> int:
        return main([*args, "--config", str(self.config)])

    def sales(self, pair: str) -> list[str]:
        return sorted(s["invoice_number"] for s in self.xs[pair].sales.values())


@pytest.fixture
def agency(tmp_path, monkeypatch) -> Agency:
    return Agency(tmp_path, monkeypatch)


def test_every_command_takes_pair_and_defaults_to_every_pair(agency, capsys):
    north, south = agency.add_order("north"), agency.add_order("south")
    assert north == south  # the same order number in two stores
    other = agency.add_order("south")

    assert agency.run("sync", "--pair", "south") == 0
    assert agency.sales("north") == [] and agency.sales("south") == [f"BC-{south}", f"BC-{other}"]
    assert agency.run("sync") == 0  # every pair; south's orders are bound: not written again
    assert agency.sales("north") == [f"BC-{north}"] and agency.sales("south") == [f"BC-{south}", f"BC-{other}"]

    capsys.readouterr()
    assert agency.run("status", "--pair", "north") == 0
    out = capsys.readouterr().out
    assert "== pair north ==" in out and "south" not in out and "closed=1" in out
    assert agency.run("status") == 0
    out = capsys.readouterr().out
    assert out.index("== pair north ==") < out.index("closed=1") < out.index("== pair south ==")
    assert "closed=2" in out.split("== pair south ==")[1]
    assert agency.run("audit", "--pair", "south") == 0
    assert capsys.readouterr().out.count("create_sale") == 2

    assert agency.run("status", "--pair", "west") == 2
    assert "no store pair 'west'" in capsys.readouterr().err
    assert agency.run("id-check", str(north), "passed") == 2  # one order of one store: which store?
    assert "give --pair NAME" in capsys.readouterr().err

    for pair in PAIRS:
        store = Store.open(agency.database_url, pair=pair)
        try:
            assert store.order_binding(north).sale_id in agency.xs[pair].sales
        finally:
            store.close()



def test_an_exception_is_resolved_in_its_own_pair_and_retrying_one_order_asks_which_pair(agency, capsys):
    """Exception ids are one series across pairs: `exceptions --resolve ID` without --pair resolves
    it in the pair it belongs to and exits 0. Order numbers are each store's own: `retry-failed
    --order N` with several pairs asks which pair, as id-check does, and retries nothing."""
    when = SYSTEM_CLOCK.now() - timedelta(hours=1)
    orders = {p: agency.bc[p].add_order(customer=JANE, lines=[LINE], status_id=11, date_created=when,
                                        default_currency_code="EUR")["id"] for p in PAIRS}
    assert agency.run("sync") == 1  # both parked: in EUR
    stores = {p: Store.open(agency.database_url, pair=p) for p in PAIRS}
    try:
        [north], [south] = (stores[p].exceptions() for p in PAIRS)
        capsys.readouterr()
        assert agency.run("exceptions", "--resolve", str(south.id)) == 0
        cap = capsys.readouterr()
        assert f"exception {south.id} (order {orders['south']}, currency) resolved" in cap.out and cap.err == ""
        assert stores["south"].exceptions() == [] and [e.id for e in stores["north"].exceptions()] == [north.id]
        assert agency.run("exceptions", "--resolve", str(south.id)) == 2  # resolved already
        assert "no open exception" in capsys.readouterr().err

        assert agency.run("retry-failed", "--order", str(orders["north"])) == 2
        assert "give --pair NAME" in capsys.readouterr().err
        assert not any(e.action == "retry_requested" for p in PAIRS for e in stores[p].audit_entries())
        assert agency.run("retry-failed", "--pair", "north", "--order", str(orders["north"])) == 0
        assert [e.action for e in stores["north"].audit_entries() if e.action == "retry_requested"] == \
            ["retry_requested"]
    finally:
        for store in stores.values():
            store.close()

async def test_one_daemon_runs_every_pair(agency):
    first = {pair: f"BC-{agency.add_order(pair)}" for pair in PAIRS}
    settings = load_settings(agency.config)
    stop = asyncio.Event()
    running = asyncio.create_task(daemon(settings, stop))
    try:
        for _ in range(200):
            if all(agency.sales(p) == [first[p]] for p in PAIRS):
                break
            await asyncio.sleep(0.05)
        assert all(agency.sales(p) == [first[p]] for p in PAIRS)
        second = f"BC-{agency.add_order('north', ago=timedelta(0))}"  # north's own next cycle
        for _ in range(100):
            if agency.sales("north") == [first["north"], second]:
                break
            await asyncio.sleep(0.05)
        assert agency.sales("north") == [first["north"], second] and agency.sales("south") == [first["south"]]
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 30) == 0


@pytest.mark.parametrize("down", PAIRS)
async def test_daemon_does_not_wait_for_a_pair_whose_api_is_down(agency, monkeypatch, down):
    """Whichever pair is down at start-up (the first one too), the other's cycles run; the pair that
    was down starts on its own once its API answers."""
    from connector.errors import TransientApiError

    up = next(p for p in PAIRS if p != down)
    orders = {pair: f"BC-{agency.add_order(pair)}" for pair in PAIRS}
    is_down = True
    start = Runtime.start.__func__

    async def may_be_down(cls, view, **options):
        if view.pair == down and is_down:
            raise TransientApiError("connection refused", api="xseries", method="GET", path="/api/2.0/outlets")
        return await start(cls, view, **options)

    monkeypatch.setattr(Runtime, "start", classmethod(may_be_down))
    stop = asyncio.Event()
    running = asyncio.create_task(daemon(load_settings(agency.config), stop, first_delay=0.05))
    try:
        for _ in range(200):
            assert not running.done(), running.exception()
            if agency.sales(up):
                break
            await asyncio.sleep(0.05)
        assert agency.sales(up) == [orders[up]] and agency.sales(down) == []
        is_down = False
        for _ in range(200):
            if agency.sales(down):
                break
            await asyncio.sleep(0.05)
        assert agency.sales(down) == [orders[down]] and agency.sales(up) == [orders[up]]
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 30) == 0

async def test_serve_routes_each_pairs_webhook_to_that_pair(agency, monkeypatch):
    """`order-sync serve` for two pairs (SQLite: it mirrors in-process): a webhook for north's order
    makes north's sale only; a pair the configuration does not have is 404."""
    import httpx
    from pydantic import SecretStr

    from connector.server.serve import serve
    from served_sandbox import free_port, wait_until_healthy

    north, south = agency.add_order("north", ago=timedelta(0)), agency.add_order("south", ago=timedelta(0))
    settings = load_settings(agency.config)
    for pair in settings.pairs:
        pair.bigcommerce.webhook_secret = SecretStr(f"{pair.name}-secret")
    port, stop = free_port(), asyncio.Event()
    running = asyncio.create_task(serve(settings, stop, port=port))

    def event(order_id: int, digest: str) -> dict:
        return {"scope": "store/order/created", "store_id": "1", "data": {"type": "order", "id": order_id},
                "hash": digest, "created_at": 1561479335, "producer": "stores/x"}

    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_until_healthy(client, running, "serve")
            wrong = await client.post("/webhooks/bigcommerce/north", json=event(north, "a" * 40),
                                      headers={"X-Webhook-Secret": "south-secret"})  # another pair's secret
            assert wrong.status_code == 401
            assert (await client.post("/webhooks/bigcommerce/west", json=event(north, "b" * 40),
                                      headers={"X-Webhook-Secret": "north-secret"})).status_code == 404
            answer = await client.post("/webhooks/bigcommerce/north", json=event(north, "c" * 40),
                                       headers={"X-Webhook-Secret": "north-secret"})
            assert answer.status_code == 200
            for _ in range(200):
                if agency.sales("north"):
                    break
                await asyncio.sleep(0.02)
            assert agency.sales("north") == [f"BC-{north}"] and agency.sales("south") == []
            assert (await client.post("/webhooks/bigcommerce/south", json=event(south, "c" * 40),
                                      headers={"X-Webhook-Secret": "south-secret"})).status_code == 200
            for _ in range(200):
                if agency.sales("south"):
                    break
                await asyncio.sleep(0.02)
            assert agency.sales("south") == [f"BC-{south}"] and agency.sales("north") == [f"BC-{north}"]
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 10) == 0


async def test_serve_does_not_wait_for_a_pair_whose_api_is_down(agency, monkeypatch):
    """One merchant's API down at start-up does not hold the fleet's webhooks back: serve answers at
    once, north's webhook makes its sale, south's answers 503 (BigCommerce delivers it again; its
    hash is not kept) and /readyz names south; once south's API answers, the same event is mirrored."""
    import httpx
    from pydantic import SecretStr

    from connector.errors import TransientApiError
    from connector.server.serve import serve
    from served_sandbox import free_port

    north, south = agency.add_order("north", ago=timedelta(0)), agency.add_order("south", ago=timedelta(0))
    settings = load_settings(agency.config)
    for pair in settings.pairs:
        pair.bigcommerce.webhook_secret = SecretStr(f"{pair.name}-secret")
    south_down = True
    start = Runtime.start.__func__

    async def south_may_be_down(cls, view, **options):
        if view.pair == "south" and south_down:
            raise TransientApiError("connection refused", api="xseries", method="GET", path="/api/2.0/outlets")
        return await start(cls, view, **options)

    monkeypatch.setattr(Runtime, "start", classmethod(south_may_be_down))
    port, stop = free_port(), asyncio.Event()
    running = asyncio.create_task(serve(settings, stop, port=port, first_delay=0.05))

    def event(order_id: int, digest: str) -> dict:
        return {"scope": "store/order/created", "store_id": "1", "data": {"type": "order", "id": order_id},
                "hash": digest, "created_at": 1561479335, "producer": "stores/x"}

    async def not_started(client, expected: list[str]) -> bool:
        """Whether /readyz names exactly these pairs as still starting."""
        try:
            reasons = (await client.get("/readyz")).json()["reasons"]
        except httpx.TransportError:
            return False
        return [reason for reason in reasons if "still starting" in reason] == expected

    async def until(condition) -> None:
        for _ in range(300):
            assert not running.done(), running.exception()
            met = condition()
            if await met if inspect.isawaitable(met) else met:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("never happened")

    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await until(lambda: not_started(client, ["pair south: " + STARTING]))
            south_event = event(south, "d" * 40)
            answer = await client.post("/webhooks/bigcommerce/south", json=south_event,
                                       headers={"X-Webhook-Secret": "south-secret"})
            assert answer.status_code == 503
            answer = await client.post("/webhooks/bigcommerce/north", json=event(north, "e" * 40),
                                       headers={"X-Webhook-Secret": "north-secret"})
            assert answer.status_code == 200
            await until(lambda: agency.sales("north") == [f"BC-{north}"])
            assert agency.sales("south") == []

            south_down = False  # the API answers again: south starts on its own, at its next try
            await until(lambda: not_started(client, []))
            answer = await client.post("/webhooks/bigcommerce/south", json=south_event,
                                       headers={"X-Webhook-Secret": "south-secret"})
            assert answer.status_code == 200  # the refused delivery was not taken for a duplicate
            await until(lambda: agency.sales("south") == [f"BC-{south}"])
            assert agency.sales("north") == [f"BC-{north}"]
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 10) == 0



async def test_one_pair_whose_api_is_down_at_start_still_has_its_server_answer(agency, monkeypatch):
    """`run` for one pair (the usual merchant) whose API is down: /healthz answers at once, /readyz
    and the webhooks say the pair is starting (503), and once the API answers the pair starts."""
    import httpx

    from connector.errors import TransientApiError
    from served_sandbox import free_port

    order = agency.add_order("north")
    settings = load_settings(agency.config)
    port = free_port()
    settings.server.enabled, settings.server.port = True, port
    is_down = True
    start = Runtime.start.__func__

    async def may_be_down(cls, view, **options):
        if is_down:
            raise TransientApiError("connection refused", api="xseries", method="GET", path="/api/2.0/outlets")
        return await start(cls, view, **options)

    monkeypatch.setattr(Runtime, "start", classmethod(may_be_down))
    stop = asyncio.Event()
    north = next(view for view in settings.pair_settings() if view.pair == "north")
    running = asyncio.create_task(daemon(settings, stop, pairs=[north], first_delay=0.05))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):
                assert not running.done(), running.exception()
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and "pair north: still starting" in ready.json()["reasons"][0]
            hook = await client.post("/webhooks/bigcommerce/north", json={"scope": "store/order/created",
                                                                          "data": {"id": 1}, "hash": "x"})
            assert hook.status_code == 503
            is_down = False
            for _ in range(200):
                if agency.sales("north"):
                    break
                await asyncio.sleep(0.05)
            assert agency.sales("north") == [f"BC-{order}"]
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 30) == 0


def test_one_pairs_refused_token_does_not_stop_the_pairs_after_it(agency, monkeypatch, capsys):
    # Review, item 4: an error of pair north ended the command, and south was never synced.
    agency.add_order("north")
    south = agency.add_order("south")
    monkeypatch.setenv("NORTH_XS", "revoked-token")  # north's merchant revoked its X-Series token
    assert agency.run("sync") == 2  # the worst of north's 2 and south's 0
    out = capsys.readouterr()
    assert agency.sales("north") == [] and agency.sales("south") == [f"BC-{south}"]
    assert "== pair north ==" in out.out and "== pair south ==" in out.out
    assert "order-sync: pair north: credentials error: " in out.err
    # The refused token named by its key (under the pair's entry of `pairs`) and its variable.
    assert "pairs.0.xseries.token (${NORTH_XS}) was refused" in out.err and "revoked-token" not in out.err
    assert "pair south" not in out.err


def test_one_pairs_api_down_exits_1_and_the_next_pair_runs(agency, monkeypatch, capsys):
    from connector.errors import TransientApiError

    agency.add_order("north")
    south = agency.add_order("south")
    real = commands.sync_once

    async def north_down(settings, **options):
        if settings.pair == "north":
            raise TransientApiError("503 Service Unavailable", api="bigcommerce", method="GET", path="/v2/orders")
        return await real(settings, **options)

    monkeypatch.setattr(commands, "sync_once", north_down)
    assert agency.run("sync") == 1
    err = capsys.readouterr().err
    assert "order-sync: pair north: bigcommerce GET /v2/orders: 503 Service Unavailable; nothing was lost" in err
    assert agency.sales("south") == [f"BC-{south}"]


def test_a_pairs_refused_start_of_run_is_recorded_under_that_pair_and_names_it(agency, capsys):
    """`run` stops when the configuration of every pair it runs is wrong (exit 2): the failed start-up
    is that pair's (its status shows it, the other pair's does not) and the message names it, as the
    one-shot commands do."""
    text = agency.config.read_text()
    south = text.index("- name: south")
    agency.config.write_text(text[:south] + text[south:].replace("Main Outlet", "No Such Outlet"))
    assert agency.run("run", "--pair", "south") == 2
    err = capsys.readouterr().err
    assert "order-sync: pair south: configuration error: " in err and "No Such Outlet" in err
    assert agency.run("status", "--pair", "south") == 0
    south_status = capsys.readouterr().out
    assert "start-up of `run`" in south_status and "No Such Outlet" in south_status
    assert agency.run("status", "--pair", "north") == 0
    assert "last failure: none" in capsys.readouterr().out


@pytest.mark.parametrize("fault", ["outlet", "mappings", "variable", "start_at"])
async def test_a_pairs_own_bad_configuration_does_not_stop_the_other_pairs(agency, tmp_path, monkeypatch, caplog,
                                                                           fault):
    """Review: one pair's own section wrong (an outlet X-Series does not have, a mapping file that does
    not parse, its token's variable unset, its own first run reaching too far back) stopped `run` for
    every pair. Now that pair is set aside:
    the others' cycles run, and the log, `status` and /readyz say why, naming the pair."""
    import io

    import httpx
    from served_sandbox import free_port

    text = agency.config.read_text()
    south = text.index("- name: south")
    if fault == "outlet":
        text = text[:south] + text[south:].replace("Main Outlet", "No Such Outlet")
    elif fault == "mappings":
        (tmp_path / "south-maps").mkdir()
        (tmp_path / "south-maps" / "order_status.yaml").write_text("statuses: [11,\n")
        text += "    mappings_dir: south-maps\n"  # south's entry is the file's last
    elif fault == "variable":
        monkeypatch.delenv("SOUTH_XS")
    else:  # its own first run reaching 5 days back (the historical import is off)
        text += "    sync: {start_at: %s}\n" % (SYSTEM_CLOCK.now() - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    agency.config.write_text(text)
    order = agency.add_order("north")
    settings = load_settings(agency.config)
    port = free_port()
    settings.server.enabled, settings.server.port = True, port
    stop = asyncio.Event()
    running = asyncio.create_task(daemon(settings, stop))
    try:
        for _ in range(200):
            assert not running.done(), running.exception()
            if agency.sales("north"):
                break
            await asyncio.sleep(0.05)
        assert agency.sales("north") == [f"BC-{order}"]
        async with httpx.AsyncClient() as client:
            reasons = (await client.get(f"http://127.0.0.1:{port}/readyz")).json()["reasons"]
        assert [r for r in reasons if r.startswith("pair south: ") and "configuration error" in r], reasons
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 30) == 0
    assert "pair south: " in caplog.text and "configuration error" in caplog.text
    out = io.StringIO()
    commands.show_status(settings.select_pairs("south")[0], out=out)
    assert "start-up of `run`: configuration error" in out.getvalue(), out.getvalue()


def test_a_pairs_unset_variable_stops_that_pair_only(agency, monkeypatch, capsys):
    """Its token's variable unset, one pair is refused (exit 2, named); the pairs after it still run,
    as when its token is refused."""
    agency.add_order("north")
    south = agency.add_order("south")
    monkeypatch.delenv("NORTH_XS")
    assert agency.run("sync") == 2
    err = capsys.readouterr().err
    assert "order-sync: pair north: configuration error: " in err and "${NORTH_XS}" in err
    assert agency.sales("north") == [] and agency.sales("south") == [f"BC-{south}"]
    monkeypatch.delenv("SOUTH_XS")  # every pair refused: the file is refused, as before
    with pytest.raises(ConfigError, match=r"\$\{NORTH_XS\}"):
        load_settings(agency.config)
