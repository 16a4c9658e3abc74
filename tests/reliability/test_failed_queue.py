"""The failed-order queue (issue 7 §1): which step failed and what the API said; retried with
backoff on later cycles; parked after sync.max_attempts until `order-sync retry-failed`; listed by
`order-sync status`; permanent errors parked at once with a readable reason — and the rest of the
batch mirrored all the same."""

from __future__ import annotations

from pathlib import Path

from connector.cli import main
from connector.sandbox.xseries_refusals import SimHttpError, unprocessable
from connector.sync.order_mirror import Outcome
from sync_world import OMAR, line

MAX_ATTEMPTS = 5  # the test world's sync.max_attempts (the shipped default is 10)


def write_config(world, path: Path, monkeypatch) -> Path:
    """The world's settings as a config file, for the CLI commands that only read the store."""
    monkeypatch.setenv("REL_BC_TOKEN", world.bc.access_token)
    monkeypatch.setenv("REL_XS_TOKEN", world.xs.token)
    path.write_text(
        "bigcommerce:\n"
        f"  store_hash: {world.bc.store_hash}\n"
        "  access_token: ${REL_BC_TOKEN}\n"
        f"  api_url: {world.bc.base_url}\n"
        "xseries:\n"
        f"  domain_prefix: {world.xs.domain_prefix}\n"
        "  token: ${REL_XS_TOKEN}\n"
        f"  api_url: {world.xs.base_url}\n"
        "  outlet: Main Outlet\n"
        "  register: Online Store\n"
        f"database_url: {world.database_url}\n"
        f"mappings_dir: {world.mappings_dir}\n"
    )
    return path


def cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def sale_posts_for(world, order_id: int) -> int:
    return sum(1 for r in world.xs.request_log.matching("POST", "/api/register_sales")
               if isinstance(r.body, dict) and r.body.get("invoice_number") == f"BC-{order_id}")


def product_posts_for(world, sku: str) -> int:
    return sum(1 for r in world.xs.request_log.matching("POST", "/api/2.0/products")
               if isinstance(r.body, dict) and r.body.get("sku") == sku)


def patch_route(xs, name: str, refuse) -> callable:
    """Make one X-Series handler refuse some requests (refuse(call) raises or returns None).
    Returns a function that puts the original handler back."""
    original = getattr(xs, name)

    def handler(call):
        refuse(call)
        return original(call)

    setattr(xs, name, handler)
    xs._routes = xs._build_routes()

    def restore() -> None:
        setattr(xs, name, original)
        xs._routes = xs._build_routes()

    return restore


def refuse_sales_of(xs, order_id: int):
    """X-Series answers 503 to every sale write of this order (a partial outage), applying nothing."""
    def refuse(call):
        if isinstance(call.body, dict) and call.body.get("invoice_number") == f"BC-{order_id}":
            raise SimHttpError(503, {"error": "Service Unavailable", "message": "register_sales is down"})
    return patch_route(xs, "_post_register_sale", refuse)


def refuse_product(xs, sku: str, message: str):
    """X-Series answers 422 to the creation of a product with this SKU (bad product data)."""
    def refuse(call):
        if isinstance(call.body, dict) and call.body.get("sku") == sku:
            raise unprocessable(message)
    return patch_route(xs, "_create_product_http", refuse)


async def test_transient_failure_backs_off_parks_and_waits_for_retry_failed(world, tmp_path, capsys, monkeypatch):
    world.overlap_seconds = 1  # (the least) later windows do not re-read the order: only the queue retries it
    config = str(write_config(world, tmp_path / "config.yaml", monkeypatch))
    bad = world.add_order([line("TEE-M", 1)])
    good = world.add_order([line("MUG-01", 1)], customer=OMAR)
    restore = refuse_sales_of(world.xs, bad)

    report = await world.cycle()

    assert set(report.failed) == {bad} and report.outcomes[Outcome.CREATED] == 1
    assert world.sale(good) is not None and world.sales(bad) == []
    [failure] = world.store.failures()
    assert (failure.bc_order_id, failure.step, failure.attempts, failure.parked, failure.permanent) == (
        bad, "write", 1, False, False)
    # What the API said: the status and its message, and what the connector did about it.
    assert "503" in failure.reason and f"BC-{bad}" in failure.reason
    code, out = cli(capsys, "--config", config, "status")
    assert code == 0 and f"order {bad}: step write, 1 attempt(s), next try" in out and "503" in out

    # Retried on later cycles, with a growing backoff: due at once (at the next cycle, here the first
    # after sync.lost_write_settle_seconds: a 503 may have been applied), then after 1, 2, 4 minutes.
    attempts_by_then = []
    for wait in (31, 30, 31, 60, 60, 121, 120, 241):
        await world.cycle(advance=wait)
        attempts_by_then.append(sale_posts_for(world, bad))
    assert attempts_by_then == [2, 2, 3, 3, 4, 4, 5, 5]
    [failure] = world.store.failures()
    assert failure.attempts == MAX_ATTEMPTS and failure.parked and not failure.permanent

    # Parked: not tried again, even hours later, even once X-Series is back.
    restore()
    await world.cycle(advance=6 * 3600)
    assert sale_posts_for(world, bad) == 5 and world.sales(bad) == []
    code, out = cli(capsys, "--config", config, "status")
    assert f"order {bad}: step write, {MAX_ATTEMPTS} attempt(s), parked" in out and "failed orders: 1" in out

    code, out = cli(capsys, "--config", config, "retry-failed", "--order", str(bad))
    assert code == 0 and "1 failed order(s) will be retried" in out
    report = await world.cycle()
    assert report.outcomes[Outcome.CREATED] == 1 and not report.failed
    assert len(world.sales(bad)) == 1 and world.store.failures() == []
    code, out = cli(capsys, "--config", config, "status")
    assert "failed orders: 0" in out


async def test_422_on_product_data_is_parked_at_once_and_the_batch_goes_on(world, tmp_path, capsys, monkeypatch):
    config = str(write_config(world, tmp_path / "config.yaml", monkeypatch))
    before = world.add_order([line("TEE-M", 1)])
    bad = world.add_order([line("MUG-01", 1), line("GLAZE-9", 2, "7.00", product_id=222)], customer=OMAR)
    after = world.add_order([line("TEE-L", 1)])
    restore = refuse_product(world.xs, "GLAZE-9", "price_excluding_tax exceeds the allowed precision")

    report = await world.cycle()

    assert set(report.failed) == {bad} and report.outcomes[Outcome.CREATED] == 2
    assert world.sale(before) is not None and world.sale(after) is not None and world.sales(bad) == []
    [failure] = world.store.failures()
    assert (failure.step, failure.attempts, failure.permanent, failure.parked) == ("products", 1, True, True)
    assert "422" in failure.reason and "allowed precision" in failure.reason and "/api/2.0/products" in failure.reason
    code, out = cli(capsys, "--config", config, "status")
    assert f"order {bad}: step products, 1 attempt(s), parked" in out and "allowed precision" in out

    # Not retried by later cycles: repeating the same data would get the same answer.
    await world.cycle(advance=3600)
    assert product_posts_for(world, "GLAZE-9") == 1

    # retry-failed retries it; still refused, it is parked again at once.
    cli(capsys, "--config", config, "retry-failed")
    await world.cycle()
    assert product_posts_for(world, "GLAZE-9") == 2
    [failure] = world.store.failures()
    assert failure.parked and failure.attempts == 1

    # Once the data (here: X-Series) is fixed, retry-failed mirrors it.
    restore()
    cli(capsys, "--config", config, "retry-failed")
    report = await world.cycle()
    assert report.outcomes[Outcome.CREATED] == 1 and world.sale(bad) is not None
    assert world.store.failures() == []


async def test_payment_method_without_mapping_or_default_is_parked_at_once(world, tmp_path, capsys, monkeypatch):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "payment_methods.yaml").write_text("methods:\n  Credit Card: Credit Card\n  Cash: Cash\n")
    world.mappings_dir = mappings
    config = str(write_config(world, tmp_path / "config.yaml", monkeypatch))
    paid = world.add_order([line("TEE-M", 1)], payment_method="Bitcoin")
    unpaid = world.add_order([line("TEE-M", 1)], payment_method="Bitcoin", status_id=7)  # Awaiting Payment
    card = world.add_order([line("TEE-L", 1)], payment_method="credit card")

    report = await world.cycle()

    assert set(report.failed) == {paid}
    assert world.sale(card)["status"] == "CLOSED"
    assert world.sale(unpaid)["status"] == "ONACCOUNT"  # no payment, so no payment type needed
    assert world.sales(paid) == []
    [failure] = world.store.failures()
    assert (failure.step, failure.permanent, failure.parked) == ("map", True, True)
    assert failure.reason == (f"order {paid}: payment method 'Bitcoin' has no mapping in "
                              f"{mappings / 'payment_methods.yaml'} and there is no default")
    code, out = cli(capsys, "--config", config, "status")
    assert f"order {paid}: step map, 1 attempt(s), parked: {failure.reason}" in out


async def test_a_mapping_exception_is_resolved_once_its_order_is_mirrored(world, tmp_path, capsys, monkeypatch):
    """A payment method without a mapping parks the order and opens a `mapping` exception. Once the
    table is fixed and the order retried, its sale is written: the refusal is over, so its exception
    is resolved (audited, by order-sync), not left open for status, /metrics and the console to
    count for ever. An exception of another kind on the same order still needs a person."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    table = mappings / "payment_methods.yaml"
    table.write_text("methods:\n  Credit Card: Credit Card\n  Cash: Cash\n")
    world.mappings_dir = mappings
    config = str(write_config(world, tmp_path / "config.yaml", monkeypatch))
    paid = world.add_order([line("TEE-M", 1)], payment_method="Bitcoin")
    await world.cycle()
    [mapping] = [e for e in world.store.exceptions() if e.bc_order_id == paid]
    assert mapping.kind == "mapping"
    other = world.store.open_exception(paid, "settle", "a person must look at this one")

    table.write_text("methods:\n  Credit Card: Credit Card\n  Cash: Cash\n  Bitcoin: Other\n")
    cli(capsys, "--config", config, "retry-failed")
    report = await world.cycle(runtime=await world.new_runtime())
    assert report.outcomes[Outcome.CREATED] == 1 and world.sale(paid)["status"] == "CLOSED"
    assert [e.id for e in world.store.exceptions()] == [other.id]
    [resolved] = [e for e in world.store.exceptions(open_only=False) if e.id == mapping.id]
    assert resolved.resolved_by == "order-sync: the order was mirrored" and resolved.resolved_at is not None
    [audited] = [e for e in world.store.audit_entries(paid) if e.action == "resolve_exception"]
    assert audited.target_id == str(mapping.id) and audited.reason == "resolved by order-sync: the order was mirrored"
    code, out = cli(capsys, "--config", config, "status")
    assert "open exceptions: 1 " in out


def test_a_refunds_mapping_exception_stays_open_when_its_order_is_mirrored(store, clock):
    """The order failed (X-Series 503 on a status change) and, meanwhile, a refund of it was refused by
    the payment table (kind mapping too, named by its refund, as refund_mirror opens it). The order's
    write succeeding later says nothing of the refund: its exception stays open for a person. The
    order's own mapping refusal is resolved."""
    from connector.store.tables import OrderBinding

    now = clock.now()
    binding = OrderBinding(bc_order_id=7, invoice_number="BC-7", pos_state="closed", sale_id="s1", bc_status_id=11,
                           content_hash="h", bc_date_modified=now, created_at=now, updated_at=now)
    store.settle_order(binding, audit=None)
    store.record_failure(7, step="map", reason="payment method 'Bitcoin' has no mapping", permanent=True,
                         max_attempts=10)
    clock.advance(60)
    own = store.open_exception(7, "mapping", "payment method 'Bitcoin' has no mapping")
    refund = store.open_exception(7, "mapping", "refund 55 of order 7: 'Bitcoin' has no mapping", before={"refund": 55})
    clock.advance(60)
    store.settle_order(binding, audit=None)

    assert [e.id for e in store.exceptions() if e.bc_order_id == 7] == [refund.id]
    [resolved] = [e for e in store.exceptions(open_only=False) if e.id == own.id]
    assert resolved.resolved_by == "order-sync: the order was mirrored"
