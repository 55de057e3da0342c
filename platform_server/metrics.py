"""PlatformMetrics: the platform's Prometheus instruments, in a registry per server (no process-global state).

Two kinds of figures:

- events, counted where they happen: the runner reports queue waits, job and operator durations and
  executor errors (`job_started`, `job_stopped`, `operator_stopped`), the Payloads servicer the bytes
  it moves (`payload_bytes`);
- states, read when Prometheus scrapes (`refresh`): jobs by state and priority from the database,
  the scheduler's queue, the node's CPU, memory and disks (`node_metrics`) and its GPUs (`gpu_metrics`).

The same `Snapshot` of the node feeds `/metrics` and the `node_monitor` gRPC service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

from openclara.metrics import metric_name
from platform_server.domain import JobPriority, JobState
from platform_server.gpu_metrics import GpuSample
from platform_server.node_metrics import NodeSample

MIB = 1024 * 1024
# Queue waits and operators run from milliseconds (a copy) to an hour (a large inference).
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# The contract's UNKNOWN (0) is never stored: no series for it unless a job somehow carries it.
STATES = tuple(s for s in JobState if s != JobState.UNKNOWN)
PRIORITIES = tuple(p for p in JobPriority if p != JobPriority.UNKNOWN)


def _name(thing: str, unit: str = "") -> str:
    return metric_name("platform", thing, unit)


@dataclass(frozen=True)
class Snapshot:
    """What the platform reads at scrape time: jobs per (state, priority), the queue per priority, node, GPUs."""

    jobs: Mapping[tuple[JobState, JobPriority], int]
    queued: Mapping[JobPriority, int]
    node: NodeSample
    gpus: tuple[GpuSample, ...]


class PlatformMetrics:
    def __init__(self, slots: int = 0) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # openclara_platform_process_*: the server's own CPU seconds, resident memory and open files.
        ProcessCollector(namespace="openclara_platform", registry=r)
        self.jobs = Gauge(_name("jobs"), "Jobs by state and priority (from the database)", ["state", "priority"],
                          registry=r)
        self.queue_depth = Gauge(_name("queue_depth"), "Started jobs waiting for a slot, by priority",
                                 ["priority"], registry=r)
        self.slots = Gauge(_name("job_slots"), "Jobs that may run at once (scheduler.max_concurrent_jobs)",
                           registry=r)
        self.slots.set(slots)
        self.queue_wait = Histogram(_name("queue_wait", "seconds"), "From Start to running, by priority",
                                    ["priority"], buckets=DURATION_BUCKETS, registry=r)
        self.jobs_finished = Counter(_name("jobs_finished"), "Jobs that stopped, by status", ["status"], registry=r)
        self.job_duration = Histogram(_name("job_duration", "seconds"), "From running to stopped, by status",
                                      ["status"], buckets=DURATION_BUCKETS, registry=r)
        self.operator_duration = Histogram(
            _name("operator_duration", "seconds"), "Operator runs by operator name and outcome",
            ["operator", "outcome"], buckets=DURATION_BUCKETS, registry=r)
        self.executor_errors = Counter(
            _name("executor_errors"), "Operator runs that did not complete (failed, timed_out, not_started), "
            "and platform errors while running a job (internal)", ["reason"], registry=r)
        self.payload_bytes = Counter(_name("payload", "bytes"),
                                     "Payload file bytes moved over the API (upload, download) or linked in place "
                                     "(linked)", ["direction"], registry=r)
        self._node(r)
        self._gpus(r)

    def _node(self, r: CollectorRegistry) -> None:
        self.cpu_count = Gauge(_name("node_cpus"), "Logical CPUs of the node", registry=r)
        self.cpu = Gauge(_name("node_cpu_utilization", "ratio"), "Busy share of all CPUs since the last reading",
                         registry=r)
        self.load = Gauge(_name("node_load1"), "One-minute load average of the node", registry=r)
        self.memory_total = Gauge(_name("node_memory_size", "bytes"), "Memory of the node", registry=r)
        self.memory_available = Gauge(_name("node_memory_available", "bytes"),
                                      "Memory available for new work (MemAvailable)", registry=r)
        self.disk_total = Gauge(_name("node_disk_size", "bytes"), "Size of the file system holding each volume",
                                ["volume"], registry=r)
        self.disk_available = Gauge(_name("node_disk_available", "bytes"),
                                    "Space an unprivileged writer may still use, per volume", ["volume"], registry=r)

    def _gpus(self, r: CollectorRegistry) -> None:
        labels = ["gpu", "pcie_id"]
        self.gpu_count = Gauge(_name("gpus"), "GPUs nvidia-smi reports (0 without nvidia-smi)", registry=r)
        self.gpu_utilization = Gauge(_name("gpu_utilization", "ratio"), "GPU compute utilisation", labels,
                                     registry=r)
        self.gpu_memory_used = Gauge(_name("gpu_memory_used", "bytes"), "GPU memory in use", labels, registry=r)
        self.gpu_memory_free = Gauge(_name("gpu_memory_free", "bytes"), "GPU memory free", labels, registry=r)

    # Events -----------------------------------------------------------------------------------------

    def job_started(self, priority: JobPriority, waited: float) -> None:
        self.queue_wait.labels(priority.name).observe(max(0.0, waited))

    def job_stopped(self, status: str, seconds: float) -> None:
        self.jobs_finished.labels(status).inc()
        self.job_duration.labels(status).observe(max(0.0, seconds))

    def operator_stopped(self, operator: str, outcome: str, seconds: float | None) -> None:
        if seconds is not None:
            self.operator_duration.labels(operator, outcome).observe(max(0.0, seconds))
        if outcome != "completed":
            self.executor_errors.labels(outcome).inc()

    def internal_error(self) -> None:
        self.executor_errors.labels("internal").inc()

    def payload_bytes_moved(self, direction: str, size: int) -> None:
        self.payload_bytes.labels(direction).inc(size)

    # States -----------------------------------------------------------------------------------------

    def refresh(self, snapshot: Snapshot) -> None:
        """Set every scrape-time gauge; states and priorities with no job read 0 rather than vanish."""
        for state in STATES:
            for priority in PRIORITIES:
                self.jobs.labels(state.name, priority.name).set(0)
        for (stored_state, stored_priority), count in snapshot.jobs.items():
            self.jobs.labels(stored_state.name, stored_priority.name).set(count)
        for priority in PRIORITIES:
            self.queue_depth.labels(priority.name).set(snapshot.queued.get(priority, 0))
        self._set_node(snapshot.node)
        self._set_gpus(snapshot.gpus)

    def _set_node(self, node: NodeSample) -> None:
        self.cpu_count.set(node.cpus)
        self.cpu.set(node.cpu_utilization)
        self.load.set(node.load1)
        self.memory_total.set(node.memory_total)
        self.memory_available.set(node.memory_available)
        for disk in node.disks:
            self.disk_total.labels(disk.volume).set(disk.total)
            self.disk_available.labels(disk.volume).set(disk.available)

    def _set_gpus(self, gpus: Iterable[GpuSample]) -> None:
        samples = list(gpus)
        self.gpu_count.set(len(samples))
        for gauge in (self.gpu_utilization, self.gpu_memory_used, self.gpu_memory_free):
            gauge.clear()  # a GPU that fell off the bus must not keep its last reading
        for gpu in samples:
            labels = (str(gpu.index), str(gpu.pcie_id))
            self.gpu_utilization.labels(*labels).set(gpu.compute_utilization)
            self.gpu_memory_used.labels(*labels).set(gpu.memory_used_mb * MIB)
            self.gpu_memory_free.labels(*labels).set(gpu.memory_free_mb * MIB)

    def render(self) -> bytes:
        return generate_latest(self.registry)
