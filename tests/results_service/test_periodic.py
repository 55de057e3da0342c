from __future__ import annotations

import asyncio

from results_service.periodic import PeriodicTask


async def test_periodic_task_survives_a_failing_tick() -> None:
    calls: list[int] = []
    done = asyncio.Event()

    async def tick() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")
        if len(calls) >= 3:
            done.set()

    task = PeriodicTask("t", 0.01, tick)
    await task.start()
    await asyncio.wait_for(done.wait(), 10)
    await task.stop()
    assert len(calls) >= 3
    await task.stop()  # stopping twice is harmless
