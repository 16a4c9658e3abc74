"""Issue 16, point 6: reconcile and recover — drift between BigCommerce and X-Series, a lost state
database refused at start-up, `reconcile --adopt` rebinding every sale, `--fix` repairing what is safe."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bad_input"))

from cli_world import run_cli_async, write_config  # noqa: E402
from connector.errors import NotFoundError  # noqa: E402
from connector.runtime import Runtime  # noqa: E402
from connector.store.repository import Store  # noqa: E402
from connector.sync.order_mirror import Outcome  # noqa: E402
from connector.sync.reconcile import Reconciler, refuse_lost_state  # noqa: E402
from sync_world import line  # noqa: E402


async def runtime_on(world, database_url: str) -> Runtime:
    settings = world.settings().model_copy(update={"database_url": database_url})
    runtime = await Runtime.start(settings, bc_transport=world.bc.transport(), xs_transport=world.xs.transport(),
                                  clock=world.clock, store=Store.open(database_url, clock=world.clock))
    world.runtimes.append(runtime)
    return runtime


async def a_mirrored_store(world) -> dict[str, int]:
    orders = {
        "closed": world.add_order([line("TEE-M", 2)]),
        "voided": world.add_order([line("MUG-01", 1, "10.00")], status_id=5),
        "on account": world.add_order([line("BTL-07", 1, "24.00")], status_id=7),
        "pending": world.add_order([line("TEE-L", 1)], status_id=1),
        "reopened": world.add_order([line("TEE-L", 1)]),
    }
    await world.cycle()
    world.set_status(orders["reopened"], 5)
    await world.cycle()
    world.set_status(orders["reopened"], 11)
    await world.cycle()
    assert len(world.sales(orders["reopened"])) == 2
    return orders


async def test_a_lost_state_database_is_refused_then_adopted_with_no_second_sale(world, tmp_path, monkeypatch, capsys):
    orders = await a_mirrored_store(world)
    sales_before = {what: [s["id"] for s in world.sales(o)] for what, o in orders.items()}
    writes = world.xs_writes()
    lost = f"sqlite:///{tmp_path / 'lost.db'}"  # the state database is gone: a new, empty one
    config = write_config(world, tmp_path / "config.yaml")
    config.write_text(config.read_text().replace(world.database_url, lost))

    config.write_text(config.read_text() + "historical_import:\n  enabled: true\n")
    # Every command that writes sales refuses: the one-off cycle, the daemon and the history import.
    for command in ("sync", "run", "import-history"):
        assert await run_cli_async(world, monkeypatch, config, command) == 2, command
        err = capsys.readouterr().err
        assert "order-sync reconcile --adopt" in err and "already holds sale BC-" in err, command
    assert world.xs_writes() == writes  # nothing written twice

    assert await run_cli_async(world, monkeypatch, config, "reconcile", "--adopt") == 0
    out = capsys.readouterr().out
    assert out.count("unbound") == 4 and out.count("— adopted") == 4
    assert await run_cli_async(world, monkeypatch, config, "sync") == 0
    assert world.xs_writes() == writes
    assert {what: [s["id"] for s in world.sales(o)] for what, o in orders.items()} == sales_before

    # The adopted bindings work like their own: a cancellation voids the adopted (latest) sale.
    runtime = await runtime_on(world, lost)
    binding = runtime.store.order_binding(orders["reopened"])
    assert (binding.generation, binding.sale_id) == (2, sales_before["reopened"][1])
    world.set_status(orders["closed"], 5)
    report = await world.cycle(runtime=runtime)
    assert report.outcomes[Outcome.VOIDED] == 1 and world.sale(orders["closed"])["status"] == "VOIDED"
    assert world.stock("TEE-M") == 50
    adopted = [e for e in runtime.store.audit_entries() if e.action == "adopt_sale"]
    assert len(adopted) == 4


async def test_a_lost_state_database_is_refused_though_orders_came_in_while_it_was_lost(world, tmp_path):
    """The newest orders were placed while order-sync was down with its database gone: they have no
    sale yet, but the register holds the sales of the orders before them, which a sync would write
    again (BC-<id> twice)."""
    import pytest

    from connector.errors import ConfigError

    await a_mirrored_store(world)
    for _ in range(3):  # placed during the outage: not mirrored yet
        world.add_order([line("MUG-01", 1, "10.00")])
    writes = world.xs_writes()
    runtime = await runtime_on(world, f"sqlite:///{tmp_path / 'lost.db'}")
    bc_calls, xs_calls = len(world.bc.request_log), len(world.xs.request_log)
    with pytest.raises(ConfigError, match="reconcile --adopt"):
        await refuse_lost_state(runtime)
    assert world.xs_writes() == writes
    # Still a start-up check: one BigCommerce call and at most two look-ups (each as given, then
    # with the register's prefix; each by its key, then by free text).
    assert len(world.bc.request_log) - bc_calls == 1 and len(world.xs.request_log) - xs_calls <= 8


async def test_a_pair_renamed_is_told_to_keep_its_old_name_not_to_adopt(world):
    """A single store moving to `pairs:` under another name than "default": its new pair has no
    state, but the database holds the old pair's. Told so, naming it, not sent to `reconcile --adopt`
    (which would bind every sale again under the new name)."""
    import pytest

    from connector.errors import ConfigError

    await a_mirrored_store(world)  # pair "default"
    settings = world.settings().model_copy(update={"pair": "north"})
    runtime = await Runtime.start(settings, bc_transport=world.bc.transport(), xs_transport=world.xs.transport(),
                                  clock=world.clock, store=Store.open(world.database_url, clock=world.clock))
    world.runtimes.append(runtime)
    assert runtime.store.pair == "north"
    with pytest.raises(ConfigError) as refused:
        await refuse_lost_state(runtime)
    message = str(refused.value)
    assert "holds state for pair(s) 'default'" in message and "name it 'default'" in message
    assert "reconcile --adopt" not in message


async def test_the_lost_state_check_lets_a_first_run_start_for_five_calls(world, tmp_path):
    world.add_order([line("TEE-M", 1)])  # placed before going live: never mirrored
    runtime = await runtime_on(world, f"sqlite:///{tmp_path / 'new.db'}")
    bc_calls, xs_calls = len(world.bc.request_log), len(world.xs.request_log)
    await refuse_lost_state(runtime)  # nothing of ours in X-Series: a first run, not a lost database
    # The newest order, then its sale's invoice number as given and with the register's prefix, each
    # by invoice_number and, not found (a hyphenated value), by free text.
    assert runtime.refs.invoice_affixes == ("OS-", "")
    assert (len(world.bc.request_log) - bc_calls, len(world.xs.request_log) - xs_calls) == (1, 4)
    await world.cycle(runtime=runtime)
    calls = len(world.bc.request_log)
    await refuse_lost_state(runtime)  # the store has bindings now: no call at all
    assert len(world.bc.request_log) == calls


async def test_reconcile_reports_each_kind_of_drift_and_fix_repairs_what_is_safe(world):
    orders = await a_mirrored_store(world)
    runtime = await world.runtime()
    # missing: an order whose sale never came (lost with its binding)
    missing = world.add_order([line("MUG-01", 2, "10.00")])
    # wrong state: cancelled in BigCommerce, not synced yet
    world.set_status(orders["closed"], 5)
    # amount: the order's total changed after the sale was written
    world.edit_lines(orders["on account"], [line("BTL-07", 2, "24.00")])
    # duplicate: a second live sale with the order's invoice (keyed in by hand in the POS)
    latest = world.sales(orders["reopened"])[-1]
    world.xs.sales[latest["id"] + "-twin"] = {**latest, "id": latest["id"] + "-twin",
                                              "version": latest["version"] + 10_000}
    # orphan: a sale of ours whose order was deleted in BigCommerce
    gone = orders["voided"]
    del world.bc.orders[gone]

    report = await Reconciler(runtime).run(None, None)

    kinds = {(d.kind, d.bc_order_id) for d in report.drift}
    assert ("missing", missing) in kinds
    assert ("wrong_state", orders["closed"]) in kinds
    assert ("amount", orders["on account"]) in kinds
    assert ("duplicate", orders["reopened"]) in kinds
    assert ("orphan", gone) in kinds
    # Only the twin is unknown to the store; every sale order-sync wrote is bound.
    assert {d.bc_order_id for d in report.drift if d.kind == "unbound"} == {orders["reopened"]}
    writes = world.xs_writes()
    assert report.fixed == [] and world.xs_writes() == writes  # a report writes nothing

    fixed = await Reconciler(runtime).run(None, None, fix=True)
    assert sorted(fixed.fixed) == sorted([missing, orders["closed"]])
    assert world.sale(missing)["status"] == "CLOSED"
    assert world.sale(orders["closed"])["status"] == "VOIDED"
    open_kinds = {e.summary.split(":")[0] for e in runtime.store.exceptions() if e.kind == "drift"}
    assert {"amount", "duplicate", "orphan"} <= open_kinds
    again = await Reconciler(runtime).run(None, None, fix=True)
    assert not any(d.kind in ("missing", "wrong_state") for d in again.drift)
    assert again.exceptions == 0  # the same drift is not opened twice


async def test_sales_numbered_with_the_registers_prefix_are_ours_to_refuse_and_adopt(world_factory, tmp_path):
    """A server that puts the register's prefix on given invoice numbers (knob; §8.2): a lost state
    database is still refused, and reconcile --adopt still finds every sale of ours (OS-BC-12-2 is
    order 12's second), with no second sale."""
    import pytest

    from connector.errors import ConfigError

    world = world_factory(xs_options={"prefixes_invoice_numbers": True})
    orders = await a_mirrored_store(world)
    assert world.sales(orders["reopened"])[1]["invoice_number"] == f"OS-BC-{orders['reopened']}-2"
    writes = world.xs_writes()
    runtime = await runtime_on(world, f"sqlite:///{tmp_path / 'lost.db'}")
    with pytest.raises(ConfigError, match="already holds sale OS-BC-"):
        await refuse_lost_state(runtime)
    report = await Reconciler(runtime).run(None, None, adopt=True)
    assert sorted(report.adopted) == sorted(o for what, o in orders.items() if what != "pending")
    binding = runtime.store.order_binding(orders["reopened"])
    assert (binding.generation, binding.sale_id) == (2, world.sales(orders["reopened"])[1]["id"])
    await world.cycle(runtime=runtime)
    assert world.xs_writes() == writes


async def test_an_order_whose_lines_cannot_be_read_is_no_orphan(world, monkeypatch):
    """Reconcile leaves out an order whose /products kept failing (the listing goes on without it):
    its sale must not be reported as one whose order was deleted."""
    orders = await a_mirrored_store(world)
    runtime = await world.runtime()
    broken = orders["closed"]
    original = runtime.bc._parse_order

    async def parse(data):
        if data.get("id") == broken:
            raise NotFoundError("not found", api="bigcommerce", method="GET",
                                path=f"/v2/orders/{broken}/products", status=404)
        return await original(data)

    monkeypatch.setattr(runtime.bc, "_parse_order", parse)
    report = await Reconciler(runtime).run(None, None)
    assert broken not in {d.bc_order_id for d in report.drift}


async def test_orders_from_before_going_live_are_no_drift_while_the_historical_import_is_off(
        world, tmp_path, monkeypatch, capsys):
    """Mirroring a past order moves stock, whichever command does it: with the historical import off,
    an order the daemon never read (placed and last changed before its first window), or one shipped
    before going live and changed since (the daemon itself leaves it to the historical import), has no
    sale by design; one still open at go-live and paid since is the daemon's. Reconcile counts it apart, not as drift: plain reconcile exits 0
    from day one (a monitoring job does not alert for ever), and `--fix` does not mirror it. Drift
    since going live is fixed as before. With the import enabled, it is drift again, and `--fix`
    mirrors it."""
    from datetime import timedelta

    from sync_world import START

    past = world.add_order([line("MUG-01", 3, "10.00")], date_created=START - timedelta(days=2))
    changed = world.add_order([line("TEE-L", 1)], status_id=1, date_created=START - timedelta(days=2))
    gone = world.add_order([line("TEE-M", 1)], status_id=2, date_created=START - timedelta(days=2))  # shipped then
    await world.cycle()  # going live: start_at is an hour back
    config = write_config(world, tmp_path / "config.yaml")
    assert await run_cli_async(world, monkeypatch, config, "reconcile") == 0
    out = capsys.readouterr().out
    assert "0 drift" in out and f"order {past}" not in out
    assert "2 order(s) placed before go-live have no sale: that is expected" in out and "import-history" in out

    missing = world.add_order([line("TEE-M", 1)])  # placed since: its sale was lost
    world.set_status(changed, 11)  # an old order still open at go-live, paid since: the daemon's
    world.set_status(gone, 10)  # shipped before going live, archived since: the import's (go_live)
    mugs = world.stock("MUG-01")
    assert await run_cli_async(world, monkeypatch, config, "reconcile", "--fix") == 0
    out = capsys.readouterr().out
    assert f"order {past}" not in out and "2 drift" in out and "2 order(s) placed before go-live" in out
    assert world.sale(past) is None and world.stock("MUG-01") == mugs  # no stock moved
    assert world.sale(gone) is None and f"order {gone}" not in out
    assert world.sale(missing)["status"] == "CLOSED" and world.sale(changed)["status"] == "CLOSED"

    config.write_text(config.read_text() + "historical_import:\n  enabled: true\n")
    assert await run_cli_async(world, monkeypatch, config, "reconcile") == 1  # to import: drift until it is
    assert f"order {past}: missing" in capsys.readouterr().out
    assert await run_cli_async(world, monkeypatch, config, "reconcile", "--fix") == 0
    assert world.sale(past)["status"] == "CLOSED" and world.stock("MUG-01") == mugs - 3
    assert world.sale(gone)["status"] == "CLOSED"


async def test_fix_keeps_the_sale_a_running_daemon_bound_meanwhile(world, monkeypatch):
    """`reconcile --fix` while the daemon writes the same order's sale (another process, holding the
    order's lease): the sale the daemon bound is kept, not wiped by the binding read before it
    (which the next mirror would write again as a second sale)."""
    from connector.store.leases import Leases

    order_id = world.add_order([line("TEE-M", 1)], status_id=1)  # Pending: recorded, no sale
    await world.cycle()
    world.set_status(order_id, 10)  # Completed: its sale is due (missing)
    reconciler, daemon = await world.runtime(), await world.new_runtime()
    key = f"order:{order_id}"
    assert daemon.store.leases.try_acquire(key)  # the daemon is writing the order's sale
    finished = []

    def the_daemon_binds_its_sale() -> None:
        """The end of the daemon's write, at any moment while it holds the lease (once)."""
        if finished:
            return
        finished.append(1)
        binding = daemon.store.order_binding(order_id)
        binding.sale_id, binding.pos_state, binding.bc_status_id = "daemon-sale", "closed", 10
        daemon.store.save_order_binding(binding)
        daemon.store.leases.release(key)

    try_acquire, save = Leases.try_acquire, reconciler.store.save_order_binding

    def taking(self, lease_key):
        taken = try_acquire(self, lease_key)
        if not taken and self is reconciler.store.leases and lease_key.endswith(key):
            the_daemon_binds_its_sale()  # the reconcile waits for it
        return taken

    def saving(binding, *args, **kwargs):
        the_daemon_binds_its_sale()  # between the reconcile's read of the binding and its save
        return save(binding, *args, **kwargs)

    monkeypatch.setattr(Leases, "try_acquire", taking)
    monkeypatch.setattr(reconciler.store, "save_order_binding", saving)
    report = await Reconciler(reconciler).run(None, None, fix=True)
    assert finished and order_id not in report.fixed  # the daemon's sale: the reconcile wrote nothing
    assert reconciler.store.order_binding(order_id).sale_id == "daemon-sale"
    assert world.sales(order_id) == []  # no sale written beside the daemon's


async def test_fix_records_an_order_it_cannot_mirror_and_fixes_the_drift_after_it(world, tmp_path, monkeypatch, capsys):
    """`reconcile --fix` meets a parked order (placed in EUR: the mapping refuses it): it records the
    failure as the sync cycle does, goes on to the drift after it (an order whose sale is missing),
    prints its report and exits 1, the refused order not counted as fixed."""
    await world.runtime()
    euro = world.add_order([line("TEE-L")], default_currency_code="EUR")
    await world.cycle()
    [failure] = world.store.failures()
    assert failure.bc_order_id == euro and failure.parked
    later = world.add_order([line("MUG-01", 1, "10.00")])  # placed since: not synced yet
    world.clock.advance(5)
    config = write_config(world, tmp_path / "config.yaml")

    assert await run_cli_async(world, monkeypatch, config, "reconcile", "--fix") == 1
    out = capsys.readouterr().out
    assert f"order {euro}: missing" in out and "not fixed: " in out and "EUR" in out
    assert f"order {later}: missing" in out and " — fixed" in out
    assert world.sale(euro) is None and world.sale(later)["status"] == "CLOSED"
    [failure] = world.store.failures()
    assert failure.bc_order_id == euro and failure.parked and failure.attempts == 2
    assert len([e for e in world.store.exceptions() if e.bc_order_id == euro]) == 1  # not opened twice
    runtime = await world.runtime()
    report = await Reconciler(runtime).run(None, None, fix=True)
    assert report.fixed == [] and list(report.failed) == [euro]


async def test_a_sale_order_sync_wrote_for_an_old_order_that_is_gone_is_drift(world, tmp_path, monkeypatch, capsys):
    """An order placed before go-live, mirrored while support had the historical import enabled; the
    import is turned off again and the sale is deleted in X-Series by hand. The order has a sale by
    order-sync's own record: its absence is drift (exit 1), not an old order's 'no sale by design'."""
    from datetime import timedelta

    from sync_world import START

    past = world.add_order([line("MUG-01", 3, "10.00")], date_created=START - timedelta(days=2))
    await world.cycle()  # going live
    config = write_config(world, tmp_path / "config.yaml")
    base = config.read_text()
    config.write_text(base + "historical_import:\n  enabled: true\n")
    assert await run_cli_async(world, monkeypatch, config, "reconcile", "--fix") == 0
    sale = world.sale(past)
    assert world.store.order_binding(past).sale_id == sale["id"]
    config.write_text(base)
    capsys.readouterr()
    del world.xs.sales[sale["id"]]

    assert await run_cli_async(world, monkeypatch, config, "reconcile") == 1
    out = capsys.readouterr().out
    assert f"order {past}: missing" in out and "placed before go-live" not in out
