from __future__ import annotations

from results_service.cleanup import PayloadAlreadyGone, PayloadCleaner
from results_service.queue import TaskQueue
from results_service.repository import TaskRepository
from results_service.settings import CleanupSettings
from tests.results_service.conftest import FakeClock, FakeDeleter, registration


async def _finish(queue: TaskQueue, job: str, destination: str = "MYPACS") -> None:
    await queue.register(registration(job, destination))
    for task in await queue.lease("ClaraSCU", 10):
        await queue.succeed(task.task_id)


def _cleaner(repo: TaskRepository, deleter: FakeDeleter, settings: CleanupSettings, clock: FakeClock) -> PayloadCleaner:
    return PayloadCleaner(repo, deleter, settings, clock=clock)


async def test_cleanup_deletes_finished_job_after_retention(
    queue: TaskQueue, repo: TaskRepository, deleter: FakeDeleter, cleanup_settings: CleanupSettings, clock: FakeClock
) -> None:
    await _finish(queue, "done")
    cleaner = _cleaner(repo, deleter, cleanup_settings, clock)
    assert await cleaner.run_once() == []  # retention (1 minute) not over yet
    clock.advance(61)
    assert await cleaner.run_once() == ["done"]
    assert deleter.deleted == ["payload-done"]
    assert await cleaner.run_once() == []  # only once


async def test_cleanup_keeps_job_with_pending_or_leased_task(
    queue: TaskQueue, repo: TaskRepository, deleter: FakeDeleter, cleanup_settings: CleanupSettings, clock: FakeClock
) -> None:
    await _finish(queue, "busy", "A")
    await queue.register(registration("busy", "B"))  # Pending
    await queue.register(registration("waiting", "A"))
    await queue.lease("ClaraSCU", 1)  # busy/B InProgress
    clock.advance(3600)
    assert await _cleaner(repo, deleter, cleanup_settings, clock).run_once() == []
    assert deleter.deleted == []


async def test_cleanup_retries_when_platform_fails_and_accepts_already_gone(
    queue: TaskQueue, repo: TaskRepository, deleter: FakeDeleter, cleanup_settings: CleanupSettings, clock: FakeClock
) -> None:
    await _finish(queue, "done")
    clock.advance(61)
    cleaner = _cleaner(repo, deleter, cleanup_settings, clock)
    deleter.error = ConnectionError("platform down")
    assert await cleaner.run_once() == []
    deleter.error = PayloadAlreadyGone("payload-done")
    assert await cleaner.run_once() == ["done"]
    assert await repo.cleaned("done") is not None
