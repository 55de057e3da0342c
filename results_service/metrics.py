"""Prometheus metrics of one service instance, in its own registry (no process-global state).

Names follow the stack's scheme, `openclara_results_<thing>_<unit>` (openclara.metrics, docs/monitoring.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

from openclara.metrics import CONTENT_TYPE, metric_name
from results_service.models import Task, TaskState

__all__ = ["CONTENT_TYPE", "Metrics"]


def _name(thing: str, unit: str = "") -> str:
    return metric_name("results", thing, unit)


class Metrics:
    """Counters updated by the queue; the per-state gauge is refreshed from the database at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # openclara_results_process_*: the service's CPU seconds, resident memory and open files.
        ProcessCollector(namespace="openclara_results", registry=self.registry)
        self.tasks = Gauge(_name("tasks"), "Tasks by agent and state", ["agent", "state"], registry=self.registry)
        self.transitions = Counter(
            _name("task_transitions"),
            "State changes by agent and new state",
            ["agent", "state"],
            registry=self.registry,
        )
        self.lease_expiries = Counter(
            _name("lease_expiries"),
            "Leases that ran out before the agent reported",
            ["agent"],
            registry=self.registry,
        )
        self.queue_latency = Histogram(
            _name("queue_latency", "seconds"),
            "Time a task waited between becoming ready and being leased",
            ["agent"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
        )
        self.payload_deletions = Counter(
            _name("payload_deletions"), "Payload deletions by outcome", ["outcome"], registry=self.registry
        )

    def leased(self, tasks: Iterable[Task], now: float) -> None:
        for task in tasks:
            self.queue_latency.labels(task.agent).observe(max(0.0, now - task.next_attempt))
            self.transitions.labels(task.agent, TaskState.IN_PROGRESS.value).inc()

    def changed(self, task: Task) -> None:
        self.transitions.labels(task.agent, task.state.value).inc()

    def expired(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            self.lease_expiries.labels(task.agent).inc()

    def set_counts(self, counts: Iterable[tuple[str, TaskState, int]]) -> None:
        self.tasks.clear()
        for agent, state, number in counts:
            self.tasks.labels(agent, state.value).set(number)

    def render(self) -> bytes:
        return generate_latest(self.registry)
