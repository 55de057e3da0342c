"""One load run: start studies at the plan's pace, follow them through the stack, drain, summarize.

    sending   every 1/rate s (or whenever a slot frees, rate 0) a fresh study goes to `deliver`,
              at most `concurrency` at once; stops starting new ones after `duration` seconds
    following the tracker polls every `interval` s from the first study to the end of the drain
    draining  after the last send, until every study is finished or `drain` seconds passed
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from clara_cli.load.plan import LoadPlan
from clara_cli.load.records import StudyRecord
from clara_cli.load.report import summarize
from clara_cli.load.studies import Study, StudyMaker
from clara_cli.load.tracker import StageTracker

Deliver = Callable[[Study, StudyRecord, int | None], Awaitable[None]]
Update = Callable[[dict[str, Any], str], None]


@dataclass
class LoadRun:
    plan: LoadPlan
    maker: StudyMaker
    deliver: Deliver
    tracker: StageTracker
    mode: str  # "dicom" or "jobs"
    drain: float = 120.0
    interval: float = 0.25
    on_update: Update | None = None
    records: list[StudyRecord] = field(default_factory=list)
    _phase: str = "sending"
    _sending_seconds: float = 0.0

    async def run(self) -> dict[str, Any]:
        begun = time.monotonic()
        follower = asyncio.create_task(self._follow(begun))
        try:
            await self._send()
            self._sending_seconds = time.monotonic() - begun
            self._phase = "draining"
            deadline = time.monotonic() + self.drain
            while self._unfinished() and time.monotonic() < deadline and not follower.done():
                await asyncio.sleep(self.interval)
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        if not follower.cancelled() and follower.exception() is not None:
            raise follower.exception()  # type: ignore[misc]
        await self.tracker.poll(self.records)
        return self.summary(time.monotonic() - begun)

    def summary(self, wall: float) -> dict[str, Any]:
        sending = self._sending_seconds or wall
        return summarize(self.records, self.mode, sending, wall)

    def _unfinished(self) -> bool:
        return any(r.sent_at is not None and not r.finished for r in self.records)

    async def _follow(self, begun: float) -> None:
        while True:
            await self.tracker.poll(self.records)
            if self.on_update is not None:
                elapsed = time.monotonic() - begun
                self.on_update(self.summary(elapsed), self._progress(elapsed))
            await asyncio.sleep(self.interval)

    def _progress(self, elapsed: float) -> str:
        if self._phase == "sending":
            return f"sending: {elapsed:.0f} s of {self.plan.duration:.0f} s"
        return f"draining: {elapsed - self._sending_seconds:.0f} s after sending (at most {self.drain:.0f} s)"

    async def _send(self) -> None:
        plan, chooser = self.plan, self.plan.chooser()
        slots = asyncio.Semaphore(plan.concurrency)
        start = time.monotonic()
        in_flight: set[asyncio.Task[None]] = set()
        for n in range(10**9):
            if plan.rate > 0:
                await asyncio.sleep(max(0.0, start + n / plan.rate - time.monotonic()))
            if time.monotonic() - start >= plan.duration:
                break
            await slots.acquire()
            kind, called = chooser.next()
            study = await asyncio.to_thread(self.maker.make, kind)
            record = StudyRecord(study.study_uid, kind, called, len(study.instances), study.nbytes, time.time())
            abort_after = chooser.abort_after(len(study.instances)) if self.mode == "dicom" else None
            self.records.append(record)
            task = asyncio.create_task(self._one(study, record, abort_after, slots))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*in_flight)

    async def _one(self, study: Study, record: StudyRecord, abort_after: int | None, slots: asyncio.Semaphore) -> None:
        try:
            await self.deliver(study, record, abort_after)
        except Exception as exc:  # noqa: BLE001 - a failed send is a measured outcome, not the end of the run
            record.error = f"{type(exc).__name__}: {exc}"
        finally:
            slots.release()
