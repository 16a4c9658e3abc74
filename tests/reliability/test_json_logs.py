"""Structured logs (issue 7 §6): `order-sync sync --log-format json` as a real process against a
served sandbox with failing orders. Every line it writes is one JSON object; every line about an
order carries that order's id in `order_id`, and lines about no order carry none.

The sandbox holds, besides its seeded orders: an order whose total has a thousands separator (it
cannot be read), one with a status id the table does not know, one whose product X-Series refuses
(422), and an old one whose sale write X-Series refuses once (503) — so the second run retries it
from the failed-order queue, outside the window, in the cycle's own task.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from served import Served, order_sync

PLANT = """
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from connector.sandbox.xseries_refusals import SimHttpError, unprocessable

bc, xs = sandbox.bc, sandbox.xs
def line(sku, name):
    return {"product_id": 7, "variant_id": 0, "sku": sku, "name": name, "unit_price": Decimal("5.00"), "quantity": 1}
ids = {
    "unreadable": bc.add_order(customer=None, lines=[line("TEE-X", "Tee")], total_inc_tax="1,234.00")["id"],
    "unknown_status": bc.add_order(customer=None, lines=[line("TEE-X", "Tee")])["id"],
    "refused_product": bc.add_order(customer=None, lines=[line("REFUSED-1", "Refused")])["id"],
    "refused_once": bc.add_order(customer=None, lines=[line("TEE-X", "Tee")],
                                 date_created=datetime.now(timezone.utc) - timedelta(days=3))["id"],
}
bc.orders[ids["unknown_status"]]["status_id"] = 42
create_product, post_sale = xs._create_product_http, xs._post_register_sale
refusals = {"sale": 0}
def refusing_product(call):
    if isinstance(call.body, dict) and call.body.get("sku") == "REFUSED-1":
        raise unprocessable("sku REFUSED-1 is not allowed")
    return create_product(call)
def refusing_sale_once(call):
    if isinstance(call.body, dict) and call.body.get("invoice_number") == f"BC-{ids['refused_once']}" \\
            and refusals["sale"] == 0:
        refusals["sale"] += 1
        raise SimHttpError(503, {"error": "Service Unavailable", "message": "try again later"})
    return post_sale(call)
xs._create_product_http, xs._post_register_sale = refusing_product, refusing_sale_once
xs._routes = xs._build_routes()
open(IDS_PATH, "w").write(json.dumps(ids))
"""

ABOUT_AN_ORDER = re.compile(r"\border (\d+)\b|\bBC-(\d+)\b")


def parse_lines(text: str, where: str) -> list[dict]:
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except ValueError:
            raise AssertionError(f"{where} line {number} is not JSON: {raw[:300]!r}") from None
        assert isinstance(entry, dict) and {"time", "level", "logger", "message"} <= set(entry), raw
        entries.append(entry)
    return entries


def test_sync_with_json_logs_writes_one_object_a_line_with_order_ids(tmp_path, report_counts):
    ids_path = tmp_path / "ids.json"
    sandbox = Served(orders=120, seed=41, history_days=2, plant=f"IDS_PATH = {str(ids_path)!r}\n" + PLANT)
    try:
        ids = json.loads(ids_path.read_text())
        # The second run retries the 503 (a write that may have landed) at once: no settle time.
        config = sandbox.write_config(tmp_path / "config.yaml", f"sqlite:///{tmp_path / 'logs.db'}",
                                      start_at=datetime.now(timezone.utc) - timedelta(days=4),
                                      lost_write_settle_seconds=0)
        runs = []
        for _ in range(2):
            process = order_sync("sync", "--config", str(config), "--log-format", "json", "--log-level", "DEBUG",
                                 cwd=tmp_path)
            out, err = process.communicate(timeout=120)
            runs.append((process.returncode, out, err))
    finally:
        sandbox.stop()

    entries: list[dict] = []
    for number, (code, out, err) in enumerate(runs, 1):
        entries += parse_lines(err, f"run {number} stderr") + parse_lines(out, f"run {number} stdout")
    # Run 1: some orders failed. Run 2: the refused-once order is retried and mirrored; the parked
    # ones wait for retry-failed, and exit 1 says so (monitoring by exit code sees them).
    assert [code for code, _, _ in runs] == [1, 1]

    about: dict[int, list[dict]] = {}
    for entry in entries:
        match = ABOUT_AN_ORDER.search(entry["message"])
        if match:
            order_id = int(match.group(1) or match.group(2))
            assert entry.get("order_id") == order_id, entry
            about.setdefault(order_id, []).append(entry)
        elif entry["logger"] in ("connector.cli", "connector.daemon") or entry["message"].startswith("cycle"):
            assert "order_id" not in entry, entry  # a line about the run names no order
    # The failures are there, each on a warning naming its order.
    for name, fragment in (("unreadable", "1,234.00"), ("unknown_status", "unknown BigCommerce status id 42"),
                           ("refused_product", "422"), ("refused_once", "503")):
        order_id = ids[name]
        assert any(e["level"] == "warning" and fragment in e["message"] for e in about.get(order_id, [])), name
    # Lines about an order that do not name it in their text carry it all the same: the HTTP lines
    # of its sale write, for one.
    sale_posts = [e for e in entries if e["logger"] == "connector.http" and "POST /api/register_sales" in e["message"]]
    assert sale_posts and all(isinstance(e.get("order_id"), int) for e in sale_posts)
    # The second run retried the refused-once order from the queue and mirrored it.
    second = parse_lines(runs[1][2], "run 2 stderr")
    assert any(e.get("order_id") == ids["refused_once"] and "recover" in e["message"].lower() or
               e.get("order_id") == ids["refused_once"] and "register_sales" in e["message"] for e in second)
    [done] = [e for e in second if e["message"].startswith("cycle done")]
    assert "order_id" not in done and "0 failed" in done["message"]
    report_counts("json logs", {"lines": len(entries), "lines_about_an_order": sum(map(len, about.values())),
                                "orders_named": len(about)})
