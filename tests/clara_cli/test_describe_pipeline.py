"""`clara describe pipeline`: the definition as openclara reads it (operators, types, requests, services)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from clara_cli.main import cli
from tests.platform_api.fake_platform import running_fake_platform
from tests.support.json_keys import not_snake_case

SAMPLES = Path(__file__).parent.parent / "platform_server" / "pipelines"


@pytest.fixture
def endpoint(clara_home: Path) -> Iterator[str]:
    with running_fake_platform() as (address, _state):
        yield address


def clara(endpoint: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--host", endpoint, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def create(endpoint: str, tmp_path: Path, sample: str, text: str | None = None) -> str:
    path = tmp_path / sample
    if text is None:
        shutil.copy(SAMPLES / sample, path)
    else:
        path.write_text(text)
    return clara(endpoint, "create", "pipeline", "-p", str(path)).stdout.strip()


def test_describe_shows_entrypoint_service_and_orchestrator_note(endpoint: str, tmp_path: Path) -> None:
    pipeline_id = create(endpoint, tmp_path, "ai-trtis.yaml")
    out = clara(endpoint, "describe", "pipeline", pipeline_id).stdout
    assert "api-version 0.4.0" in out
    assert ("orchestrator: openclara runs this pipeline with its own orchestrator (Clara's `Clara` is not used)"
            in out)
    assert "pull-secrets: ngc-clara" in out
    assert "operator spleen-segmentation: nvcr.io/example/ai-spleen:0.7.3-2011.5" in out
    assert "  command: (image entrypoint)" in out
    assert "  input:  /input <- job input" in out
    assert ("  service trtis: nvcr.io/nvidia/tensorrtserver:19.08-py3, command: trtserver "
            "'--model-store=$(NVIDIA_CLARA_SERVICE_DATA_PATH)/models', connections: NVIDIA_CLARA_TRTISURI -> port 8000"
            in out)
    assert "--- ai-trtis.yaml" in out  # the files are still printed


def test_describe_shows_types_and_requests(endpoint: str, tmp_path: Path) -> None:
    out = clara(endpoint, "describe", "pipeline", create(endpoint, tmp_path, "typed-0.5.0.yaml")).stdout
    assert "  input:  /input <- preprocess.image (array<f32>[-1,256,256])" in out
    assert "  output: image /output/image (array<float32>[1,256,256])" in out
    assert "  output: scores /output (stream<json> format json)" in out
    assert "  requests: cpu 2, gpu 1, memory 2048 MiB" in out
    assert "  command: python classify.py" in out


def test_describe_notes_api_version_030(endpoint: str, tmp_path: Path) -> None:
    text = (SAMPLES / "roi-split.yaml").read_text().replace("api-version: 0.4.0", "api-version: 0.3.0")
    out = clara(endpoint, "describe", "pipeline", create(endpoint, tmp_path, "roi.yaml", text)).stdout
    assert "api-version 0.3.0 (Argo in Clara) runs the same way as 0.4.0 here" in out
    assert "orchestrator:" not in out


def test_describe_json_keeps_old_keys_and_adds_operators(endpoint: str, tmp_path: Path) -> None:
    pipeline_id = create(endpoint, tmp_path, "ai-trtis.yaml")
    described = json.loads(clara(endpoint, "--output", "json", "describe", "pipeline", pipeline_id).stdout)
    assert {"pipeline_id", "name", "metadata", "dag", "definitions"} <= set(described)
    assert described["orchestrator"] == "Clara" and described["pull_secrets"] == ["ngc-clara"]
    (op,) = described["operators"]
    assert op["command"] == [] and op["services"][0]["connections"] == [{"name": "NVIDIA_CLARA_TRTISURI",
                                                                          "port": 8000}]


def test_describe_reports_a_definition_that_does_not_parse(endpoint: str, tmp_path: Path) -> None:
    pipeline_id = create(endpoint, tmp_path, "bad.yaml", "api-version: 0.4.0\nname: bad\noperators:\n- name: op\n")
    out = clara(endpoint, "describe", "pipeline", pipeline_id).stdout
    assert ("the definition does not parse here:\n"
            "  bad.yaml:4: operator 'op': `container` with an `image` is required") in out


def test_describe_json_keys_are_snake_case_all_the_way_down(endpoint: str, tmp_path: Path) -> None:
    pipeline_id = create(endpoint, tmp_path, "typed-0.5.0.yaml")
    described = json.loads(clara(endpoint, "--output", "json", "describe", "pipeline", pipeline_id).stdout)
    assert not_snake_case(described) == []
