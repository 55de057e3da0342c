"""Wire JSON of the task API (Clara's camelCase) and its conversion to and from `models`."""

from __future__ import annotations

import json
import posixpath
from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from openclara.payload_names import length_problem
from results_service.models import Registration, Task, TaskState


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RegisterRequest(BaseModel):
    """Body of `POST /api/tasks/register/{agent}`; unknown fields are ignored for forward compatibility."""

    model_config = ConfigDict(extra="ignore")

    job_id: str = Field(min_length=1, max_length=256, validation_alias=AliasChoices("jobId", "JobId", "job_id"))
    pipeline_id: str = Field("", max_length=256, validation_alias=AliasChoices("pipelineId", "PipelineId"))
    payload_id: str = Field("", max_length=256, validation_alias=AliasChoices("payloadId", "PayloadId"))
    parameters: str | list[Any] | dict[str, Any] | None = Field(
        None,
        validation_alias=AliasChoices("parameters", "Parameters"),
        description='Agent-specific JSON text, e.g. "\\"MYPACS\\"" for ClaraSCU; a JSON value is serialised.',
    )
    uris: list[str] = Field(min_length=1, max_length=100_000, validation_alias=AliasChoices("uris", "Uris"))

    @field_validator("parameters")
    @classmethod
    def _json_text(cls, value: str | list[Any] | dict[str, Any] | None) -> str | list[Any] | dict[str, Any] | None:
        if isinstance(value, str) and value.strip():
            try:
                json.loads(value)
            except ValueError as exc:
                raise ValueError(
                    f'parameters must be JSON text (for ClaraSCU a quoted destination name, e.g. "\\"MYPACS\\""): {exc}'
                ) from exc
        return value

    @field_validator("uris")
    @classmethod
    def _relative(cls, uris: list[str]) -> list[str]:
        for number, uri in enumerate(uris, start=1):
            # The platform's limits, checked here too: a task the platform can never serve is refused now,
            # not failed later by the agent's download (and the message does not repeat a huge uri).
            problem = length_problem(uri)
            if problem is not None:
                raise ValueError(f"uri {number}: {problem}")
            normal = posixpath.normpath(uri) if uri else ""
            if not uri or uri.startswith("/") or normal == ".." or normal.startswith("../"):
                raise ValueError(f"uri {uri!r} must be a non-empty path relative to the payload, without '..'")
        return uris

    def to_registration(self, agent: str) -> Registration:
        params = self.parameters
        text = "" if params is None else params if isinstance(params, str) else json.dumps(params)
        return Registration(agent, self.job_id, self.pipeline_id, self.payload_id, text, tuple(self.uris))


class FailureRequest(BaseModel):
    """Body of `PUT /api/tasks/failure/{taskId}`; Clara's agent sends `RetryLater` (PascalCase)."""

    model_config = ConfigDict(extra="ignore")

    retry_later: bool = Field(
        False, strict=True, validation_alias=AliasChoices("retryLater", "RetryLater", "retry_later")
    )
    error: str | None = Field(None, max_length=4000, validation_alias=AliasChoices("error", "Error", "reason"))


class TaskOut(BaseModel):
    """One task as Clara's agents read it, plus our timestamps and lease fields (ISO 8601 UTC)."""

    taskId: str
    jobId: str
    pipelineId: str
    payloadId: str
    agent: str
    parameters: str
    state: str = Field(description="Pending | InProgress | Succeeded | Failed")
    retries: int
    uris: list[str]
    created: str
    updated: str
    nextAttempt: str
    leaseId: str | None = None
    leaseExpires: str | None = None
    lastError: str | None = None


def task_json(task: Task) -> dict[str, Any]:
    """Task -> wire dict (built by hand: this is the hot path of every poll)."""
    return {
        "taskId": task.task_id,
        "jobId": task.job_id,
        "pipelineId": task.pipeline_id,
        "payloadId": task.payload_id,
        "agent": task.agent,
        "parameters": task.parameters,
        "state": task.state.value,
        "retries": task.retries,
        "uris": list(task.uris),
        "created": _iso(task.created),
        "updated": _iso(task.updated),
        "nextAttempt": _iso(task.next_attempt),
        "leaseId": task.lease_id if task.state is TaskState.IN_PROGRESS else None,
        "leaseExpires": _iso(task.lease_expires),
        "lastError": task.last_error,
    }
