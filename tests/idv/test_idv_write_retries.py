"""A status PUT that has to be sent again (429, 5xx, no answer) is sent again only after the order
is read again: while the transport waited, the order may have shipped (Order Protection, §6)."""

from __future__ import annotations

import httpx
import pytest

from connector.errors import PermanentApiError
from connector.idv.decision import Outcome
from idv_world import IdvWorld


class FailingPuts(httpx.AsyncBaseTransport):
    """The world's transport, answering the first `count` status PUTs with `answer` (not applied)
    and running `meanwhile` at that moment (the merchant acting while the connector waits)."""

    def __init__(self, world: IdvWorld, answer, count: int = 1, meanwhile=None) -> None:
        self.inner = world.transport
        self.answer, self.count, self.meanwhile = answer, count, meanwhile
        self.failed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and self.failed < self.count:
            self.failed += 1
            if self.meanwhile is not None:
                self.meanwhile()
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer
        return await self.inner.handle_async_request(request)


def fail_puts(world: IdvWorld, answer, **options) -> FailingPuts:
    transport = FailingPuts(world, answer, **options)
    world.client.transport.client._transport = transport
    return transport


RATE_LIMITED = httpx.Response(429, headers={"X-Rate-Limit-Time-Reset-Ms": "5000"})


@pytest.mark.parametrize("answer", [RATE_LIMITED, httpx.Response(503), httpx.ConnectError("refused")],
                         ids=["429", "503", "not-sent"])
async def test_order_shipped_while_the_put_waited_to_be_sent_again_is_not_written(world, answer):
    await world.start()
    order = world.add_order(status_id=11)
    fail_puts(world, answer, meanwhile=lambda: world.bc.set_status(order, 2))
    decision = await world.event(order, "failed", "chk-1")
    assert decision.outcome is Outcome.SKIPPED_PROTECTED
    assert world.status(order) == 2 and world.puts() == []
    [entry] = world.audit(order)
    assert entry.action == "idv_skipped_protected" and "since the decision" in entry.reason


async def test_a_put_sent_again_after_a_429_is_written_when_the_order_did_not_move(world):
    await world.start()
    order = world.add_order(status_id=11)
    fail_puts(world, RATE_LIMITED)
    decision = await world.event(order, "failed", "chk-1")
    assert decision.outcome is Outcome.WRITTEN and world.status(order) == 6
    assert world.puts() == [(order, 6)]


async def test_a_put_whose_answer_was_lost_and_took_effect_is_audited_as_written(world):
    """No answer to the PUT, and the order has the target status when read again: our write took."""
    await world.start()
    order = world.add_order(status_id=11)

    def applied_then_lost() -> None:
        world.bc.set_status(order, 6)

    fail_puts(world, httpx.ReadTimeout("no answer"), meanwhile=applied_then_lost)
    decision = await world.event(order, "failed", "chk-1")
    assert decision.outcome is Outcome.WRITTEN and (decision.before, decision.after) == (11, 6)
    assert "the order had it already" in decision.reason
    assert world.status(order) == 6


async def test_a_put_that_took_unanswered_before_the_order_was_archived_is_audited_as_written(world):
    """Our write took, then the merchant archived the order: what happened is a write, not a skip."""
    await world.start()
    order = world.add_order(status_id=11)

    def applied_then_archived() -> None:
        world.bc.set_status(order, 6)
        archive(world, order)

    fail_puts(world, httpx.ReadTimeout("no answer"), meanwhile=applied_then_archived)
    decision = await world.event(order, "failed", "chk-1")
    assert decision.outcome is Outcome.WRITTEN and "archived since" in decision.reason
    assert (decision.before, decision.after) == (11, 6) and world.status(order) == 6


class TerseAnswers(httpx.AsyncBaseTransport):
    """The world's transport; a status PUT is applied, then answered with `answer` instead of the order."""

    def __init__(self, world: IdvWorld, answer: httpx.Response) -> None:
        self.inner, self.answer = world.transport, answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        return self.answer if request.method == "PUT" and response.status_code == 200 else response


@pytest.mark.parametrize("answer", [httpx.Response(204), httpx.Response(200, json={"id": 1})],
                         ids=["204", "no-status-id"])
async def test_an_applied_put_answered_without_the_order_is_audited_as_written(world, answer):
    """§6 promises the updated order; an answer without its status_id (204, a partial object) is
    not a failure: the write was applied, and the order is read to tell its status."""
    await world.start()
    order = world.add_order(status_id=11)
    world.client.transport.client._transport = TerseAnswers(world, answer)
    decision = await world.event(order, "failed", "chk-1")
    assert decision.outcome is Outcome.WRITTEN and (decision.before, decision.after) == (11, 6)
    assert world.puts() == [(order, 6)]
    assert [e.action for e in world.audit(order)] == ["idv_written"]


async def test_a_status_write_bigcommerce_refuses_is_audited_once_and_not_sent_again(world):
    await world.start()
    order = world.add_order(status_id=11)
    refused = fail_puts(world, httpx.Response(422, json={"status": 422, "title": "The status cannot be set"}),
                        count=5)
    decision = await world.event(order, "failed", "chk-1")
    assert decision.outcome is Outcome.REFUSED and refused.failed == 1  # one PUT: a 4xx is not repeated
    [entry] = world.audit(order)
    assert entry.action == "idv_refused" and "Declined" in entry.reason and "422" in entry.reason
    assert world.status(order) == 11


async def test_a_read_that_fails_with_a_4xx_like_error_is_no_refusal_of_the_write(world):
    # A 3xx on the order read (a wrong api_url) is a PermanentApiError too, but nothing was tried:
    # it must not be recorded as BigCommerce refusing the status (the sender would not resend it).
    await world.start()
    order = world.add_order(status_id=11)
    inner = world.client.transport.client._transport

    class RedirectReads(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "GET":
                return httpx.Response(301, headers={"Location": "https://elsewhere.example/"})
            return await inner.handle_async_request(request)

    world.client.transport.client._transport = RedirectReads()
    with pytest.raises(PermanentApiError):
        await world.event(order, "failed", "chk-1")
    assert world.audit(order) == [] and world.puts() == []


def archive(world: IdvWorld, order: int, flag: object = True) -> None:
    world.bc.orders[order]["is_deleted"] = flag  # the merchant archived it (DELETE, reference §2)


@pytest.mark.parametrize("when", ["before", "before-as-a-string", "between-decision-and-put", "while-the-put-waited"])
async def test_an_archived_order_is_left_alone_like_a_protected_one(world, when):
    """An archived order is one the merchant removed: no status write, before or between reads. The
    flag is read as the order mirror reads it ("true" too), so the two never disagree."""
    await world.start()
    order = world.add_order(status_id=11)
    if when.startswith("before"):
        archive(world, order, "true" if when.endswith("string") else True)
    elif when == "between-decision-and-put":
        reads = []
        world.transport.after = lambda r: r.method == "GET" and not reads and (reads.append(1), archive(world, order))
    else:
        fail_puts(world, RATE_LIMITED, meanwhile=lambda: archive(world, order))
    decision = await world.event(order, "failed", "chk-1")
    assert decision.outcome is Outcome.SKIPPED_PROTECTED and "archived in BigCommerce" in decision.reason
    assert world.status(order) == 11 and world.puts() == []
    [entry] = world.audit(order)
    assert entry.action == "idv_skipped_protected" and "archived in BigCommerce" in entry.reason


@pytest.mark.parametrize("busy", [409, 423])
@pytest.mark.parametrize("meanwhile", ["nothing", "shipped"])
async def test_a_put_answered_409_or_423_is_tried_again_by_the_next_poll_not_refused(world, busy, meanwhile):
    """Conflict / Locked (reference §8) say the order is busy now, not that the PUT is wrong: no final
    refusal is recorded, the next poll decides again on a fresh read, and Order Protection still holds."""
    await world.start()
    order = world.add_order(status_id=11)
    world.clock.advance(2)
    world.bc.set_metafield(order, "realid", "check_id", "rid-1")
    world.bc.set_metafield(order, "realid", "verification_status", "failed")
    locked = fail_puts(world, httpx.Response(busy, json=[{"status": busy, "message": "The order is being edited"}]))

    world.clock.advance(30)
    report = await world.service.poller.poll()
    assert locked.failed == 1 and order in report.failed and not report.outcomes
    assert world.audit(order) == [] and world.status(order) == 11

    if meanwhile == "shipped":
        world.bc.set_status(order, 2)  # the edit that held the lock shipped the order
    world.clock.advance(30)
    report = await world.service.poller.poll()
    [entry] = world.audit(order)
    if meanwhile == "shipped":
        assert report.outcomes == {Outcome.SKIPPED_PROTECTED: 1} and entry.action == "idv_skipped_protected"
        assert world.status(order) == 2 and world.puts() == []
    else:
        assert report.outcomes == {Outcome.WRITTEN: 1} and entry.action == "idv_written"
        assert world.status(order) == 6 and world.puts() == [(order, 6)]


async def test_a_put_answered_409_for_over_an_hour_is_a_refusal_and_the_poll_moves_on(world):
    """A server that answers 409 for good (a conflict that lasts) would hold the poll's cursor at that
    verdict, reading it and every one after it again at each poll: an hour after the verdict, the 409
    is recorded as BigCommerce's refusal, like any other 4xx."""
    await world.start()
    order = world.add_order(status_id=11)
    world.clock.advance(2)
    world.bc.set_metafield(order, "realid", "check_id", "rid-1")
    world.bc.set_metafield(order, "realid", "verification_status", "failed")
    fail_puts(world, httpx.Response(409, json=[{"status": 409, "message": "Conflict"}]), count=1000)

    world.clock.advance(30)
    assert order in (await world.service.poller.poll()).failed and world.audit(order) == []
    world.clock.advance(3600)
    report = await world.service.poller.poll()

    [entry] = world.audit(order)
    assert report.outcomes == {Outcome.REFUSED: 1} and not report.failed and "409" in entry.reason
    assert world.status(order) == 11
    world.clock.advance(30)
    assert not (await world.service.poller.poll()).outcomes  # the cursor moved past it
