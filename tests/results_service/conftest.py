"""Fixtures for results-service unit tests: a fake clock, a queue on SQLite in tmp_path, an ASGI client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from results_service.app import create_app
from results_service.db import ResultsDatabase
from results_service.metrics import Metrics
from results_service.models import Registration
from results_service.queue import TaskQueue
from results_service.repository import TaskRepository
from results_service.settings import CleanupSettings, ResultsSettings
from tests.support import http


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeDeleter:
    """Records deleted payloads; can be told to fail."""

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.error: Exception | None = None

    async def delete_payload(self, payload_id: str) -> None:
        if self.error is not None:
            raise self.error
        self.deleted.append(payload_id)


def registration(job: str = "job-1", destination: str = "MYPACS", agent: str = "ClaraSCU", n: int = 1) -> Registration:
    uris = tuple(f"operators/seg/out/f{i}.dcm" for i in range(n))
    return Registration(agent, job, "pipe-1", f"payload-{job}", f'"{destination}"', uris)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> ResultsSettings:
    return ResultsSettings.model_validate(
        {
            "database": {"path": tmp_path / "results.db"},
            "lease": {"seconds": 30, "sweep_interval_seconds": 3600},
            "retry": {"max_retries": 2, "backoff_base_seconds": 10, "backoff_max_seconds": 15},
            "cleanup": {"enabled": True, "retainDataForMinutes": 1, "interval_seconds": 3600},
            "max_body_bytes": 4096,
            "allowed_hosts": ["results"],  # the test client's base URL
        }
    )


@pytest.fixture
async def repo(settings: ResultsSettings) -> AsyncIterator[TaskRepository]:
    db = ResultsDatabase(settings.database.path)
    await db.open()
    yield TaskRepository(db)
    await db.close()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def queue(repo: TaskRepository, settings: ResultsSettings, clock: FakeClock, metrics: Metrics) -> TaskQueue:
    return TaskQueue(repo, settings.lease, settings.retry, metrics, clock)


@pytest.fixture
def cleanup_settings(settings: ResultsSettings) -> CleanupSettings:
    return settings.cleanup


@pytest.fixture
def deleter() -> FakeDeleter:
    return FakeDeleter()


@pytest.fixture
async def client(settings: ResultsSettings, clock: FakeClock, deleter: FakeDeleter) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, deleter, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with http.AsyncClient(transport=transport, base_url="http://results") as client:
            yield client
