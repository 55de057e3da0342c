from __future__ import annotations

import asyncio

import pytest

from results_service.errors import InvalidRequest, PayloadGone, TaskNotFound, TransitionRejected
from results_service.metrics import Metrics
from results_service.models import FinishedJob, TaskFilter, TaskState
from results_service.queue import TaskQueue
from results_service.repository import TaskRepository
from results_service.settings import ResultsSettings as Settings
from tests.results_service.conftest import FakeClock, registration


async def test_register_is_idempotent(queue: TaskQueue) -> None:
    first, created = await queue.register(registration())
    again, created_again = await queue.register(registration())
    assert created and not created_again
    assert again.task_id == first.task_id
    assert (first.state, first.retries) == (TaskState.PENDING, 0)


async def test_register_one_task_per_destination(queue: TaskQueue) -> None:
    one, _ = await queue.register(registration(destination="A"))
    two, _ = await queue.register(registration(destination="B"))
    assert one.task_id != two.task_id


async def test_register_rejects_bad_agent_name(queue: TaskQueue) -> None:
    with pytest.raises(InvalidRequest, match="invalid agent name 'Clara-': use letters, digits and '-' only"):
        await queue.register(registration(agent="Clara-"))


async def test_lease_moves_tasks_to_in_progress_with_deadline(queue: TaskQueue, clock: FakeClock) -> None:
    await queue.register(registration("j1"))
    clock.advance(0.001)
    await queue.register(registration("j2"))
    leased = await queue.lease("ClaraSCU", 10)
    assert [t.job_id for t in leased] == ["j1", "j2"]
    assert all(t.state is TaskState.IN_PROGRESS and t.lease_expires == clock.now + 30 for t in leased)
    assert await queue.lease("ClaraSCU", 10) == []


async def test_lease_only_returns_the_agents_tasks(queue: TaskQueue) -> None:
    await queue.register(registration(agent="DICOMweb"))
    assert await queue.lease("ClaraSCU", 10) == []
    assert len(await queue.lease("DICOMweb", 10)) == 1


async def test_concurrent_leases_never_share_a_task(queue: TaskQueue) -> None:
    for i in range(200):
        await queue.register(registration(f"j{i}"))
    batches = await asyncio.gather(*(queue.lease("ClaraSCU", 7) for _ in range(40)))
    ids = [task.task_id for batch in batches for task in batch]
    assert len(ids) == len(set(ids)) == 200


async def test_success_completes_a_leased_task(queue: TaskQueue) -> None:
    await queue.register(registration())
    (task,) = await queue.lease("ClaraSCU", 1)
    done = await queue.succeed(task.task_id)
    assert done.state is TaskState.SUCCEEDED
    with pytest.raises(
        TransitionRejected,
        match=f"task {task.task_id} is Succeeded; only an InProgress task can be reported as success",
    ):
        await queue.succeed(task.task_id)


async def test_success_of_pending_task_is_rejected(queue: TaskQueue) -> None:
    task, _ = await queue.register(registration())
    with pytest.raises(TransitionRejected, match="is Pending \\(not leased\\)"):
        await queue.succeed(task.task_id)


async def test_unknown_task_is_not_found(queue: TaskQueue) -> None:
    with pytest.raises(TaskNotFound, match="no task with id 'nope'"):
        await queue.succeed("nope")
    with pytest.raises(TaskNotFound):
        await queue.fail("nope", retry_later=True)


async def test_failure_retry_later_backs_off_then_fails(queue: TaskQueue, clock: FakeClock) -> None:
    await queue.register(registration())
    (task,) = await queue.lease("ClaraSCU", 1)
    again = await queue.fail(task.task_id, retry_later=True, error="PACS busy")
    assert (again.state, again.retries, again.next_attempt) == (TaskState.PENDING, 1, clock.now + 10)
    assert again.last_error == "PACS busy"
    assert await queue.lease("ClaraSCU", 1) == []  # still backing off
    clock.advance(10)
    (task,) = await queue.lease("ClaraSCU", 1)
    again = await queue.fail(task.task_id, retry_later=True)
    assert again.next_attempt == clock.now + 15  # 20 s capped at backoff_max_seconds
    clock.advance(15)
    (task,) = await queue.lease("ClaraSCU", 1)
    final = await queue.fail(task.task_id, retry_later=True)
    assert (final.state, final.retries) == (TaskState.FAILED, 3)
    assert final.last_error is not None and "gave up after 2 retries" in final.last_error


async def test_failure_without_retry_is_terminal(queue: TaskQueue) -> None:
    await queue.register(registration())
    (task,) = await queue.lease("ClaraSCU", 1)
    failed = await queue.fail(task.task_id, retry_later=False)
    assert (failed.state, failed.retries) == (TaskState.FAILED, 0)
    with pytest.raises(TransitionRejected, match="is Failed; only an InProgress task can be reported as failure"):
        await queue.fail(task.task_id, retry_later=False)


async def test_expired_lease_returns_task_to_pending(queue: TaskQueue, clock: FakeClock, metrics: Metrics) -> None:
    await queue.register(registration())
    (task,) = await queue.lease("ClaraSCU", 1)
    clock.advance(29)
    assert await queue.expire() == []
    clock.advance(1)
    (expired,) = await queue.expire()
    assert expired.state is TaskState.PENDING and expired.last_error is not None
    assert metrics.lease_expiries.labels("ClaraSCU")._value.get() == 1
    (again,) = await queue.lease("ClaraSCU", 1)
    assert again.task_id == task.task_id and again.lease_id != task.lease_id


async def test_late_success_after_expiry_is_accepted_once(queue: TaskQueue, clock: FakeClock) -> None:
    """The agent delivered but reported after its lease expired: accept, rather than export twice."""
    await queue.register(registration())
    (task,) = await queue.lease("ClaraSCU", 1)
    clock.advance(31)
    await queue.expire()
    done = await queue.succeed(task.task_id)
    assert done.state is TaskState.SUCCEEDED
    assert await queue.lease("ClaraSCU", 1) == []


async def test_late_failure_after_expiry_explains_the_task_is_pending_again(queue: TaskQueue, clock: FakeClock) -> None:
    await queue.register(registration())
    (task,) = await queue.lease("ClaraSCU", 1)
    clock.advance(31)
    await queue.expire()
    with pytest.raises(TransitionRejected, match="is Pending again because its lease expired before this failure"):
        await queue.fail(task.task_id, retry_later=True)


async def test_stale_lease_id_is_rejected_after_release(queue: TaskQueue, clock: FakeClock) -> None:
    await queue.register(registration())
    (first,) = await queue.lease("ClaraSCU", 1)
    clock.advance(31)
    await queue.expire()
    (second,) = await queue.lease("ClaraSCU", 1)
    with pytest.raises(TransitionRejected, match="was leased again after lease .* expired; this success report is"):
        await queue.succeed(first.task_id, lease_id=first.lease_id)
    assert (await queue.succeed(second.task_id, lease_id=second.lease_id)).state is TaskState.SUCCEEDED


async def test_redrive_failed_task(queue: TaskQueue) -> None:
    await queue.register(registration())
    (task,) = await queue.lease("ClaraSCU", 1)
    await queue.fail(task.task_id, retry_later=False)
    again = await queue.redrive(task.task_id)
    assert (again.state, again.retries, again.last_error) == (TaskState.PENDING, 0, None)
    with pytest.raises(TransitionRejected, match="is Pending; only a Failed task can be retried"):
        await queue.redrive(task.task_id)


async def test_register_and_redrive_refused_after_payload_cleanup(queue: TaskQueue, repo: TaskRepository) -> None:
    task, _ = await queue.register(registration())
    (leased,) = await queue.lease("ClaraSCU", 1)
    await queue.fail(leased.task_id, retry_later=False)
    await repo.record_cleanup(FinishedJob("job-1", "payload-job-1", 0), 1.0, "deleted")
    with pytest.raises(PayloadGone, match="payload of job job-1 was deleted by cleanup"):
        await queue.redrive(task.task_id)
    with pytest.raises(PayloadGone):
        await queue.register(registration(destination="OTHER"))


async def test_find_filters_and_pages(queue: TaskQueue) -> None:
    for i in range(5):
        await queue.register(registration(f"j{i}"))
    await queue.register(registration("j0", agent="DICOMweb"))
    await queue.lease("ClaraSCU", 2)
    assert len(await queue.find(TaskFilter(agent="ClaraSCU"))) == 5
    assert len(await queue.find(TaskFilter(state=TaskState.IN_PROGRESS))) == 2
    assert len(await queue.find(TaskFilter(job_id="j0"))) == 2
    page = await queue.find(TaskFilter(agent="ClaraSCU", limit=2, offset=4))
    assert [t.job_id for t in page] == ["j4"]


async def test_task_whose_lease_keeps_expiring_fails_after_max_expiries(
    repo: TaskRepository, settings: Settings, clock: FakeClock
) -> None:
    """An agent that crashes on a task every time must not make it loop forever."""
    lease = settings.lease.model_copy(update={"max_expiries": 2})
    queue = TaskQueue(repo, lease, settings.retry, Metrics(), clock)
    await queue.register(registration())
    await queue.lease("ClaraSCU", 1)
    clock.advance(31)
    (first,) = await queue.expire()
    assert (first.state, first.expiries) == (TaskState.PENDING, 1)
    await queue.lease("ClaraSCU", 1)
    clock.advance(31)
    (second,) = await queue.expire()
    assert (second.state, second.expiries) == (TaskState.FAILED, 2)
    assert second.last_error == "lease expired 2 times without a report from the agent; gave up"
    again = await queue.redrive(second.task_id)
    assert (again.state, again.expiries) == (TaskState.PENDING, 0)


async def test_zero_max_expiries_redelivers_forever(repo: TaskRepository, settings: Settings, clock: FakeClock) -> None:
    lease = settings.lease.model_copy(update={"max_expiries": 0})
    queue = TaskQueue(repo, lease, settings.retry, Metrics(), clock)
    await queue.register(registration())
    for _ in range(10):
        await queue.lease("ClaraSCU", 1)
        clock.advance(31)
        (task,) = await queue.expire()
    assert (task.state, task.expiries) == (TaskState.PENDING, 10)
