"""`AdapterMetrics`: the Prometheus instruments served on `/metrics`, in a registry per adapter instance."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from dicom_adapter.models import PayloadState

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800)


class AdapterMetrics:
    """Counters fed by the sink and the submitter; payload gauges refreshed from SQLite at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.associations = Counter(
            "clara_dicom_associations", "Associations by outcome", ["outcome"], registry=self.registry
        )
        self.instances = Counter(
            "clara_dicom_instances_received",
            "Instances acknowledged with Success",
            ["called_ae_title"],
            registry=self.registry,
        )
        self.bytes = Counter(
            "clara_dicom_received_bytes", "Bytes of acknowledged instances", ["called_ae_title"], registry=self.registry
        )
        self.payloads = Gauge("clara_dicom_payloads", "Payloads by state", ["state"], registry=self.registry)
        self.jobs_started = Counter("clara_dicom_jobs_started", "Jobs started on the platform", registry=self.registry)
        self.submission_retries = Counter(
            "clara_dicom_submission_retries", "Submission attempts that failed transiently", registry=self.registry
        )
        self.submission_latency = Histogram(
            "clara_dicom_submission_latency_seconds",
            "From payload closed to every job started",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def watch_spares(self, ready: Callable[[], int], made_on_demand: Callable[[], int]) -> None:
        """Spool spare files, read at scrape time (`dicom_adapter.storage.spares`)."""
        Gauge(
            "clara_dicom_spool_spare_files", "Spare files ready for incoming instances", registry=self.registry
        ).set_function(ready)
        Gauge(
            "clara_dicom_spool_files_made_on_demand",
            "Files a C-STORE had to create itself because no spare was left (raise storage.spare_files)",
            registry=self.registry,
        ).set_function(made_on_demand)

    def set_payload_counts(self, counts: dict[PayloadState, int]) -> None:
        for state, count in counts.items():
            self.payloads.labels(state=state.value).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
