"""compat_pipelines: the definitions parse with our validator and their one-line operators work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from platform_server.pipelines.definition import parse, resolve
from tests.compat.compat_pipelines import SUMMARY_FILE, sleeper_pipeline, two_operator_pipeline


def _run(command: list[str], src: Path, dst: Path, env: dict[str, str] | None = None) -> str:
    argv = [sys.executable, *command[1:3], str(src), str(dst)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_two_operator_pipeline_is_a_valid_definition_with_a_parameter() -> None:
    definition = parse([("p.yaml", two_operator_pipeline("compat"))])
    assert [op.name for op in definition.operators] == ["upper", "summary"]
    resolved = resolve(definition, {"SUFFIX": "!"})
    assert resolved.operators[1].variables["SUFFIX"] == "!"


def test_sleeper_pipeline_is_a_valid_definition() -> None:
    assert [op.name for op in parse([("s.yaml", sleeper_pipeline("s"))]).operators] == ["sleeper"]


def test_operators_upper_then_summarise_the_payload(tmp_path: Path) -> None:
    operators = yaml.safe_load(two_operator_pipeline("compat"))["operators"]
    payload, upper, summary = tmp_path / "input", tmp_path / "upper", tmp_path / "summary"
    for folder in (payload / "shared", upper, summary):
        folder.mkdir(parents=True)
    (payload / "a.txt").write_bytes(b"hello")
    (payload / "shared" / "ref.txt").write_bytes(b"ref")
    assert "upper shared/ref.txt" in _run(operators[0]["container"]["command"], payload, upper)
    assert (upper / "a.txt").read_bytes() == b"HELLO"
    assert "summary of 2 files" in _run(operators[1]["container"]["command"], upper, summary, {"SUFFIX": "!"})
    assert json.loads((summary / SUMMARY_FILE).read_text()) == {"files": {"a.txt": 5, "shared/ref.txt": 3},
                                                                "suffix": "!"}
