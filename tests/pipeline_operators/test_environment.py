"""Operator folders from command-line flags and NVIDIA_CLARA_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_operators.environment import NamedPath, load_environment, parse_paths
from pipeline_operators.errors import EnvironmentConfigError


def test_parse_paths_accepts_named_pairs_and_plain_paths() -> None:
    value = "payload:/data/in;dicom-reader:/data/ops/reader/volumes,/plain/path\n/other"
    assert parse_paths(value) == (
        NamedPath("payload", Path("/data/in")),
        NamedPath("dicom-reader", Path("/data/ops/reader/volumes")),
        NamedPath("", Path("/plain/path")),
        NamedPath("", Path("/other")),
    )


def test_parse_paths_keeps_a_path_with_a_colon_whole() -> None:
    assert parse_paths("/data/a:b") == (NamedPath("", Path("/data/a:b")),)


def test_flags_override_the_platform_variables(tmp_path: Path) -> None:
    flag_in, env_in = tmp_path / "flag", tmp_path / "env"
    flag_in.mkdir()
    env_in.mkdir()
    env = {"NVIDIA_CLARA_INPUTPATHS": f"payload:{env_in}", "NVIDIA_CLARA_OUTPUTPATHS": f"out:{tmp_path / 'o'}"}
    loaded = load_environment([flag_in], tmp_path / "flag-out", env)
    assert loaded.input == flag_in
    assert loaded.output == tmp_path / "flag-out"
    assert (tmp_path / "flag-out").is_dir()


def test_environment_variables_are_used_without_flags(tmp_path: Path) -> None:
    env = {
        "NVIDIA_CLARA_INPUTPATHS": f"payload:{tmp_path}",
        "NVIDIA_CLARA_OUTPUTPATHS": f"labels:{tmp_path / 'out'}",
        "NVIDIA_CLARA_JOBID": "job-1",
        "NVIDIA_CLARA_MODEL_REPOSITORY": "/models",
    }
    loaded = load_environment((), None, env)
    assert loaded.input_named("payload") == tmp_path
    assert loaded.outputs[0].name == "labels"
    assert loaded.job_id == "job-1"
    assert loaded.model_repository == Path("/models")


def test_missing_input_names_the_flag_and_the_variable() -> None:
    with pytest.raises(EnvironmentConfigError, match="pass --input DIR or set NVIDIA_CLARA_INPUTPATHS"):
        load_environment((), Path("/tmp/x"), {})


def test_missing_output_names_the_flag_and_the_variable(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentConfigError, match="pass --output DIR or set NVIDIA_CLARA_OUTPUTPATHS"):
        load_environment([tmp_path], None, {})


def test_input_folder_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentConfigError, match="input folder does not exist: .*nowhere"):
        load_environment([tmp_path / "nowhere"], tmp_path, {})
