"""Prometheus metrics of a store pair (issue 17, point 4), through prometheus-client.

What is durable is read from the store at each scrape, so every process (and every restart) tells
the same story and the counters match the audit log: orders mirrored by action, failed orders,
open exceptions, lag. What only this process knows — API requests by status, quota left, how long
its cycles took — it counts itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlmodel import func, select

from connector.store.tables import AuditEntry

# Audit actions that are a write of an order's state to X-Series, by the name the metric gives them.
MIRRORED_ACTIONS = {"create_sale": "created", "void_sale": "voided", "settle_sale": "settled",
                    "recover_sale": "recovered", "create_return": "returned", "adopt_sale": "adopted"}


class PairMetrics:
    """The metrics of the pairs a process serves; `registry` is what GET /metrics renders.
    `database=False` (a worker's): only what this process counts itself. The workers' pages are summed,
    and each would repeat the database's totals, which serve exports."""

    def __init__(self, runtimes: dict, *, database: bool = True) -> None:
        self.runtimes = runtimes  # pair name → Runtime
        self.database = database
        # Jobs by state: the embedded mode's webhook queue, or the workers' job queue (deferral.py).
        self.jobs: Callable[[], dict[str, int]] = lambda: {"todo": 0}
        self.registry = CollectorRegistry()
        self.cycle_seconds = Histogram("order_sync_cycle_seconds", "Duration of a sync cycle", ["pair"],
                                       registry=self.registry, buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900))
        # What this process's BigCommerce webhook receiver did with each call: deferred, already_queued
        # (the order's job was waiting), duplicate (hash seen), ignored (scope), refused (401),
        # invalid (400, or 413 for a body over 64 KiB), failed (503: the deferral failed).
        self.webhooks = Counter("order_sync_webhooks", "BigCommerce webhook calls, by outcome", ["pair", "outcome"],
                                registry=self.registry)
        self.registry.register(_StoreCollector(self))

    def observe_cycle(self, pair: str, seconds: float) -> None:
        self.cycle_seconds.labels(pair=pair).observe(seconds)


class _StoreCollector:
    def __init__(self, metrics: PairMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        mirrored = CounterMetricFamily("order_sync_orders_mirrored", "Orders written to X-Series, by action"
                                       " (from the audit log)", labels=["pair", "action"])
        failed = GaugeMetricFamily("order_sync_orders_failed", "Failed or parked orders", labels=["pair"])
        exceptions = GaugeMetricFamily("order_sync_exceptions", "Open exceptions", labels=["pair"])
        lag = GaugeMetricFamily("order_sync_lag_seconds", "Now minus the oldest change not mirrored yet",
                                labels=["pair"])
        requests = CounterMetricFamily("order_sync_api_requests", "API requests, by answer status",
                                       labels=["pair", "api", "status"])
        quota = GaugeMetricFamily("order_sync_api_quota_remaining", "Requests left in the API's window",
                                  labels=["pair", "api"])
        jobs = GaugeMetricFamily("order_sync_jobs", "Jobs by state (the embedded mode: orders its webhooks queued)",
                                 labels=["state"])
        for pair, runtime in self.m.runtimes.items():
            if self.m.database:
                store = runtime.store
                with store.session() as s:
                    counts = dict(s.exec(select(AuditEntry.action, func.count()).where(
                        AuditEntry.pair == store.pair, AuditEntry.action.in_(list(MIRRORED_ACTIONS)))
                        .group_by(AuditEntry.action)).all())
                for action, name in MIRRORED_ACTIONS.items():
                    mirrored.add_metric([pair, name], counts.get(action, 0))
                summary = store.failure_summary()
                failed.add_metric([pair], summary[0] + summary[1])
                exceptions.add_metric([pair], store.count_open_exceptions())
                lag.add_metric([pair], lag_seconds(store, summary))
            for api, client in (("bigcommerce", runtime.bc), ("xseries", runtime.xs)):
                for status, n in sorted(client.transport.stats.by_status.items()):
                    requests.add_metric([pair, api, str(status)], n)
                pacer = client.pacer
                left = getattr(pacer, "remaining", getattr(pacer, "left", None))  # X-Series / BigCommerce
                if left is not None:
                    quota.add_metric([pair, api], left)
        for state, count in self.m.jobs().items():
            jobs.add_metric([state], count)
        yield from ((mirrored, failed, exceptions, lag) if self.m.database else ())
        yield from (requests, quota, jobs)


def lag_seconds(store, summary: tuple[int, int, datetime | None] | None = None) -> float:
    """Now − the oldest change not mirrored: the cursor (everything before it is settled), or the
    first failure of an order still failed when that is older. 0 before the first cycle.
    `summary`: the store's failure_summary(), when the caller has it already."""
    cursor = store.cursor()
    oldest_failure = (summary or store.failure_summary())[2]
    oldest = [d for d in (cursor, oldest_failure) if d is not None]
    return max(0.0, (store.clock.now() - min(oldest)).total_seconds()) if oldest else 0.0
