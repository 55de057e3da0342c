"""The Executor interface: run the operators and services of one job and report how they ended.

An `OperatorRun` carries everything an executor needs and nothing about how the platform stores it:
the image and command, the folders to expose at the operator's declared container paths (mounts), the
environment, resource requests, a timeout and a log file. The local executor maps mounts by rewriting
paths; the container executor bind-mounts them (inputs read-only); a Kubernetes executor would turn
the same run into a pod. Cancelling the awaiting task cancels the run: the executor must stop the
operator before re-raising `asyncio.CancelledError`.

An executor's life in the platform: `start` (check the engine or cluster, remove what a crashed run
left; returns a line for the log), then jobs, then `close` (wait for background clean-up).

A job's life in an executor: `begin_job` (what the job will need: service ports), then `run` per
operator and `start_service` per service an operator uses (once per job), then `end_job`, which
stops the job's services and frees whatever the executor made for the job. `reap` cleans up after
a platform crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from platform_server.errors import PlatformServerError

# The label of the mount that gives operators the results service's CA file (an https results service).
RESULTS_CA_LABEL = "results-ca"


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
    # Read-only folders that are not inputs (the model repository): mounted, not listed in INPUTPATHS.
    extra_mounts: tuple[Mount, ...] = ()
    pull_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceRun:
    """One service (e.g. Triton) of one job: started before the first operator that uses it."""

    job_id: str
    name: str
    image: str
    command: tuple[str, ...]
    env: Mapping[str, str]
    ports: tuple[int, ...]
    log_path: Path
    ready_timeout: float
    mounts: tuple[Mount, ...] = ()
    resources: ResourceRequest = field(default_factory=ResourceRequest)
    pull_secrets: tuple[str, ...] = ()


class ExecutorError(PlatformServerError):
    """An operator or service could not be started; the message is meant for the job's Status."""


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

    async def start(self) -> str:
        """Before any job: check what runs operators works (ExecutorError otherwise) and sweep leftovers."""
        ...

    async def close(self) -> None: ...

    async def begin_job(self, job_id: str, service_ports: tuple[int, ...]) -> None: ...

    async def run(self, run: OperatorRun) -> OperatorResult: ...

    async def start_service(self, run: ServiceRun) -> Mapping[int, str]:
        """Start a service and wait until each port answers; return port -> address for the job's operators.

        Raises ExecutorError (with the service's last log lines) when it cannot start or never answers.
        """
        ...

    async def end_job(self, job_id: str) -> None:
        """Stop the job's services and remove what the executor made for the job; never raises."""
        ...

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
