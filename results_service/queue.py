"""TaskQueue: the task state machine (register, lease, succeed, fail, retry, expire) over the repository.

register -> Pending --lease--> InProgress --success--> Succeeded
InProgress --failure retryLater--> Pending after backoff | Failed when retries are used up
InProgress --failure (no retry)--> Failed
InProgress --lease expired--> Pending | Failed after `lease.max_expiries` expiries
Failed --POST /retry--> Pending
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from openclara.backoff import exponential
from results_service.errors import InvalidRequest, PayloadGone, TaskNotFound, TransitionRejected
from results_service.metrics import Metrics
from results_service.models import AGENT_NAME, AGENT_RULE, Registration, Task, TaskFilter, TaskState
from results_service.repository import Expectation, TaskRepository
from results_service.settings import LeaseSettings, RetrySettings

log = structlog.get_logger()

Clock = Callable[[], float]


def check_agent(agent: str) -> str:
    if not AGENT_NAME.match(agent):
        raise InvalidRequest(f"invalid agent name {agent!r}: use {AGENT_RULE}")
    return agent


class TaskQueue:
    """Durable per-agent queue with leases: each lease gets exactly one outcome report."""

    def __init__(
        self,
        repo: TaskRepository,
        lease: LeaseSettings,
        retry: RetrySettings,
        metrics: Metrics | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._repo = repo
        self._lease = lease
        self._retry = retry
        self._metrics = metrics or Metrics()
        self._clock = clock

    def backoff(self, retries: int) -> float:
        """Delay before attempt `retries` + 1: base * 2^(retries-1), capped."""
        return exponential(retries - 1, self._retry.backoff_base_seconds, self._retry.backoff_max_seconds)

    async def register(self, reg: Registration) -> tuple[Task, bool]:
        """Queue a task; an identical registration returns the existing task and False."""
        check_agent(reg.agent)
        task = await self._repo.insert(reg, self._clock())
        if task is not None:
            log.info(
                "queue.task.registered", task_id=task.task_id, agent=task.agent, job_id=task.job_id, uris=len(task.uris)
            )
            self._metrics.changed(task)
            return task, True
        existing = await self._repo.by_dedup_key(reg.dedup_key)
        if existing is not None:
            log.info("queue.task.duplicate", task_id=existing.task_id, agent=existing.agent, job_id=existing.job_id)
            return existing, False
        raise PayloadGone(f"the payload of job {reg.job_id} was deleted by cleanup; its files cannot be delivered")

    async def get(self, task_id: str) -> Task:
        task = await self._repo.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    async def lease(self, agent: str, size: int) -> list[Task]:
        check_agent(agent)
        now = self._clock()
        tasks = await self._repo.lease(agent, min(size, self._lease.max_batch), now, self._lease.seconds)
        if tasks:
            self._metrics.leased(tasks, now)
            log.debug("queue.tasks.leased", agent=agent, count=len(tasks))
        return tasks

    async def find(self, criteria: TaskFilter) -> list[Task]:
        if criteria.agent is not None:
            check_agent(criteria.agent)
        return await self._repo.find(criteria)

    async def succeed(self, task_id: str, lease_id: str | None = None) -> Task:
        """Mark delivered. Accepted for InProgress, and for a task whose lease just expired (late report)."""
        now = self._clock()
        expect = Expectation(states=(TaskState.IN_PROGRESS,), lease_id=lease_id)
        task = await self._repo.update_if(
            task_id,
            expect,
            {"state": TaskState.SUCCEEDED.value, "updated": now, "lease_expires": None, "last_error": None},
        )
        if task is None:
            # The agent delivered, but its lease ran out first: accepting avoids a duplicate export.
            late = Expectation(states=(TaskState.PENDING,), lease_id=lease_id, require_lease=True)
            task = await self._repo.update_if(
                task_id, late, {"state": TaskState.SUCCEEDED.value, "updated": now, "last_error": None}
            )
        if task is None:
            raise await self._rejection(task_id, "success", lease_id)
        log.info("queue.task.succeeded", task_id=task_id, agent=task.agent, job_id=task.job_id)
        self._metrics.changed(task)
        return task

    async def fail(
        self, task_id: str, retry_later: bool, error: str | None = None, lease_id: str | None = None
    ) -> Task:
        """Agent could not deliver: back to Pending after backoff (retryLater) or Failed."""
        current = await self.get(task_id)
        if current.state is not TaskState.IN_PROGRESS:
            raise await self._rejection(task_id, "failure", lease_id)
        now = self._clock()
        retries = current.retries + 1 if retry_later else current.retries
        give_up = not retry_later or retries > self._retry.max_retries
        message = error or ("agent gave up" if not retry_later else "agent asked to retry later")
        changes: dict[str, object] = {"retries": retries, "updated": now, "lease_expires": None, "lease_id": None}
        if give_up:
            if retry_later:
                message = f"{message}; gave up after {self._retry.max_retries} retries"
            changes.update(state=TaskState.FAILED.value, last_error=message)
        else:
            changes.update(state=TaskState.PENDING.value, last_error=message, next_attempt=now + self.backoff(retries))
        expect = Expectation(states=(TaskState.IN_PROGRESS,), lease_id=lease_id, retries=current.retries)
        task = await self._repo.update_if(task_id, expect, changes)
        if task is None:
            raise await self._rejection(task_id, "failure", lease_id)
        log.info("queue.task.failed", task_id=task_id, agent=task.agent, state=task.state.value, retries=task.retries)
        self._metrics.changed(task)
        return task

    async def redrive(self, task_id: str) -> Task:
        """Operator asks to deliver a Failed task again: Pending now, with a fresh retry budget."""
        current = await self.get(task_id)
        if await self._repo.cleaned(current.job_id) is not None:
            raise PayloadGone(
                f"the payload of job {current.job_id} was deleted by cleanup; task {task_id} cannot be delivered again"
            )
        now = self._clock()
        changes = {
            "state": TaskState.PENDING.value,
            "retries": 0,
            "expiries": 0,
            "updated": now,
            "next_attempt": now,
            "lease_id": None,
            "lease_expires": None,
            "last_error": None,
        }
        task = await self._repo.update_if(task_id, Expectation(states=(TaskState.FAILED,)), changes)
        if task is None:
            state = (await self.get(task_id)).state.value
            raise TransitionRejected(f"task {task_id} is {state}; only a Failed task can be retried")
        log.info("queue.task.redriven", task_id=task_id, agent=task.agent)
        self._metrics.changed(task)
        return task

    async def expire(self) -> list[Task]:
        """Return tasks with a lapsed lease to Pending (called by the sweeper)."""
        tasks = await self._repo.expire_leases(self._clock(), self._lease.max_expiries)
        for task in tasks:
            log.warning("queue.lease.expired", task_id=task.task_id, agent=task.agent, expiries=task.expiries)
            if task.state is TaskState.FAILED:
                log.error("queue.task.failed", task_id=task.task_id, agent=task.agent, reason=task.last_error)
                self._metrics.changed(task)
        self._metrics.expired(tasks)
        return tasks

    async def ping(self) -> None:
        """Raise StoreUnavailable when the database does not answer."""
        await self._repo.ping()

    async def refresh_metrics(self) -> None:
        self._metrics.set_counts(await self._repo.counts())

    async def _rejection(self, task_id: str, report: str, lease_id: str | None) -> TransitionRejected:
        task = await self.get(task_id)
        if lease_id is not None and task.lease_id != lease_id and task.state is TaskState.IN_PROGRESS:
            return TransitionRejected(
                f"task {task_id} was leased again after lease {lease_id} expired; this {report} report is stale"
            )
        if task.state is TaskState.PENDING and task.lease_id is not None:
            return TransitionRejected(
                f"task {task_id} is Pending again because its lease expired before this {report} report; "
                "it will be delivered again"
            )
        if task.state is TaskState.PENDING:
            return TransitionRejected(
                f"task {task_id} is Pending (not leased); only an InProgress task can be reported as {report}"
            )
        return TransitionRejected(
            f"task {task_id} is {task.state.value}; only an InProgress task can be reported as {report}"
        )
