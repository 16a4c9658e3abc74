"""An import done in date-ordered chunks returns the refunds of every chunk's orders.

The refund pass of chunk 1 reads every refund, including those of orders chunk 2 has not
imported yet: they are recorded "no sale", and must be returned once chunk 2 writes the
order's sale (review: a chunked import used to drop the later chunks' returns; a recorded refund
whose order has a closed sale now is not settled, refund_mirror._settled / refunds_due_again).
"""
from datetime import timedelta

from connector.history.importer import HistoricalImport
from connector.values import parse_rfc2822


def created(w, order_id):
    return parse_rfc2822(w.bc.orders[order_id]["date_created"])


async def test_refund_of_a_later_chunks_order_is_returned(import_world):
    w = import_world
    ids = sorted(w.bc.orders, key=lambda i: created(w, i))
    mid = created(w, ids[len(ids) // 2])
    late = next(i for i in ids if created(w, i) > mid and w.bc.orders[i]["status_id"] in (2, 10, 11)
                and any(p["product_id"] for p in w.bc.products(i)))
    line = next(p for p in w.bc.products(late) if p["product_id"])
    w.bc.refund(late, [{"item_type": "PRODUCT", "item_id": line["id"], "quantity": 1}])
    rt = await w.runtime()
    try:
        first = await HistoricalImport(rt, since=created(w, ids[0]) - timedelta(days=1), until=mid).run()
        assert not w.xs.sales_of_order(late) and not first.cycle.refunds_failed
        second = await HistoricalImport(rt, since=mid, until=w.clock.now()).run()
        assert not second.cycle.refunds_failed
        assert len(w.xs.sales_of_order(late)) == 1
        assert len(w.xs.sales_of_order(late, returns=True)) == 1
    finally:
        await rt.aclose()
        rt.store.close()
