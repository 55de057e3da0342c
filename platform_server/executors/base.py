"""The Executor interface: run one operator of one job and report how it ended.

An `OperatorRun` carries everything an executor needs and nothing about how the platform stores it:
the command, the folders to expose at the operator's declared container paths (mounts), the
environment, resource requests, a timeout and a log file. The local executor maps mounts by rewriting
paths; a Kubernetes executor would turn the same run into a pod with volume mounts and resource
requests. Cancelling the awaiting task cancels the run: the executor must stop the operator before
re-raising `asyncio.CancelledError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Mount:
    """A real folder exposed to the operator at `container_path` (Clara's input/output `path`)."""

    label: str
    container_path: str
    host_path: Path
    read_only: bool


@dataclass(frozen=True)
class ResourceRequest:
    cpu: float = 0.0
    gpu: int = 0
    memory_mb: int = 0
    gpu_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class OperatorRun:
    """One operator of one job, ready to execute."""

    job_id: str
    operator: str
    image: str
    command: tuple[str, ...]
    inputs: tuple[Mount, ...]
    outputs: tuple[Mount, ...]
    env: Mapping[str, str]
    work_dir: Path
    log_path: Path
    timeout: float
    resources: ResourceRequest = field(default_factory=ResourceRequest)


class Outcome(Enum):
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    NOT_STARTED = "not_started"


@dataclass(frozen=True)
class OperatorResult:
    outcome: Outcome
    exit_code: int | None
    last_lines: tuple[str, ...] = ()
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.COMPLETED


class Executor(Protocol):
    """Runs operators; `run` returns when the operator has ended (or raises CancelledError after stopping it)."""

    async def run(self, run: OperatorRun) -> OperatorResult: ...

    async def reap(self, job_id: str, work_dir: Path) -> int:
        """After a platform crash: stop operators of `job_id` still running from before; return how many."""
        ...


def tail(path: Path, lines: int) -> tuple[str, ...]:
    """The last `lines` lines of a log file, decoded leniently (operators print what they like)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError:
        return ()
    text = data.decode("utf-8", errors="replace").splitlines()
    return tuple(text[-lines:])
