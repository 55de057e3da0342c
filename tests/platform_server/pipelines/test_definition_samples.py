"""Pipelines shaped like those in Clara's documentation load unchanged (the YAML files beside this test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_server.pipelines.definition import parse, resolve
from platform_server.pipelines.spec import Connection, PipelineDefinition, Resources
from platform_server.pipelines.typed_io import io_environment

SAMPLES = Path(__file__).parent


def load(name: str, **variables: str) -> PipelineDefinition:
    return resolve(parse([(name, (SAMPLES / name).read_text())]), variables)


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.yaml")))
def test_every_sample_parses_and_resolves(name: str) -> None:
    assert load(name).operators


def test_ai_operator_with_trtis_service_and_image_entrypoint() -> None:
    definition = load("ai-trtis.yaml")
    (op,) = definition.operators
    assert op.command == () and op.reference == "nvcr.io/example/ai-spleen:0.7.3-2011.5"
    assert definition.orchestrator == "Clara" and definition.pull_secrets == ("ngc-clara",)
    (service,) = op.services
    assert service.reference == "nvcr.io/nvidia/tensorrtserver:19.08-py3"
    assert service.command == ("trtserver", "--model-store=$(NVIDIA_CLARA_SERVICE_DATA_PATH)/models")
    assert service.requests == Resources(gpu=1)
    assert service.connections == (Connection("NVIDIA_CLARA_TRTISURI", 8000),)


def test_typed_pipeline() -> None:
    definition = load("typed-0.5.0.yaml")
    classify = definition.operator("classify")
    assert classify.requests == Resources(cpu=2, gpu=1, memory=2048)
    assert set(io_environment(classify)) == {"NVIDIA_CLARA_INPUTTYPES", "NVIDIA_CLARA_OUTPUTTYPES"}


def test_fan_in_with_templated_image_tag_and_command() -> None:
    definition = load("fan-in-template.yaml", TAG="3.0")
    report = definition.operator("report")
    assert report.reference == "registry.example.org/genomics/reporter:3.0-slim"
    assert report.command == ("report", "--title", "hg38 report")
    assert definition.operator("call-variants").command == ("call", "--threads", "4")
    assert definition.dag.parents["report"] == ("align", "call-variants")


def test_roi_splitter_feeding_four_operators_then_register_results() -> None:
    definition = load("roi-split.yaml")
    assert definition.pull_secrets == ("ngc-clara",)
    assert definition.dag.children("roi-splitter") == ("ai-liver", "ai-spleen", "ai-kidney", "ai-pancreas")
    assert definition.dag.order()[-1] == "register-results"
    assert definition.operator("register-results").command == ("python", "register.py", "--agent", "renderserver")
    assert definition.operator("roi-merger").variables == {"ROI_OPERATION": "merge"}
