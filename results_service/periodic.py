"""PeriodicTask: run one coroutine every N seconds in the background (lease sweeper, payload cleanup)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger()


class PeriodicTask:
    """Calls `tick` every `interval` seconds until stopped; an error is logged and the loop goes on."""

    def __init__(self, name: str, interval: float, tick: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self._interval = interval
        self._tick = tick
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._tick()
            except Exception:
                # A transient database or network problem must not end the loop for the process lifetime.
                log.exception("periodic.tick.failed", task=self.name)
            await asyncio.sleep(self._interval)
