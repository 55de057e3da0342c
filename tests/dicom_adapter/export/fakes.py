"""In-memory stand-ins for the results service, the platform payload store and the destination registry."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dicom_adapter.export.task import ExportTask
from dicom_adapter.models import DestinationAeTitle


@dataclass
class FakeResults:
    """A task queue with Clara's states; records every report."""

    tasks: dict[str, ExportTask] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    reports: list[tuple[str, str, bool | None, str]] = field(default_factory=list)  # (task, outcome, retry, error)
    max_retries: int = 3

    def add(self, task_id: str, parameters: str, uris: list[str], payload_id: str = "payload-1") -> None:
        self.tasks[task_id] = ExportTask(task_id, "job-1", "pipe-1", payload_id, "ClaraSCU", parameters, 0, tuple(uris))
        self.states[task_id] = "Pending"

    async def lease(self, size: int) -> list[ExportTask]:
        ready = [t for tid, t in self.tasks.items() if self.states[tid] == "Pending"][:size]
        for task in ready:
            self.states[task.task_id] = "InProgress"
        return ready

    async def succeed(self, task: ExportTask) -> str | None:
        self.reports.append((task.task_id, "success", None, ""))
        self.states[task.task_id] = "Succeeded"
        return "Succeeded"

    async def fail(self, task: ExportTask, retry_later: bool, error: str) -> str | None:
        self.reports.append((task.task_id, "failure", retry_later, error))
        retries = task.retries + (1 if retry_later else 0)
        state = "Pending" if retry_later and retries <= self.max_retries else "Failed"
        self.states[task.task_id] = state
        self.tasks[task.task_id] = ExportTask(**{**task.__dict__, "retries": retries})
        return state

    async def aclose(self) -> None:
        return None


@dataclass
class LapsingResults(FakeResults):
    """Leases lapse at once: every lease hands InProgress tasks out again under a new lease id, as when
    delivery outlasts the lease; like the real service, a report under a lapsed lease is refused as stale."""

    leases: int = 0
    current: dict[str, str] = field(default_factory=dict)  # task id -> newest lease id

    async def lease(self, size: int) -> list[ExportTask]:
        ready = [t for tid, t in self.tasks.items() if self.states[tid] in ("Pending", "InProgress")][:size]
        leased = []
        for task in ready:
            self.leases += 1
            self.states[task.task_id] = "InProgress"
            self.current[task.task_id] = f"lease-{self.leases}"
            leased.append(ExportTask(**{**task.__dict__, "lease_id": self.current[task.task_id]}))
        return leased

    async def succeed(self, task: ExportTask) -> str | None:
        if task.lease_id != self.current.get(task.task_id):
            self.reports.append((task.task_id, "stale", None, str(task.lease_id)))
            return None
        return await super().succeed(task)


@dataclass
class FakePayloads:
    """Payload files are read from `root/<payload id>/<uri>`."""

    root: Path
    downloads: list[str] = field(default_factory=list)

    async def download(self, payload_id: str, name: str, dest_path: Path) -> None:
        self.downloads.append(name)
        shutil.copyfile(self.root / payload_id / name, dest_path)


@dataclass
class FakeDestinations:
    by_name: dict[str, DestinationAeTitle] = field(default_factory=dict)

    def add(self, name: str, ae_title: str, port: int) -> None:
        self.by_name[name.lower()] = DestinationAeTitle(name, ae_title, "127.0.0.1", port)

    async def destination(self, name: str) -> DestinationAeTitle | None:
        return self.by_name.get(name.lower())
