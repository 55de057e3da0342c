"""Draining an asyncio queue in batches: one write for everything that queued up meanwhile.

Producers on the event loop `put_nowait`; one worker waits for the first item, takes whatever else is
already queued (up to a limit), and hands the batch to one call, so a burst costs one transaction
instead of one per item. `queue.task_done()` runs for every item after its batch, so `queue.join()`
waits for the batch in flight too (what a service's stop or flush relies on).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def take_queued(queue: asyncio.Queue[T], limit: int | None = None) -> list[T]:
    """Whatever is queued right now, at most `limit` items, without waiting."""
    batch: list[T] = []
    while limit is None or len(batch) < limit:
        try:
            batch.append(queue.get_nowait())
        except asyncio.QueueEmpty:
            break
    return batch


async def drain_in_batches(
    queue: asyncio.Queue[T],
    handle: Callable[[list[T]], Awaitable[object]],
    on_failure: Callable[[list[T]], None],
    limit: int | None = None,
) -> None:
    """Forever: wait for an item, hand it and what else is queued (`limit` items at most) to `handle`.

    A failing batch goes to `on_failure`, called inside the `except` so it can log the traceback, and
    the loop goes on: a transient database error must not stop the worker for the process lifetime.
    """
    while True:
        batch = [await queue.get()]
        batch += take_queued(queue, None if limit is None else limit - 1)
        try:
            await handle(batch)
        except Exception:
            on_failure(batch)
        finally:
            for _ in batch:
                queue.task_done()
