"""Prometheus metrics of one service instance, in its own registry (no process-global state)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from results_service.models import Task, TaskState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Counters updated by the queue; the per-state gauge is refreshed from the database at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tasks = Gauge("results_tasks", "Tasks by agent and state", ["agent", "state"], registry=self.registry)
        self.transitions = Counter(
            "results_task_transitions_total",
            "State changes by agent and new state",
            ["agent", "state"],
            registry=self.registry,
        )
        self.lease_expiries = Counter(
            "results_lease_expiries_total",
            "Leases that ran out before the agent reported",
            ["agent"],
            registry=self.registry,
        )
        self.queue_latency = Histogram(
            "results_queue_latency_seconds",
            "Time a task waited between becoming ready and being leased",
            ["agent"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
        )
        self.payload_deletions = Counter(
            "results_payload_deletions_total", "Payload deletions by outcome", ["outcome"], registry=self.registry
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
