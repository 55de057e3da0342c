"""GpuPool: hands out GPU indices to operators that request them; requesters wait for free GPUs."""

from __future__ import annotations

import asyncio

from platform_server.errors import ResourceExhausted


class GpuPool:
    def __init__(self, total: int) -> None:
        self.total = total
        self._free = list(range(total))
        self._changed = asyncio.Condition()

    @property
    def free(self) -> int:
        return len(self._free)

    async def acquire(self, count: int, operator: str) -> tuple[int, ...]:
        """Wait until `count` GPUs are free and take them (FIFO among waiters via the condition)."""
        if count <= 0:
            return ()
        if count > self.total:
            raise ResourceExhausted(f"operator {operator!r} requests {count} GPU(s) but the platform has "
                                    f"{self.total} (scheduler.gpus in config/platform-server.yaml)")
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._free) >= count)
            taken, self._free = tuple(self._free[:count]), self._free[count:]
            return taken

    async def release(self, ids: tuple[int, ...]) -> None:
        if not ids:
            return
        async with self._changed:
            self._free.extend(ids)
            self._free.sort()
            self._changed.notify_all()
