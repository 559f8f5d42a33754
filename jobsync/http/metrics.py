"""Prometheus metrics: what the daemon counts as it works, and what the store says at each scrape.

Each server has its own registry (no global state): counters the daemon moves (syncs, their
durations, schedules fired, webhook deliveries) and a collector that reads the catalog when
Prometheus scrapes (last sync and commit per source, failing sources, events, projection lag,
pending and running results). ``jobsync serve`` has only the second kind, which is what a
second host reading a shared store can truthfully say.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from jobsync.catalog import Catalog

#: Content type of the text format ``generate_latest`` writes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Sync durations span a no-op poll (milliseconds) to a cold clone of a large repository (minutes).
SYNC_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    """One server's registry, with the counters the daemon moves."""

    def __init__(self, catalog: Catalog) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.syncs = Counter(
            "jobsync_syncs",
            "Syncs the daemon ran, by source and outcome (ok, unchanged, failed, refused, busy).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.sync_seconds = Histogram(
            "jobsync_sync_duration_seconds",
            "How long each sync the daemon ran took, by source.",
            ["source"],
            buckets=SYNC_BUCKETS,
            registry=self.registry,
        )
        self.schedules_fired = Counter(
            "jobsync_schedules_fired", "Runs recorded by due schedules.", registry=self.registry
        )
        self.webhooks = Counter(
            "jobsync_webhook_deliveries",
            "Webhook deliveries, by source and outcome (accepted, ignored, replayed, unauthorized, unknown, refused).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.registry.register(CatalogCollector(catalog))

    def sync_done(self, source: str, outcome: str, seconds: float) -> None:
        self.syncs.labels(source, outcome).inc()
        self.sync_seconds.labels(source).observe(seconds)

    def exposition(self) -> bytes:
        """The text Prometheus scrapes (reads the store: call it off the event loop)."""
        return generate_latest(self.registry)


class CatalogCollector(Collector):
    """Gauges read from the store at each scrape, so they are true for every host sharing it."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # nothing is read at registration; the families appear at the first scrape

    def collect(self) -> Iterator[GaugeMetricFamily | InfoMetricFamily]:
        catalog = self.catalog
        sources = catalog.sources()
        last_sync = GaugeMetricFamily(
            "jobsync_source_last_sync_timestamp_seconds",
            "When each source last synced successfully (Unix time).",
            labels=["source"],
        )
        commit = InfoMetricFamily(
            "jobsync_source_last_commit", "The commit each source last synced.", labels=["source"]
        )
        failing = GaugeMetricFamily(
            "jobsync_source_failing", "1 when a source's last sync failed.", labels=["source"]
        )
        for record in sources:
            name = record["name"]
            if record["last_synced"] is not None:
                last_sync.add_metric([name], record["last_synced"].timestamp())
            if record["last_commit"]:
                commit.add_metric([name], {"commit": record["last_commit"]})
            failing.add_metric([name], 1.0 if record["status"] == "failing" else 0.0)
        yield last_sync
        yield commit
        yield failing
        yield GaugeMetricFamily(
            "jobsync_sources_failing",
            "Sources whose last sync failed.",
            value=sum(1 for record in sources if record["status"] == "failing"),
        )
        events = catalog.event_count()
        yield GaugeMetricFamily("jobsync_events", "Events in the log (its last position).", value=events)
        yield GaugeMetricFamily(
            "jobsync_projection_lag_events",
            "Events in the log not yet applied to the read models.",
            value=max(0, events - catalog.projected_position()),
        )
        results = GaugeMetricFamily("jobsync_results", "Results by status.", labels=["status"])
        for status in ("pending", "running"):
            results.add_metric([status], len(catalog.results(status=status)))
        yield results
