"""protobuf <-> `platform_api.types`: the only place that knows both shapes.

Generated messages are untyped for mypy (generated code is fenced off), so every value leaving
this module is converted explicitly (`str(...)`, `int(...)`, enum `from_wire`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from platform_api._generated.nvidia.clara.platform import common_pb2, models_pb2
from platform_api.errors import InvalidArgument
from platform_api.types import (
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
    ModelDetails,
    ModelId,
    ModelType,
    PayloadFileDetails,
    PayloadId,
    PipelineDagNode,
    PipelineDefinitionFile,
    PipelineDetails,
    PipelineId,
    Version,
    from_clara_seconds,
    to_clara_seconds,
)

_DASHED_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

PipelineSource = Mapping[str, str] | Path | Sequence[Path]
"""Definition files: {path: yaml_text}, one file, or several files."""

API_VERSION = Version(0, 6, 0)
USER_AGENT = "openclara"


def request_header(user_agent: str = USER_AGENT, version: Version = API_VERSION) -> Any:
    return common_pb2.RequestHeader(
        api_version=common_pb2.Version(
            major=version.major, minor=version.minor, patch=version.patch, label=version.label
        ),
        user_agent=user_agent,
    )


def canonical_id(value: str) -> str:
    """Clara ids are 32 hex digits without dashes; accept the dashed UUID form people paste too."""
    value = value.strip()
    if _DASHED_UUID.fullmatch(value):
        return value.replace("-", "").lower()
    return value


def identifier(value: str) -> Any:
    return common_pb2.Identifier(value=canonical_id(value))


def timestamp(moment: datetime | None) -> Any:
    return common_pb2.Timestamp(value=to_clara_seconds(moment))


def moment(pb: Any) -> datetime | None:
    return from_clara_seconds(int(pb.value))


def metadata(pb_map: Any) -> dict[str, str]:
    return {str(key): str(value) for key, value in pb_map.items()}


def version(pb: Any) -> Version:
    return Version(int(pb.major), int(pb.minor), int(pb.patch), str(pb.label))


def _job_fields(pb: Any, name: str) -> dict[str, Any]:
    """The fields `JobsListResponse.JobDetails` and `JobsStatusResponse` share (the job's name aside)."""
    return {
        "job_id": JobId(str(pb.job_id.value)),
        "payload_id": _payload_id(pb.payload_id),
        "pipeline_id": PipelineId(str(pb.pipeline_id.value)),
        "name": name,
        "state": JobState.from_wire(pb.state),
        "status": JobStatus.from_wire(pb.status),
        "priority": JobPriority.from_wire(pb.priority),
        "created": moment(pb.created),
        "started": moment(pb.started),
        "stopped": moment(pb.stopped),
        "metadata": metadata(pb.metadata),
    }


def job_details(pb: Any) -> JobDetails:
    """`JobsListResponse.JobDetails` -> JobDetails."""
    return JobDetails(**_job_fields(pb, str(pb.job_name)))


def job_status(pb: Any) -> JobStatusDetails:
    """`JobsStatusResponse` -> JobStatusDetails."""
    return JobStatusDetails(
        **_job_fields(pb, str(pb.name)),
        operators=tuple(_operator(op) for op in pb.operator_details),
        dag=tuple(_job_dag_node(node) for node in pb.dag),
        messages=tuple(str(m) for m in pb.messages),
    )


def _payload_id(pb: Any) -> PayloadId:
    return PayloadId(str(pb.value))


def _operator(pb: Any) -> JobOperatorDetails:
    return JobOperatorDetails(
        name=str(pb.name),
        status=JobOperatorStatus.from_wire(pb.status),
        created=moment(pb.created),
        started=moment(pb.started),
        stopped=moment(pb.stopped),
    )


def _job_dag_node(pb: Any) -> JobDagNode:
    return JobDagNode(
        name=str(pb.name),
        input_dependencies=tuple(_job_dag_node(n) for n in pb.input_dependencies),
        order_dependencies=tuple(_job_dag_node(n) for n in pb.order_dependencies),
    )


def _pipeline_dag_node(pb: Any) -> PipelineDagNode:
    return PipelineDagNode(name=str(pb.name), next=tuple(_pipeline_dag_node(n) for n in pb.next))


def pipeline_summary(pb: Any) -> PipelineDetails:
    """`PipelinesListResponse.PipelineDetails` -> PipelineDetails (no definition)."""
    return PipelineDetails(
        pipeline_id=PipelineId(str(pb.pipeline_id.value)), name=str(pb.name), metadata=metadata(pb.metadata)
    )


def pipeline_details(responses: Iterable[Any]) -> PipelineDetails:
    """All messages of a `Pipelines.Details` stream (one per definition file) -> PipelineDetails."""
    items = list(responses)
    first = items[0]
    definitions = tuple(
        PipelineDefinitionFile(path=str(r.definition.path), content=str(r.definition.content))
        for r in items
        if r.HasField("definition")
    )
    return PipelineDetails(
        pipeline_id=PipelineId(str(first.pipeline_id.value)),
        name=str(first.name),
        metadata=metadata(first.metadata),
        definitions=definitions,
        dag=tuple(_pipeline_dag_node(n) for n in first.dag),
    )


def file_details(pb: Any) -> PayloadFileDetails:
    # Details names files rooted at the payload ("/input/a.dcm", as Clara did); our types keep them relative.
    return PayloadFileDetails(name=str(pb.name).lstrip("/"), size=int(pb.size), mode=int(pb.mode))


def model_details(pb: Any) -> ModelDetails:
    return ModelDetails(
        model_id=ModelId(str(pb.model_id.value)),
        name=str(pb.name),
        type=ModelType.from_wire(pb.type),
        metadata=metadata(pb.metadata),
    )


def model_details_pb(name: str, model_type: ModelType, meta: Mapping[str, str]) -> Any:
    return models_pb2.ModelDetails(name=name, type=models_pb2.ModelType.ValueType(int(model_type)), metadata=dict(meta))


def gpu_utilization(pb: Any) -> GpuUtilization:
    return GpuUtilization(
        node_id=str(pb.node_id),
        pcie_id=int(pb.pcie_id),
        compute_utilization=float(pb.compute_utilization),
        memory_free_mb=int(pb.memory_free),
        memory_used_mb=int(pb.memory_used),
        memory_utilization=float(pb.memory_utilization),
        timestamp=moment(pb.timestamp),
        processes=tuple(
            GpuProcess(name=str(p.name), job_id=JobId(str(p.job_id.value)) if p.job_id.value else None)
            for p in pb.process_details
        ),
    )


def definition_files(source: PipelineSource) -> list[tuple[str, str]]:
    if isinstance(source, Mapping):
        return [(str(path), str(content)) for path, content in source.items()]
    paths = [source] if isinstance(source, Path) else list(source)
    files = []
    for path in paths:
        try:
            files.append((path.name, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidArgument(0, [f"cannot read pipeline definition {path}: {exc}"]) from exc
    if not files:
        raise InvalidArgument(0, ["a pipeline needs at least one definition file"])
    return files
