"""The task model: what an agent must deliver, its state and its lease. No web or database types here."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum

# Clara's rule for agent names (letters, digits, '-'; starts with a letter; does not end with '-').
AGENT_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$")
AGENT_RULE = "letters, digits and '-' only, starting with a letter, not ending with '-', at most 64 characters"
# Paging bounds of task listings: a page of at most MAX_LIMIT tasks, offsets that fit a signed 32-bit int.
MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1


class TaskState(StrEnum):
    """Clara's task states; persisted and serialised by name, numbered as Clara documents them."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def number(self) -> int:
        return _NUMBERS[self]

    @property
    def is_terminal(self) -> bool:
        return self in (TaskState.SUCCEEDED, TaskState.FAILED)

    @classmethod
    def parse(cls, text: str) -> TaskState:
        """Case-insensitive name ('inprogress', 'InProgress') or Clara number ('2')."""
        key = text.strip().lower().replace("_", "").replace("-", "")
        for state in cls:
            if key in (state.value.lower(), str(state.number)):
                return state
        names = ", ".join(state.value for state in cls)
        raise ValueError(f"unknown task state {text!r}; expected one of {names} (any case) or 1-4")


_NUMBERS = {TaskState.PENDING: 1, TaskState.IN_PROGRESS: 2, TaskState.SUCCEEDED: 3, TaskState.FAILED: 4}


@dataclass(frozen=True)
class Registration:
    """What a pipeline asks an agent to deliver: files of one payload, with agent-specific parameters."""

    agent: str
    job_id: str
    pipeline_id: str
    payload_id: str
    parameters: str
    uris: tuple[str, ...]

    @property
    def dedup_key(self) -> str:
        """Identity for idempotent registration: the same agent, job, parameters and set of files."""
        canonical = json.dumps([self.agent, self.job_id, self.parameters, sorted(self.uris)], separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Task:
    """One registered delivery and where it stands. Times are POSIX seconds (UTC)."""

    task_id: str
    agent: str
    job_id: str
    pipeline_id: str
    payload_id: str
    parameters: str
    uris: tuple[str, ...]
    state: TaskState
    retries: int
    created: float
    updated: float
    next_attempt: float
    lease_id: str | None = None
    lease_expires: float | None = None
    last_error: str | None = None
    expiries: int = 0


@dataclass(frozen=True)
class TaskFilter:
    """Criteria of `GET /api/tasks`; None means any."""

    agent: str | None = None
    state: TaskState | None = None
    job_id: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class FinishedJob:
    """A job whose tasks are all Succeeded or Failed: its payload may be deleted after retention."""

    job_id: str
    payload_id: str
    finished: float
