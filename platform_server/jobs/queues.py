"""PriorityQueues: which started job runs next. Pure and synchronous, so fairness is unit-testable.

Policy: IMMEDIATE jobs have their own FIFO queue, always drained first. HIGHER, NORMAL and LOWER
share the remaining turns by weighted fair queueing with weights 4 : 2 : 1 — with all three queues
busy, of every 7 jobs started 4 are HIGHER, 2 NORMAL and 1 LOWER, so nothing starves. Each class has
a `pass` value that grows by 1/weight per job it starts; the non-empty class whose next job would
finish first (lowest `pass + 1/weight`) goes next, ties to the higher priority. So a burst of
HIGHER and LOWER jobs starts HIGHER ones first, and LOWER gets its share once HIGHER has used 4
turns. A class that was idle rejoins at the current virtual time, so idleness does not bank credit.
Within a class, jobs run in the order they were started.
"""

from __future__ import annotations

from collections import deque

from platform_server.domain import JobPriority

WEIGHTS = {JobPriority.HIGHER: 4, JobPriority.NORMAL: 2, JobPriority.LOWER: 1}


class PriorityQueues:
    def __init__(self, weights: dict[JobPriority, int] | None = None) -> None:
        self._weights = dict(weights or WEIGHTS)
        self._queues: dict[JobPriority, deque[str]] = {p: deque() for p in (JobPriority.IMMEDIATE, *self._weights)}
        self._pass = {p: 0.0 for p in self._weights}
        self._virtual_time = 0.0

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def __contains__(self, job_id: object) -> bool:
        return any(job_id in q for q in self._queues.values())

    def push(self, job_id: str, priority: JobPriority) -> None:
        klass = priority if priority in self._queues else JobPriority.NORMAL
        queue = self._queues[klass]
        if not queue and klass in self._pass:
            self._pass[klass] = max(self._pass[klass], self._virtual_time)
        queue.append(job_id)

    def remove(self, job_id: str) -> bool:
        for queue in self._queues.values():
            if job_id in queue:
                queue.remove(job_id)
                return True
        return False

    def pop(self) -> str | None:
        if self._queues[JobPriority.IMMEDIATE]:
            return self._queues[JobPriority.IMMEDIATE].popleft()
        busy = [p for p in self._weights if self._queues[p]]
        if not busy:
            return None
        klass = min(busy, key=lambda p: (self._pass[p] + 1.0 / self._weights[p], -int(p)))
        self._virtual_time = self._pass[klass]
        self._pass[klass] += 1.0 / self._weights[klass]
        return self._queues[klass].popleft()

    def waiting(self) -> list[tuple[JobPriority, str]]:
        return [(p, job_id) for p, q in self._queues.items() for job_id in q]
