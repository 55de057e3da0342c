"""Our own types for the Platform API: ids, enums with the contract's values, plain dataclasses.

Nothing here imports protobuf or grpc; `_convert.py` translates at the edge. Clara's timestamps
(seconds since 0001-01-01T00:00:00Z) are converted to aware UTC datetimes here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import NewType, Self

JobId = NewType("JobId", str)
PayloadId = NewType("PayloadId", str)
PipelineId = NewType("PipelineId", str)
ModelId = NewType("ModelId", str)

# Seconds between 0001-01-01T00:00:00Z and the Unix epoch.
CLARA_EPOCH_OFFSET = 62_135_596_800
_CLARA_EPOCH = datetime(1, 1, 1, tzinfo=UTC)


def from_clara_seconds(value: int) -> datetime | None:
    """Clara timestamp -> aware UTC datetime; 0 (unset) and anything before 1970 mean "not set"."""
    if value <= CLARA_EPOCH_OFFSET:
        return None
    return _CLARA_EPOCH + timedelta(seconds=value)


def to_clara_seconds(moment: datetime | None) -> int:
    """Aware (or naive = UTC) datetime -> Clara timestamp; None -> 0 (unset)."""
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int((moment - _CLARA_EPOCH).total_seconds())


class ResponseCode(IntEnum):
    """openclara's `ResponseHeader.code` values (Clara published none; any negative is an error).

    The one definition: the server's errors report these and the client maps them back to its errors.
    """

    OK = 0
    INTERNAL = -1
    INVALID_ARGUMENT = -2
    NOT_FOUND = -3
    CONFLICT = -4
    RESOURCE_EXHAUSTED = -5


class _ContractEnum(IntEnum):
    """An IntEnum whose members parse case-insensitively from their short names ("higher")."""

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse a short name such as "higher" or "HIGHER" (Clara's adapter #9: lower case crashed)."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(m.name.lower() for m in cls if m.value != 0)
            raise ValueError(f"unknown {cls.__name__} {text!r}; choose one of: {choices}") from None

    @classmethod
    def from_wire(cls, value: int) -> Self:
        """A newer server may send values we do not know; keep going with UNKNOWN (0)."""
        try:
            return cls(value)
        except ValueError:
            return cls(0)

    @property
    def label(self) -> str:
        return self.name.lower()


class JobPriority(_ContractEnum):
    UNKNOWN = 0
    LOWER = 1
    NORMAL = 2
    HIGHER = 3
    IMMEDIATE = 4


class JobState(_ContractEnum):
    UNKNOWN = 0
    PENDING = 1
    RUNNING = 2
    STOPPED = 3


class JobStatus(_ContractEnum):
    UNKNOWN = 0
    HEALTHY = 1
    FAULTED = 2
    CANCELED = 3
    EVICTED = 4
    TERMINATED = 5


class JobOperatorStatus(_ContractEnum):
    UNKNOWN = 0
    PENDING = 1
    RUNNING = 2
    COMPLETED = 3
    FAULTED = 4


class PayloadType(_ContractEnum):
    UNKNOWN = 0
    PIPELINE = 1
    REUSABLE = 2


class ModelType(_ContractEnum):
    UNKNOWN = 0
    TENSOR_FLOW = 1
    TENSOR_RT = 2
    PY_TORCH = 3


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    label: str = ""

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}-{self.label}" if self.label else text


@dataclass(frozen=True)
class PipelineDefinitionFile:
    path: str
    content: str


@dataclass(frozen=True)
class PipelineDagNode:
    name: str
    next: tuple[PipelineDagNode, ...] = ()


@dataclass(frozen=True)
class PipelineDetails:
    pipeline_id: PipelineId
    name: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    definitions: tuple[PipelineDefinitionFile, ...] = ()
    dag: tuple[PipelineDagNode, ...] = ()


@dataclass(frozen=True)
class JobDetails:
    """One row of `Jobs.List`."""

    job_id: JobId
    payload_id: PayloadId
    pipeline_id: PipelineId
    name: str
    state: JobState
    status: JobStatus
    priority: JobPriority
    created: datetime | None = None
    started: datetime | None = None
    stopped: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobOperatorDetails:
    name: str
    status: JobOperatorStatus
    created: datetime | None = None
    started: datetime | None = None
    stopped: datetime | None = None


@dataclass(frozen=True)
class JobDagNode:
    name: str
    input_dependencies: tuple[JobDagNode, ...] = ()
    order_dependencies: tuple[JobDagNode, ...] = ()


@dataclass(frozen=True)
class JobStatusDetails(JobDetails):
    """`Jobs.Status`: everything in `JobDetails` plus operators, DAG and messages."""

    operators: tuple[JobOperatorDetails, ...] = ()
    dag: tuple[JobDagNode, ...] = ()
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobToken:
    """What `Jobs.Start` and `Jobs.Cancel` answer."""

    job_id: JobId
    state: JobState
    status: JobStatus
    priority: JobPriority = JobPriority.UNKNOWN


@dataclass(frozen=True)
class PayloadFileDetails:
    name: str
    size: int
    mode: int = 0


@dataclass(frozen=True)
class PayloadDetails:
    payload_id: PayloadId
    type: PayloadType
    files: tuple[PayloadFileDetails, ...] = ()
    job_id: JobId | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelDetails:
    model_id: ModelId
    name: str
    type: ModelType = ModelType.UNKNOWN
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GpuProcess:
    name: str
    job_id: JobId | None = None


@dataclass(frozen=True)
class GpuUtilization:
    node_id: str
    pcie_id: int
    compute_utilization: float
    memory_free_mb: int
    memory_used_mb: int
    memory_utilization: float
    timestamp: datetime | None = None
    processes: tuple[GpuProcess, ...] = ()


__all__ = [
    "CLARA_EPOCH_OFFSET",
    "GpuProcess",
    "GpuUtilization",
    "JobDagNode",
    "JobDetails",
    "JobId",
    "JobOperatorDetails",
    "JobOperatorStatus",
    "JobPriority",
    "JobState",
    "JobStatus",
    "JobStatusDetails",
    "JobToken",
    "ModelDetails",
    "ModelId",
    "ModelType",
    "PayloadDetails",
    "PayloadFileDetails",
    "PayloadId",
    "PayloadType",
    "PipelineDagNode",
    "PipelineDefinitionFile",
    "PipelineDetails",
    "PipelineId",
    "Version",
    "from_clara_seconds",
    "to_clara_seconds",
]
