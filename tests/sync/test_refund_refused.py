"""A return X-Series refuses for good is flagged for a person, not retried for ever (review, bug 6):
it was posted again at every cycle and held the refunds cursor, whose window grew without end, and
nobody was told. Now it is recorded as refused with an exception; `retry-failed` posts it again."""

from __future__ import annotations

import json
from datetime import timedelta

from connector import commands
from connector.errors import PermanentApiError, TransientApiError
from sync_world import line

REFUND_SCOPE = "store/order/refund/created"


def returns(world, order_id: int) -> list[dict]:
    return world.xs.sales_of_order(order_id, returns=True)


class RefusedReturns:
    """X-Series answers every return POST with `error` (a 422 by default) until stop(); `posts`: the
    invoice numbers of the returns it answered so."""

    def __init__(self, runtime, error: Exception | None = None) -> None:
        self.real, self.error, self.refusing, self.posts = runtime.xs.create_sale_document, error, True, []
        runtime.xs.create_sale_document = self.create

    async def create(self, encoded, **kwargs):
        invoice = json.loads(encoded).get("invoice_number", "")
        if "-R" in invoice and self.refusing:
            self.posts.append(invoice)
            raise self.error or PermanentApiError("the sale is not valid", api="xseries", method="POST",
                                                  path="/api/register_sales", status=422)
        return await self.real(encoded, **kwargs)

    def stop(self) -> None:
        self.refusing = False


async def a_refunded_order(world) -> int:
    order_id = world.add_order([line("TEE-M", 2)])
    await world.cycle()
    tee = next(p for p in world.bc.products(order_id) if p["sku"] == "TEE-M")
    world.clock.advance(2)
    world.bc.refund(order_id, [{"item_type": "PRODUCT", "item_id": tee["id"], "quantity": 1}])
    return order_id


async def test_a_refused_return_is_flagged_once_lets_the_cursor_go_and_is_posted_again_on_retry(
        world_factory, database_url, tmp_path, capsys):
    world = world_factory(database_url)
    runtime = await world.runtime()
    order_id = await a_refunded_order(world)
    refusals = RefusedReturns(runtime)

    report = await world.cycle(advance=60)
    assert report.refunds["refused"] == 1 and not report.refunds_failed
    refused = len(refusals.posts)  # the return and its fallbacks (without return_for, with the affixes)
    [binding] = world.store.refund_bindings(order_id)
    assert binding.outcome == "refused" and not binding.pending and "422" in binding.reason
    [exception] = world.store.exceptions()
    assert (exception.bc_order_id, exception.kind, exception.summary) == (order_id, "refund", binding.reason)
    assert "retry-failed" in exception.summary

    for _ in range(3):
        await world.cycle(advance=6 * 3600)
    assert len(refusals.posts) == refused  # never posted again on its own
    assert world.store.cursor("refunds") >= world.store.cursor() - timedelta(minutes=10)  # not held
    assert len(world.store.exceptions()) == 1 and returns(world, order_id) == []

    # The cause fixed, a person asks: posted again at the next cycle, returned.
    refusals.stop()
    settings = world.settings()
    assert commands.retry_failed(settings, order_id, by="merchant") == 0
    assert "1 refund(s) held for a person will be posted again" in capsys.readouterr().out
    report = await world.cycle(advance=60)
    assert report.refunds["returned"] == 1 and not report.refunds_failed
    [binding] = world.store.refund_bindings(order_id)
    assert binding.outcome == "returned" and len(returns(world, order_id)) == 1 and world.stock("TEE-M") == 49
    assert "retry_requested" in [e.action for e in world.store.audit_entries(order_id)]
    assert world.store.request_refund_retry(None, by="merchant", via="test") == 0  # nothing held now


async def test_a_refused_return_whose_exception_was_resolved_is_not_posted_again(world):
    # Resolved: a person returned it by hand, or decided no return is due. retry-failed (of every
    # order) must not post it: the units would come back twice.
    runtime = await world.runtime()
    order_id = await a_refunded_order(world)
    refusals = RefusedReturns(runtime)
    await world.cycle(advance=60)
    [exception] = world.store.exceptions()
    world.store.resolve_exception(exception.id, by="merchant")
    refusals.stop()

    assert world.store.request_refund_retry(None, by="merchant", via="test") == 0
    await world.cycle(advance=60)
    assert returns(world, order_id) == [] and world.store.refund_bindings(order_id)[0].outcome == "refused"


async def test_a_refused_return_refused_again_after_a_retry_stays_flagged(world):
    runtime = await world.runtime()
    order_id = await a_refunded_order(world)
    refusals = RefusedReturns(runtime)
    await world.cycle(advance=60)
    once = len(refusals.posts)

    assert world.store.request_refund_retry(order_id, by="merchant", via="test") == 1
    report = await world.cycle(advance=60)
    assert report.refunds["refused"] == 1 and len(refusals.posts) == 2 * once  # tried once more, no more
    await world.cycle(advance=60)
    assert len(refusals.posts) == 2 * once
    assert len(world.store.exceptions()) == 1  # the same exception, still open
    assert world.store.refund_bindings(order_id)[0].outcome == "refused"


async def test_a_refund_webhook_refused_for_good_is_flagged_not_raised(world):
    runtime = await world.runtime()
    order_id = await a_refunded_order(world)
    RefusedReturns(runtime)

    await runtime.mirror_event(order_id, REFUND_SCOPE)

    assert world.store.refund_bindings(order_id)[0].outcome == "refused"
    assert [e.kind for e in world.store.exceptions()] == ["refund"]


async def test_a_transient_failure_still_holds_the_refunds_cursor(world):
    runtime = await world.runtime()
    order_id = await a_refunded_order(world)
    refusals = RefusedReturns(runtime, TransientApiError("503 again", api="xseries", method="POST",
                                                      path="/api/register_sales", status=503))
    for _ in range(2):
        report = await world.cycle(advance=6 * 3600)
        assert list(report.refunds_failed) == [max(world.bc.refunds)]
    assert world.store.cursor("refunds") <= world.store.cursor() - timedelta(hours=6)
    assert not world.store.exceptions() and world.store.refund_bindings(order_id)[0].outcome == "pending"

    refusals.stop()
    report = await world.cycle(advance=60)
    assert report.refunds["returned"] == 1 and world.stock("TEE-M") == 49


async def test_a_refusal_after_a_lost_answer_keeps_the_return_pending(world, monkeypatch):
    # The return's answer was lost (it may have landed) and the search for it is refused: nothing
    # says the return is not there, so it is not recorded as refused (a retry would post it twice).
    import connector.sync.refund_mirror as refund_mirror
    from connector.errors import UnknownWriteOutcome

    runtime = await world.runtime()
    order_id = await a_refunded_order(world)
    RefusedReturns(runtime, UnknownWriteOutcome("timed out", api="xseries", method="POST", path="/api/register_sales"))

    async def refused_search(*args, **kwargs):
        raise PermanentApiError("bad search", api="xseries", method="GET", path="/api/2.0/search", status=400)

    monkeypatch.setattr(refund_mirror, "find_sale", refused_search)
    report = await world.cycle(advance=60)

    assert list(report.refunds_failed) == [max(world.bc.refunds)] and not world.store.exceptions()
    [binding] = world.store.refund_bindings(order_id)
    assert binding.pending and binding.outcome == "pending"
