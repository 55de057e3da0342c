"""One study's life as `clara load` saw it: what was sent and acknowledged, and when each stage was reached.

Stage times are seconds after the study's last acknowledged instance (for `--pipeline`: after the job
was started), the moment the sender has done its part; `c_store` holds the per-instance round trips.
Stages are named by their JSON keys (snake_case, docs/cli.md "Output"); `stage_label` is what people read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clara_cli.output import rfc3339

STORE = "c_store"
SUBMIT = "job_submitted"
PAYLOAD_CLOSED = "payload_closed"
JOB_RUNNING = "job_running"
JOB_DONE = "job_done"
EXPORTED = "export_delivered"
DOWNSTREAM = (PAYLOAD_CLOSED, JOB_RUNNING, JOB_DONE, EXPORTED)


def stage_label(stage: str) -> str:
    """`payload_closed` -> `payload closed`, `c_store` -> `c-store` (the table and the live view)."""
    return "c-store" if stage == STORE else stage.replace("_", " ")


def _time(epoch: float | None) -> str | None:
    return None if epoch is None else rfc3339(datetime.fromtimestamp(epoch, UTC))


@dataclass
class StudyRecord:
    """Filled by the sender (what went out) and the tracker (what the stack did with it)."""

    study_uid: str
    kind: str
    called: str
    instances: int
    nbytes: int
    started_at: float  # wall clock (time.time()), comparable with the services' timestamps
    acknowledged: list[str] = field(default_factory=list)  # SOP instance UIDs answered with Success/Warning
    failed: int = 0  # instances answered with a failure status
    store_seconds: list[float] = field(default_factory=list)
    aborted: bool = False
    error: str | None = None
    sent_at: float | None = None  # when the sender was done: last acknowledgement or job started
    payloads: set[str] = field(default_factory=set)
    jobs: dict[str, str] = field(default_factory=dict)  # job id -> pipeline (key or id)
    stages: dict[str, float] = field(default_factory=dict)
    submitted: bool = False  # every pipeline's job is known (the adapter's payload was submitted)
    exported: bool = False  # every export task of its jobs succeeded
    done_at: float | None = None  # when the tracker saw every job of the study stopped (wall clock)
    finished: bool = False  # nothing more to wait for

    def reach(self, stage: str, when: float) -> None:
        """Record the first time a stage was seen (never earlier than the sender finished)."""
        if stage not in self.stages and self.sent_at is not None:
            self.stages[stage] = max(0.0, when - self.sent_at)

    def as_json(self) -> dict[str, Any]:
        """One line of `--records`; the CLI's JSON convention, so jobs are a list (job IDs are not keys)."""
        return {
            "study_instance_uid": self.study_uid,
            "kind": self.kind,
            "called_ae_title": self.called,
            "instances": self.instances,
            "bytes": self.nbytes,
            "started_at": _time(self.started_at),
            "sent_at": _time(self.sent_at),
            "acknowledged": self.acknowledged,
            "failed": self.failed,
            "aborted": self.aborted,
            "error": self.error,
            "payloads": sorted(self.payloads),
            "jobs": [{"job_id": job_id, "pipeline": pipeline} for job_id, pipeline in self.jobs.items()],
            "stages": {k: round(v, 4) for k, v in self.stages.items()},
            "finished": self.finished,
        }
