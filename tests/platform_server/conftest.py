"""In-process platform pieces over a temporary SQLite database, with a scriptable fake executor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from platform_server.db import PlatformDatabase
from platform_server.domain import Job, JobState
from platform_server.executors.base import Executor, ExecutorError, OperatorResult, OperatorRun, Outcome, ServiceRun
from platform_server.jobs.gpus import GpuPool
from platform_server.jobs.runner import JobRunner, RunnerConfig
from platform_server.jobs.scheduler import Scheduler
from platform_server.jobs.service import JobService
from platform_server.jobs.store import JobRepository
from platform_server.metrics import PlatformMetrics
from platform_server.models.repository import ModelRepository
from platform_server.payloads.store import PayloadStore
from platform_server.pipelines.service import PipelineService
from platform_server.pipelines.store import PipelineRepository


@dataclass
class FakeExecutor:
    """Records runs; operators listed in `fail` exit 1, those in `block` wait until released."""

    fail: set[str] = field(default_factory=set)
    block: set[str] = field(default_factory=set)
    runs: list[OperatorRun] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    running: int = 0
    peak: int = 0
    begun: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    services: list[ServiceRun] = field(default_factory=list)

    async def run(self, run: OperatorRun) -> OperatorResult:
        self.runs.append(run)
        self.started.append(f"{run.job_id[:6]}:{run.operator}")
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(0.01)
            if run.operator in self.block:
                await self.release.wait()
        finally:
            self.running -= 1
        if run.operator in self.fail:
            return OperatorResult(Outcome.FAILED, 1, ("boom",), f"operator {run.operator!r} exited with code 1")
        return OperatorResult(Outcome.COMPLETED, 0)

    async def start(self) -> str:
        return "a fake"

    async def close(self) -> None:
        return None

    async def reap(self, job_id: str, work_dir: Path) -> int:
        return 0

    async def begin_job(self, job_id: str, service_ports: tuple[int, ...]) -> None:
        self.begun.append(job_id)

    async def end_job(self, job_id: str) -> None:
        self.ended.append(job_id)

    async def start_service(self, run: ServiceRun) -> Mapping[int, str]:
        self.services.append(run)
        if run.name in self.fail:
            raise ExecutorError(f"service {run.name!r} did not answer")
        return {port: f"localhost:{port}" for port in run.ports}


@dataclass
class Platform:
    db: PlatformDatabase
    jobs: JobRepository
    payloads: PayloadStore
    pipelines: PipelineService
    scheduler: Scheduler
    runner: JobRunner
    service: JobService
    executor: Executor

    async def wait_stopped(self, job_id: str, timeout: float = 20.0) -> Job:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            job = await self.jobs.get(job_id)
            if job.state == JobState.STOPPED:
                return job
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"job still {job.state.name}")
            await asyncio.sleep(0.02)


async def build(root: Path, executor: Executor, slots: int = 1, gpus: int = 0, requeue: bool = False,
                metrics: PlatformMetrics | None = None) -> Platform:
    db = PlatformDatabase(root / "platform.db")
    await db.start()
    jobs = JobRepository(db)
    payloads = PayloadStore(db, root / "payloads")
    await payloads.start()
    models = ModelRepository(db, root / "models")
    await models.start()
    pipelines = PipelineRepository(db)
    config = RunnerConfig(root / "work", root / "logs", "127.0.0.1", 30031, "http://127.0.0.1:8088", 60.0)
    runner = JobRunner(jobs, payloads, models, executor, GpuPool(gpus), config, metrics)
    scheduler = Scheduler(slots, runner.run)
    service = JobService(jobs, pipelines, payloads, scheduler, runner, requeue)
    await service.recover()
    await scheduler.start()
    return Platform(db, jobs, payloads, PipelineService(pipelines), scheduler, runner, service, executor)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[PayloadStore]:
    """A payload store over its own database, started."""
    db = PlatformDatabase(tmp_path / "p.db")
    await db.start()
    payloads = PayloadStore(db, tmp_path / "payloads")
    await payloads.start()
    yield payloads
    await db.stop()


@pytest.fixture
async def fake() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
async def platform(tmp_path: Path, fake: FakeExecutor) -> AsyncIterator[Platform]:
    built = await build(tmp_path, fake)
    yield built
    fake.release.set()
    await built.scheduler.stop(5)
    await built.db.stop()


DIAMOND = """\
api-version: 0.4.0
name: diamond
parameters:
  WHO: world
operators:
- name: reader
  container: {image: r, command: [python, r.py, "${{WHO}}"]}
  input: [{path: /input}]
  output: [{path: /output}]
  variables: {LEVEL: debug}
- name: left
  container: {image: l, command: [python, l.py]}
  input: [{from: reader, path: /in}]
  output: [{path: /out, name: seg}]
- name: right
  container: {image: r, command: [python, r.py]}
  input: [{from: reader, path: /in}]
  output: [{path: /out}]
- name: join
  container: {image: j, command: [python, j.py]}
  input: [{from: left, name: seg, path: /l}, {from: right, path: /r}]
  output: [{path: /out}]
"""
