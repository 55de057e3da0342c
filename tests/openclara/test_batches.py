"""Batch draining: one call per burst, a size limit, failures reported and survived, join() covers the batch."""

from __future__ import annotations

import asyncio

from openclara.batches import drain_in_batches, take_queued


def _queue(items: list[int]) -> asyncio.Queue[int]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    return queue


async def test_take_queued_takes_what_is_there_up_to_the_limit() -> None:
    queue = _queue([1, 2, 3])
    assert take_queued(queue, 2) == [1, 2]
    assert take_queued(queue) == [3]
    assert take_queued(queue) == []


async def _run_until_joined(queue: asyncio.Queue[int], worker: asyncio.Task[None]) -> None:
    await asyncio.wait_for(queue.join(), 5)
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)


async def test_a_burst_is_handled_in_batches_of_at_most_the_limit() -> None:
    queue = _queue(list(range(5)))
    handled: list[list[int]] = []

    async def handle(batch: list[int]) -> None:
        handled.append(batch)

    worker = asyncio.create_task(drain_in_batches(queue, handle, lambda batch: None, limit=2))
    await _run_until_joined(queue, worker)
    assert handled == [[0, 1], [2, 3], [4]]


async def test_a_failing_batch_is_reported_and_the_next_one_still_handled() -> None:
    queue = _queue([1, 2])
    failed: list[list[int]] = []
    handled: list[list[int]] = []

    async def handle(batch: list[int]) -> None:
        if not failed:
            raise OSError("disk full")
        handled.append(batch)

    worker = asyncio.create_task(drain_in_batches(queue, handle, failed.append))
    await asyncio.sleep(0)
    await asyncio.wait_for(queue.join(), 5)  # the failed batch still counts as done
    queue.put_nowait(3)
    await _run_until_joined(queue, worker)
    assert (failed, handled) == ([[1, 2]], [[3]])
