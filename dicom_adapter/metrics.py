"""`AdapterMetrics`: the Prometheus instruments served on `/metrics`, in a registry per adapter instance.

Names follow the stack's scheme, `openclara_dicom_<thing>_<unit>` (openclara.metrics, docs/monitoring.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

from dicom_adapter.models import PayloadState
from openclara.metrics import CONTENT_TYPE, metric_name

__all__ = ["CONTENT_TYPE", "AdapterMetrics"]

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800)


def _name(thing: str, unit: str = "") -> str:
    return metric_name("dicom", thing, unit)


class DiskReading(Protocol):
    """One reading of the spool's file system (`dicom_adapter.storage.disk.DiskUsage`)."""

    @property
    def total(self) -> int: ...
    @property
    def available(self) -> int: ...
    @property
    def reserved(self) -> int: ...


class AdapterMetrics:
    """Counters fed by the sink and the submitter; payload gauges refreshed from SQLite at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # openclara_dicom_process_*: the adapter's CPU seconds, resident memory and open files (the soak's RSS).
        ProcessCollector(namespace="openclara_dicom", registry=self.registry)
        self.associations = Counter(
            _name("associations"), "Associations by outcome", ["outcome"], registry=self.registry
        )
        self.association_duration = Histogram(
            _name("association_duration", "seconds"),
            "From A-ASSOCIATE to release or abort, by outcome: how long a sender's study took to arrive",
            ["outcome"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.instances = Counter(
            _name("instances_received"),
            "Instances acknowledged with Success",
            ["called_ae_title"],
            registry=self.registry,
        )
        self.bytes = Counter(
            _name("received", "bytes"), "Bytes of acknowledged instances", ["called_ae_title"], registry=self.registry
        )
        self.payloads = Gauge(_name("payloads"), "Payloads by state", ["state"], registry=self.registry)
        self.jobs_started = Counter(_name("jobs_started"), "Jobs started on the platform", registry=self.registry)
        self.handed_files = Counter(_name("handed_files"), "Spool files put into jobs, by how: linked (same file "
                                    "system, no copy) or uploaded", ["how"], registry=self.registry)
        self.submission_retries = Counter(
            _name("submission_retries"), "Submission attempts that failed transiently", registry=self.registry
        )
        self.submission_latency = Histogram(
            _name("submission_latency", "seconds"),
            "From payload closed to every job started",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def watch_spares(self, ready: Callable[[], int], made_on_demand: Callable[[], int]) -> None:
        """Spool spare files, read at scrape time (`dicom_adapter.storage.spares`)."""
        Gauge(
            _name("spool_spare_files"), "Spare files ready for incoming instances", registry=self.registry
        ).set_function(ready)
        Gauge(
            _name("spool_files_made_on_demand"),
            "Files a C-STORE had to create itself because no spare was left (raise storage.spare_files)",
            registry=self.registry,
        ).set_function(made_on_demand)

    def watch_disk(self, read: Callable[[], DiskReading]) -> None:
        """The spool's file system against its watermark, read at scrape time (`storage.disk.DiskGuard.usage`).

        The SCP refuses new data once available bytes fall to reserved bytes: a dashboard plots the two.
        Each gauge reads on its own: a statvfs costs about 2 us."""
        Gauge(_name("spool_disk_size", "bytes"), "Size of the spool's file system",
              registry=self.registry).set_function(lambda: read().total)
        Gauge(_name("spool_disk_available", "bytes"), "Bytes of the spool's file system an unprivileged writer "
              "may use", registry=self.registry).set_function(lambda: read().available)
        Gauge(_name("spool_disk_reserved", "bytes"), "Bytes kept free (watermark_percent, reserve_space_gb): "
              "below it the SCP refuses new data", registry=self.registry).set_function(lambda: read().reserved)

    def set_payload_counts(self, counts: dict[PayloadState, int]) -> None:
        for state, count in counts.items():
            self.payloads.labels(state=state.value).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
