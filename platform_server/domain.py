"""The platform's records, free of gRPC and SQLite: what the stores persist and servicers convert.

The enums are the contract's own (`platform_api.types`, protobuf-free), so the servicers convert with `int(...)`.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeVar

from platform_api.types import CLARA_EPOCH_OFFSET, JobPriority, JobState, JobStatus, PayloadType
from platform_api.types import JobOperatorStatus as OperatorStatus
from platform_server.errors import InvalidArgument

__all__ = [
    "CLARA_EPOCH_OFFSET",
    "FileDetails",
    "Job",
    "JobPriority",
    "JobState",
    "JobStatus",
    "OperatorDetail",
    "OperatorStatus",
    "Payload",
    "PayloadType",
    "Pipeline",
    "enum_value",
    "new_id",
    "now",
    "parse_id",
    "to_clara_seconds",
    "to_iso",
]

_ID = re.compile(r"^[0-9a-f]{32}$")
E = TypeVar("E", bound=IntEnum)


def enum_value(kind: type[E], value: int, what: str) -> E:
    """A contract enum from a wire integer; unknown numbers are the caller's mistake, not ours."""
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(f"{m.name}={m.value}" for m in kind)
        raise InvalidArgument(f"{what} {value} is not valid (known: {known})") from None


def new_id() -> str:
    """A Clara Identifier value: a 128-bit GUID as 32 lower-case hex characters, no dashes."""
    return uuid.uuid4().hex


def parse_id(value: str, what: str) -> str:
    """Normalise a caller's id (dashes and upper case tolerated) or raise InvalidArgument naming `what`."""
    normal = value.strip().replace("-", "").lower()
    if not _ID.match(normal):
        shown = value if value else "(empty)"
        raise InvalidArgument(f"{what} id {shown!r} is not a valid identifier (32 hexadecimal characters)")
    return normal


def now() -> float:
    return time.time()


def to_clara_seconds(unix: float | None) -> int:
    """Unix seconds -> Clara Timestamp.value; 0 means 'not set' on the wire."""
    return 0 if unix is None else int(unix) + CLARA_EPOCH_OFFSET


def to_iso(unix: float | None) -> str:
    """The deprecated string timestamps: `YYYY-MM-DDTHH:MM:SSZ`, empty when not set."""
    return "" if unix is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))


@dataclass
class OperatorDetail:
    """One operator of one job as reported by Jobs.Status."""

    name: str
    status: OperatorStatus = OperatorStatus.PENDING
    created: float | None = None
    started: float | None = None
    stopped: float | None = None
    exit_code: int | None = None


@dataclass
class Job:
    """A pipeline run. `queued` is set by Start; a PENDING job that is not queued waits for Start."""

    job_id: str
    pipeline_id: str
    payload_id: str
    name: str
    priority: JobPriority
    state: JobState = JobState.PENDING
    status: JobStatus = JobStatus.HEALTHY
    created: float = field(default_factory=now)
    started: float | None = None
    stopped: float | None = None
    queued: float | None = None
    variables: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    operators: list[OperatorDetail] = field(default_factory=list)
    definition: list[tuple[str, str]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state == JobState.STOPPED


@dataclass
class Pipeline:
    """A stored pipeline: its definition files exactly as uploaded, plus the parsed name."""

    pipeline_id: str
    name: str
    files: list[tuple[str, str]]
    metadata: dict[str, str] = field(default_factory=dict)
    created: float = field(default_factory=now)


@dataclass
class Payload:
    """A folder of files: PIPELINE payloads belong to one job, REUSABLE ones are shared inputs."""

    payload_id: str
    type: PayloadType
    job_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created: float = field(default_factory=now)


@dataclass(frozen=True)
class FileDetails:
    """One file of a payload: `name` is relative to the payload root, with forward slashes."""

    name: str
    size: int
    mode: int = 0
