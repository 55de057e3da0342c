"""What the OpenAPI document (`/openapi.json`, `/docs`) says each route answers: body schemas and problems.

The models here only describe: the routes keep building their JSON by hand (`config/entities.py`'s wire
shapes, Clara's camelCase), and `responses=` attaches a model to a status code without filtering what is
sent. `answers(...)` lists a route's problems: the guards' (413, 421) on every route, the token gate's
(401, 403) on every protected one, and 400/404/409 only where the handler can raise them, so a client
generated from the document expects what the service really answers (tests/dicom_adapter/api/test_openapi.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dicom_adapter.api.problems import PROBLEMS
from openclara.auth.rest import auth_responses
from openclara.http_guards import openapi_responses


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class ClaraAeTitleOut(_Out):
    """A Clara AE title as Clara 0.8 returns it; `processorSettings` values are strings, as in Clara."""

    name: str
    ae_title: str = Field(alias="aeTitle")
    overwrite_same_instance: bool = Field(alias="overwriteSameInstance")
    ignored_sop_classes: list[str] = Field(alias="ignoredSopClasses")
    allowed_sop_classes: list[str] = Field(alias="allowedSopClasses")
    processor_settings: dict[str, str] = Field(
        alias="processorSettings",
        description="timeout (s), groupBy (GGGG,EEEE), priority, jobRetryDelay (ms), pipeline-NAME (pipeline id)",
    )
    redriven_payloads: int | None = Field(None, alias="redrivenPayloads",
                                          description="Faulted payloads submitted again by this change; only when > 0")
    warnings: list[str] | None = Field(None, description="Saved, but something looks wrong (an unknown pipeline)")


class SourceOut(_Out):
    """A sender that may connect: its calling AE title from an address."""

    name: str
    ae_title: str = Field(alias="aeTitle")
    host_ip: str = Field(alias="hostIp", description="IP address, CIDR block or host name")


class DestinationTlsOut(_Out):
    enabled: bool
    ca_file: str | None = Field(alias="caFile")
    cert_file: str | None = Field(alias="certFile")
    key_file: str | None = Field(alias="keyFile")
    server_name: str | None = Field(alias="serverName")


class DestinationOut(_Out):
    """Where results are exported (C-STORE); `tls` only when set for this destination."""

    name: str
    ae_title: str = Field(alias="aeTitle")
    host_ip: str = Field(alias="hostIp")
    port: int
    tls: DestinationTlsOut | None = None


class EchoOut(_Out):
    """The C-ECHO's outcome; `message` carries the reason of a failure (refused, rejected, TLS, timeout)."""

    name: str
    success: bool
    message: str
    status: int | None = Field(description="The C-ECHO-RSP status; null when no response came")
    elapsed_ms: float = Field(alias="elapsedMs")


class HealthStatus(_Out):
    active_dimse_connections: int = Field(alias="activeDimseConnections")
    services: dict[str, str] = Field(description="Each service's state, e.g. ScpService: Running")
    open_payloads: int | None = Field(None, alias="openPayloads")
    pending_submissions: int | None = Field(None, alias="pendingSubmissions")
    spare_files: int | None = Field(None, alias="spareFiles")


class AssociationOut(_Out):
    association_id: str = Field(alias="associationId")
    calling_ae_title: str = Field(alias="callingAeTitle")
    called_ae_title: str = Field(alias="calledAeTitle")
    host: str
    port: int
    started_at: float = Field(alias="startedAt", description="Unix time")
    ended_at: float = Field(alias="endedAt", description="Unix time")
    duration_seconds: float = Field(alias="durationSeconds")
    instances: int
    bytes: int
    failures: int
    outcome: str


class PayloadJobOut(_Out):
    job_id: str = Field(alias="jobId")
    started: bool


class PayloadOut(_Out):
    payload_id: str = Field(alias="payloadId")
    called_ae_title: str = Field(alias="calledAeTitle")
    group_key: str = Field(alias="groupKey")
    state: str
    instances: int
    created_at: float = Field(alias="createdAt", description="Unix time")
    last_received_at: float = Field(alias="lastReceivedAt", description="Unix time")
    error: str | None
    jobs: dict[str, PayloadJobOut] = Field(description="Per pipeline key of the AE title: its job")


class PayloadCountOut(_Out):
    since: float = Field(description="Unix time, as asked")
    count: int = Field(description="Payloads created at or after `since`, in any state")


class RetryOut(_Out):
    payload_id: str = Field(alias="payloadId")
    state: str


def answers(
    *problems: int, ok: Mapping[int, dict[str, Any]] | None = None, public: bool = False
) -> dict[int | str, dict[str, Any]]:
    """`responses=` of one route: its success responses (`ok`, see `body`) and the problems it can give."""
    documented: dict[int | str, dict[str, Any]] = {**openapi_responses()}
    for code, response in (ok or {}).items():
        documented[code] = response
    if not public:
        documented.update(auth_responses())
    documented.update({code: PROBLEMS[code] for code in problems})
    return documented


def body(model: Any, description: str) -> dict[str, Any]:
    """A success response documented by `model` (a pydantic model, or a list of one)."""
    return {"model": model, "description": description}
