"""The checked-in generated code matches the .proto sources and carries Clara's wire names."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import pytest

from platform_api._generated.nvidia.clara.platform import (
    clara_pb2,
    common_pb2,
    jobs_pb2,
    models_pb2,
    payloads_pb2,
    pipelines_pb2,
)
from platform_api._generated.nvidia.clara.platform.node_monitor import metrics_pb2

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "platform_api" / "_generated"


def _differences(left: Path, right: Path) -> list[str]:
    """Relative paths that differ between two trees (ignoring the READY marker and caches)."""
    ignore = ["READY", "__pycache__"]
    cmp = filecmp.dircmp(left, right, ignore=ignore)
    found: list[str] = []

    def walk(node: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(prefix + name for name in node.left_only + node.right_only)
        for name in node.common_files:
            if not filecmp.cmp(Path(node.left) / name, Path(node.right) / name, shallow=False):
                found.append(prefix + name)
        for name, sub in node.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(cmp, "")
    return found


def test_checked_in_code_is_up_to_date(tmp_path: Path) -> None:
    """Fails when a .proto changed without `scripts/gen-proto` being re-run."""
    out = tmp_path / "generated"
    subprocess.run([str(ROOT / "scripts" / "gen-proto"), str(out)], check=True, capture_output=True, timeout=120)
    stale = _differences(GENERATED, out)
    assert not stale, f"platform_api/_generated is stale, run scripts/gen-proto: {stale}"


@pytest.mark.parametrize(
    ("module", "service", "methods"),
    [
        (clara_pb2, "Clara", {"Stop", "Utilization", "Version"}),
        (
            jobs_pb2,
            "Jobs",
            {"AddMetadata", "Cancel", "Create", "List", "ReadLogs", "RemoveMetadata", "Start", "Status"},
        ),
        (
            payloads_pb2,
            "Payloads",
            {"AddMetadata", "Create", "Delete", "Details", "Download", "Remove", "RemoveMetadata", "Upload"},
        ),
        (
            pipelines_pb2,
            "Pipelines",
            {"AddMetadata", "Create", "Details", "List", "Remove", "RemoveMetadata", "Update"},
        ),
    ],
)
def test_full_method_names_match_clara(module: object, service: str, methods: set[str]) -> None:
    descriptor = module.DESCRIPTOR.services_by_name[service]  # type: ignore[attr-defined]
    assert {m.name for m in descriptor.methods} == methods
    for method in descriptor.methods:
        assert method.full_name == f"nvidia.clara.platform.{service}.{method.name}"


def test_grpc_paths_are_clara_paths() -> None:
    """The HTTP/2 paths a Clara client calls: `/nvidia.clara.platform.Jobs/Create` etc."""
    from platform_api._generated.nvidia.clara.platform import jobs_pb2_grpc

    calls: list[str] = []

    class RecordingChannel:
        def unary_unary(self, path: str, **_: object) -> None:
            calls.append(path)

        unary_stream = stream_unary = stream_stream = unary_unary

    jobs_pb2_grpc.JobsStub(RecordingChannel())
    assert "/nvidia.clara.platform.Jobs/Create" in calls
    assert "/nvidia.clara.platform.Jobs/ReadLogs" in calls


def test_streaming_directions() -> None:
    def kind(module: object, service: str, name: str) -> tuple[bool, bool]:
        method = module.DESCRIPTOR.services_by_name[service].methods_by_name[name]  # type: ignore[attr-defined]
        return method.client_streaming, method.server_streaming

    assert kind(payloads_pb2, "Payloads", "Upload") == (True, False)
    assert kind(payloads_pb2, "Payloads", "Download") == (False, True)
    assert kind(payloads_pb2, "Payloads", "Details") == (False, True)
    assert kind(pipelines_pb2, "Pipelines", "Create") == (True, False)
    assert kind(pipelines_pb2, "Pipelines", "Update") == (True, False)
    assert kind(pipelines_pb2, "Pipelines", "List") == (False, True)
    assert kind(jobs_pb2, "Jobs", "List") == (False, True)
    assert kind(jobs_pb2, "Jobs", "ReadLogs") == (False, True)
    assert kind(clara_pb2, "Clara", "Utilization") == (False, True)
    assert kind(models_pb2, "Models", "UploadModel") == (True, False)
    assert kind(models_pb2, "Models", "DownloadModel") == (False, True)
    assert kind(metrics_pb2, "Monitor", "GpuMetrics") == (False, True)


def test_field_numbers_and_wire_types_of_key_messages() -> None:
    """A few fields whose numbers are not sequential in Clara's contract."""
    fields = jobs_pb2.JobsStatusResponse.DESCRIPTOR.fields_by_name
    assert {name: fields[name].number for name in ("messages", "priority", "created", "operator_details", "dag")} == {
        "messages": 8,
        "priority": 9,
        "created": 13,
        "operator_details": 16,
        "dag": 18,
    }
    assert payloads_pb2.PayloadsCreateResponse.DESCRIPTOR.fields_by_name["type"].number == 5
    assert models_pb2.ModelDetails.DESCRIPTOR.fields_by_name["metadata"].number == 8
    assert models_pb2.ModelsUploadModelRequest.DESCRIPTOR.fields_by_name["data"].number == 4
    gpu = clara_pb2.ClaraUtilizationResponse.GpuUtilization.DESCRIPTOR.fields_by_name
    assert (gpu["compute_utilization"].number, gpu["timestamp"].number, gpu["process_details"].number) == (6, 11, 12)
    # sint32/sint64 (zig-zag) matter on the wire: a negative code must decode as negative.
    header = common_pb2.ResponseHeader(code=-3, messages=["nope"])
    assert header.SerializeToString() == b"\x08\x05\x12\x04nope"
    assert common_pb2.Timestamp(value=-1).SerializeToString() == b"\x08\x01"
