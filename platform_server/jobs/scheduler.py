"""Scheduler: runs started jobs from the priority queues, at most `max_concurrent` at a time.

It knows job ids and priorities only; what running a job means is the `run_job` coroutine given
to it (the JobRunner). Stopping drains: no new job starts, running ones get `drain_timeout`
seconds, then they are cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine

import structlog

from platform_server.domain import JobPriority
from platform_server.jobs.queues import PriorityQueues

log = structlog.get_logger()


class Scheduler:
    def __init__(self, max_concurrent: int, run_job: Callable[[str], Coroutine[object, object, None]]) -> None:
        self._max = max_concurrent
        self._run_job = run_job
        self._queues = PriorityQueues()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._accepting = True
        self._loop: asyncio.Task[None] | None = None

    @property
    def running(self) -> list[str]:
        return list(self._running)

    @property
    def queued(self) -> int:
        return len(self._queues)

    def queued_by_priority(self) -> dict[JobPriority, int]:
        counts: dict[JobPriority, int] = {}
        for priority, _ in self._queues.waiting():
            counts[priority] = counts.get(priority, 0) + 1
        return counts

    def is_queued(self, job_id: str) -> bool:
        return job_id in self._queues

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._dispatch(), name="scheduler.dispatch")

    def submit(self, job_id: str, priority: JobPriority) -> None:
        self._queues.push(job_id, priority)
        log.info("scheduler.job.queued", job_id=job_id, priority=priority.name, waiting=len(self._queues))
        self._wake.set()

    def withdraw(self, job_id: str) -> bool:
        """Take a job out of the queue before it runs; False if it is not queued."""
        return self._queues.remove(job_id)

    async def cancel_running(self, job_id: str) -> bool:
        task = self._running.get(job_id)
        if task is None:
            return False
        task.cancel()
        await asyncio.wait({task})
        return True

    async def _dispatch(self) -> None:
        while self._accepting:
            await self._wake.wait()
            self._wake.clear()
            while self._accepting and len(self._running) < self._max:
                job_id = self._queues.pop()
                if job_id is None:
                    break
                self._launch(job_id)

    def _launch(self, job_id: str) -> None:
        task = asyncio.create_task(self._run_job(job_id), name=f"job-{job_id}")
        self._running[job_id] = task
        log.info("scheduler.job.dispatched", job_id=job_id, running=len(self._running))

        def done(finished: asyncio.Task[None]) -> None:
            self._running.pop(job_id, None)
            if not finished.cancelled() and (exc := finished.exception()) is not None:
                log.error("scheduler.job.crashed", job_id=job_id, error=repr(exc))
            self._wake.set()

        task.add_done_callback(done)

    async def stop(self, drain_timeout: float) -> None:
        """Stop dispatching, wait up to `drain_timeout` for running jobs, then cancel the rest."""
        self._accepting = False
        self._wake.set()
        if self._loop is not None:
            await asyncio.wait({self._loop})
        tasks = set(self._running.values())
        if tasks:
            log.info("scheduler.draining", running=len(tasks), timeout=drain_timeout)
            _, pending = await asyncio.wait(tasks, timeout=drain_timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
