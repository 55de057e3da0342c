"""platform_api: the Clara Platform API contract (gRPC, `nvidia.clara.platform`) and its typed async client.

Map::

    proto/nvidia/clara/platform/*.proto   source of truth (our own files, wire-compatible with Clara)
    _generated/                           pb2 + grpc stubs + .pyi from scripts/gen-proto (do not edit)
    types.py                              ids, enums with the contract's values, dataclasses, 0001-epoch time
    errors.py                             PlatformError tree; ResponseHeader.code < 0 and gRPC errors mapped once
    _convert.py                           protobuf <-> types, the only module that knows both
    transfer.py                           chunked payload/model upload and download (bounded memory)
    client.py                             PlatformClient (grpc.aio): Clara, Pipelines, Jobs, Payloads, Models

Callers (dicom_adapter, clara_cli, tests) use `PlatformClient` and the types; `platform_server` uses the
generated servicers and the enums of `types` directly, and keeps its own error mapping.
"""

from __future__ import annotations

from platform_api.client import PlatformClient
from platform_api.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PlatformError,
    PlatformProtocolError,
    PlatformRequestError,
    PlatformTimeout,
    PlatformUnavailable,
    ResourceExhausted,
    Unauthenticated,
)
from platform_api.transfer import Progress
from platform_api.types import (
    CLARA_EPOCH_OFFSET,
    GpuProcess,
    GpuUtilization,
    JobDagNode,
    JobDetails,
    JobId,
    JobOperatorDetails,
    JobOperatorStatus,
    JobPriority,
    JobState,
    JobStatus,
    JobStatusDetails,
    JobToken,
    ModelDetails,
    ModelId,
    ModelType,
    PayloadDetails,
    PayloadFileDetails,
    PayloadId,
    PayloadType,
    PipelineDagNode,
    PipelineDefinitionFile,
    PipelineDetails,
    PipelineId,
    ResponseCode,
    Version,
    from_clara_seconds,
    to_clara_seconds,
)

__all__ = [
    "CLARA_EPOCH_OFFSET",
    "Conflict",
    "GpuProcess",
    "GpuUtilization",
    "InvalidArgument",
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
    "NotFound",
    "PayloadDetails",
    "PayloadFileDetails",
    "PayloadId",
    "PayloadType",
    "PermissionDenied",
    "PipelineDagNode",
    "PipelineDefinitionFile",
    "PipelineDetails",
    "PipelineId",
    "PlatformClient",
    "PlatformError",
    "PlatformProtocolError",
    "PlatformRequestError",
    "PlatformTimeout",
    "PlatformUnavailable",
    "Progress",
    "ResourceExhausted",
    "ResponseCode",
    "Unauthenticated",
    "Version",
    "from_clara_seconds",
    "to_clara_seconds",
]
