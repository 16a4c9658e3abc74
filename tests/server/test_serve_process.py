"""Issue 17, point 3: `order-sync serve` as a real process against the served sandbox: --port wins
over server.port; a webhook BigCommerce would send for a new order (POST /_sandbox/orders makes
both) becomes a sale only when it carries the secret, once however often it is delivered; SIGTERM
ends it with exit 0."""

from __future__ import annotations

import json
import signal
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

# The served sandbox of the process suites (tests/reliability/served.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "reliability"))
from served import Served, free_port, order_sync  # noqa: E402

SECRET = "hook-secret-for-tests"


def post(url: str, body: dict, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def webhook_outcomes(base: str) -> dict[str, float]:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {s.labels["outcome"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == "order_sync_webhooks_total"}


def pairs_not_started(base: str) -> list[str]:
    """The pairs /readyz names as still starting."""
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=2) as answer:
            reasons = json.load(answer)["reasons"]
    except urllib.error.HTTPError as exc:  # 503: not ready, with its reasons
        reasons = json.load(exc)["reasons"]
    return [reason for reason in reasons if "still starting" in reason]


def sales_of(sandbox: Served, order_id: int) -> int:
    return sandbox.summary()["sales_per_source_id"].get(str(order_id), 0)


def test_serve_process_mirrors_signed_webhooks_and_stops_on_sigterm(tmp_path, monkeypatch):
    monkeypatch.setenv("REL_HOOK_SECRET", SECRET)
    sandbox = Served(orders=5, seed=4)
    serve = None
    try:
        config = sandbox.write_config(tmp_path / "config.yaml", f"sqlite:///{tmp_path / 'serve.db'}",
                                      start_at=datetime.now(timezone.utc) - timedelta(days=3), interval_seconds=300)
        configured, given = free_port(), free_port()
        text = config.read_text().replace("  store_hash: abc123\n",
                                          "  store_hash: abc123\n  webhook_secret: ${REL_HOOK_SECRET}\n")
        config.write_text(text + f"server:\n  port: {configured}\n")
        serve = order_sync("serve", "--config", str(config), "--port", str(given), cwd=tmp_path)
        base = f"http://127.0.0.1:{given}"
        deadline = time.monotonic() + 30
        while True:
            assert serve.poll() is None, serve.stderr.read()
            assert time.monotonic() < deadline, "serve did not answer on --port"
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()
                if not pairs_not_started(base):  # a pair's webhooks answer 503 until it has started
                    break
            except OSError:
                pass
            time.sleep(0.05)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{configured}/healthz", timeout=2).close()
            raise AssertionError("serve also answers on server.port although --port was given")
        except urllib.error.URLError:
            pass

        like = min(sandbox.orders())
        created = sandbox.call("/_sandbox/orders", {"like": like})
        order_id, event = created["id"], created["webhook"]
        url = f"{base}/webhooks/bigcommerce/default"
        for headers in ({}, {"X-Webhook-Secret": "not-the-secret"}):
            assert post(url, event, headers)[0] == 401
        time.sleep(0.5)
        assert sales_of(sandbox, order_id) == 0
        assert webhook_outcomes(base) == {"refused": 2}

        assert post(url, event, {"X-Webhook-Secret": SECRET}) == (200, b"")
        deadline = time.monotonic() + 10
        while sales_of(sandbox, order_id) == 0:
            if time.monotonic() > deadline:
                serve.kill()
                raise AssertionError("no sale after the signed webhook: " + serve.communicate()[1][-3000:])
            time.sleep(0.05)
        assert post(url, event, {"X-Webhook-Secret": SECRET}) == (200, b"")  # delivered again: same hash
        time.sleep(0.5)
        assert sales_of(sandbox, order_id) == 1
        assert webhook_outcomes(base) == {"refused": 2, "deferred": 1, "duplicate": 1}

        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=10) == 0, serve.stderr.read()
    finally:
        if serve is not None and serve.poll() is None:
            serve.kill()
            serve.wait()
        sandbox.stop()
