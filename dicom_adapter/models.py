"""The adapter's domain objects: configured AE titles, sources, destinations, received instances.

Plain frozen dataclasses; nothing here imports pynetdicom, FastAPI or aiosqlite. Conversion to
JSON happens in `config/entities.py`, to rows in `db/`, from PDUs in `scp/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

DEFAULT_JOB_RETRY_DELAY_MS = 5000  # Clara's `jobRetryDelay` default


class JobPriority(StrEnum):
    """Clara's job priorities, as written in AE settings (case-insensitive on input)."""

    LOWER = "lower"
    NORMAL = "normal"
    HIGHER = "higher"
    IMMEDIATE = "immediate"


@dataclass(frozen=True)
class ClaraAeTitle:
    """A local (called) AE title that turns received studies into jobs on the listed pipelines."""

    name: str
    ae_title: str
    pipelines: dict[str, str]  # pipeline key (after "pipeline-") -> platform pipeline id
    group_by: str = "0020,000D"  # DICOM tag whose value groups instances into one payload
    timeout_seconds: float = 5.0  # sliding quiet period before a group closes
    priority: JobPriority = JobPriority.NORMAL
    overwrite_same_instance: bool = False
    ignored_sop_classes: tuple[str, ...] = ()
    allowed_sop_classes: tuple[str, ...] = ()  # empty = every storage SOP class
    # Base of the exponential backoff when the platform is unavailable (Clara: fixed delay, 3 tries).
    job_retry_delay_ms: int = DEFAULT_JOB_RETRY_DELAY_MS


@dataclass(frozen=True)
class SourceAeTitle:
    """A calling AE title allowed to send to us (when rejectUnknownSources), from a host, IP or CIDR."""

    ae_title: str
    host_ip: str


@dataclass(frozen=True)
class DestinationTls:
    """DICOM TLS towards one destination (PS3.15 B.9). A file left None falls back to `export.tls`'s;
    the CA file then to the system's trust store. The server's certificate and name are always verified."""

    enabled: bool = True
    ca_file: Path | None = None  # CAs that sign the destination's certificate
    cert_file: Path | None = None  # our certificate, for a destination that requires mutual TLS
    key_file: Path | None = None
    server_name: str | None = None  # the name its certificate carries, when `host_ip` is not in it


@dataclass(frozen=True)
class DestinationAeTitle:
    """A DICOM peer we export results to, referenced by `name` in register_results' --data."""

    name: str
    ae_title: str
    host_ip: str
    port: int
    tls: DestinationTls | None = None  # None = as `export.tls.enabled` says (off by default)


@dataclass(frozen=True)
class StoredInstance:
    """One instance acknowledged with Success: already fsync'd and renamed into the spool."""

    path: Path  # Part-10 file in the spool, byte-exact as received plus file meta
    called_ae_title: str
    calling_ae_title: str
    calling_host: str
    association_id: str
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax: str
    size: int
    received_at: float  # time.time()
    extra_tags: dict[str, str] = field(default_factory=dict)  # e.g. a custom groupBy tag value


class PayloadState(StrEnum):
    """Where a payload is in its life; persisted as the string value.

    receiving -> closed -> submitting -> submitted -> done, or -> faulted (permanent platform refusal).
    `submitted` = every pipeline's job started; `done` = its spool files are removed too.
    """

    RECEIVING = "receiving"
    CLOSED = "closed"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    DONE = "done"
    FAULTED = "faulted"


@dataclass(frozen=True)
class Payload:
    """A group of instances (same called AE and grouping value) that becomes one job per pipeline."""

    payload_id: str
    called_ae_title: str
    group_key: str
    state: PayloadState
    created_at: float
    last_received_at: float
    instance_count: int = 0
    error: str | None = None


@dataclass(frozen=True)
class PayloadJob:
    """The job created for one pipeline of a payload; recorded before the job is started."""

    payload_id: str
    pipeline_key: str
    pipeline_id: str
    job_id: str | None = None
    platform_payload_id: str | None = None
    uploaded: bool = False
    started: bool = False


@dataclass(frozen=True)
class AssociationRecord:
    """One association, accepted or rejected, as the SCP saw it."""

    association_id: str
    calling_ae_title: str
    called_ae_title: str
    host: str
    port: int
    started_at: float  # time.time()
    ended_at: float
    instances: int  # stored with Success (ignored SOP classes not counted)
    bytes: int  # dataset bytes stored
    outcome: str  # "released" | "aborted" | "rejected: <reason>" | "error: <what>"
    failures: int = 0  # C-STOREs answered with a failure status
    ignored: int = 0  # C-STOREs answered Success without storing (ignored SOP classes)
    echoes: int = 0  # C-ECHOs answered


@dataclass(frozen=True)
class EchoResult:
    """What a C-ECHO of a destination found (`export/verification.py`), as the REST API reports it."""

    success: bool
    message: str
    status: int | None = None
    elapsed_ms: float = 0.0
