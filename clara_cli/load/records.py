"""One study's life as `clara load` saw it: what was sent and acknowledged, and when each stage was reached.

Stage times are seconds after the study's last acknowledged instance (for `--pipeline`: after the job
was started), the moment the sender has done its part; `c-store` holds the per-instance round trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STORE = "c-store"
SUBMIT = "job submitted"
PAYLOAD_CLOSED = "payload closed"
JOB_RUNNING = "job running"
JOB_DONE = "job done"
EXPORTED = "export delivered"
DOWNSTREAM = (PAYLOAD_CLOSED, JOB_RUNNING, JOB_DONE, EXPORTED)


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
        return {
            "studyInstanceUid": self.study_uid,
            "kind": self.kind,
            "calledAeTitle": self.called,
            "instances": self.instances,
            "bytes": self.nbytes,
            "startedAt": self.started_at,
            "sentAt": self.sent_at,
            "acknowledged": self.acknowledged,
            "failed": self.failed,
            "aborted": self.aborted,
            "error": self.error,
            "payloads": sorted(self.payloads),
            "jobs": dict(self.jobs),
            "stages": {k: round(v, 4) for k, v in self.stages.items()},
            "finished": self.finished,
        }
