"""`python -m platform_server`: configuration errors, shipped defaults and env overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from platform_server.__main__ import cli


def test_bad_config_prints_every_error_and_exits_2(tmp_path: Path, clara_home: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text("server:\n  port: 99999\nscheduler:\n  max_concurrent_jobs: 0\n  gpus: lots\ntypo: 1\n")
    result = CliRunner().invoke(cli, ["serve", "-f", str(config)])
    assert result.exit_code == 2
    assert "platform-server: invalid configuration" in result.output
    for key in ("server.port", "scheduler.max_concurrent_jobs", "scheduler.gpus", "typo"):
        assert f"  - {key}" in result.output


def test_invalid_yaml_names_line(tmp_path: Path, clara_home: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text("server:\n  port: [\n")
    result = CliRunner().invoke(cli, ["check-config", "-f", str(config)])
    assert result.exit_code == 2
    assert f"{config}:3:1: invalid YAML" in result.output


def test_shipped_config_equals_embedded_defaults(clara_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = Path(__file__).parents[2] / "config" / "platform-server.yaml"
    with_file = CliRunner().invoke(cli, ["check-config", "-f", str(shipped)])
    embedded = CliRunner().invoke(cli, ["check-config"])
    assert with_file.exit_code == embedded.exit_code == 0
    assert json.loads(with_file.output) == json.loads(embedded.output)


def test_environment_overrides_nested_keys(clara_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARA_PLATFORM_SCHEDULER__MAX_CONCURRENT_JOBS", "7")
    result = CliRunner().invoke(cli, ["check-config"])
    assert json.loads(result.output)["scheduler"]["max_concurrent_jobs"] == 7


def test_config_validate_and_show_like_the_other_services(clara_home: Path) -> None:
    shipped = Path(__file__).parents[2] / "config" / "platform-server.yaml"
    valid = CliRunner().invoke(cli, ["config", "validate", "-f", str(shipped)])
    assert valid.exit_code == 0
    assert valid.output == f"{shipped}: configuration is valid\n"
    assert CliRunner().invoke(cli, ["config", "validate"]).output == "built-in defaults: configuration is valid\n"
    shown = CliRunner().invoke(cli, ["config", "show", "-f", str(shipped)])
    assert shown.exit_code == 0
    assert json.loads(shown.output) == json.loads(CliRunner().invoke(cli, ["check-config"]).output)


def test_config_validate_lists_errors_and_exits_2(tmp_path: Path, clara_home: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text("server:\n  port: 99999\n")
    result = CliRunner().invoke(cli, ["config", "validate", "-f", str(config)])
    assert result.exit_code == 2
    assert "platform-server: invalid configuration" in result.output and "  - server.port" in result.output


def test_short_help_option_and_check_config_is_hidden() -> None:
    result = CliRunner().invoke(cli, ["-h"])
    assert result.exit_code == 0
    assert "config  Check or print the effective configuration." in result.output
    assert "check-config" not in result.output
    assert CliRunner().invoke(cli, ["config", "validate", "-h"]).exit_code == 0


def test_container_executor_without_an_engine_is_one_line_and_exit_1(tmp_path: Path, clara_home: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text("server:\n  port: 0\nexecutor:\n  kind: container\n  container:\n"
                      f"    engine: {tmp_path / 'no-podman'}\n")
    result = CliRunner().invoke(cli, ["serve", "-f", str(config)])
    assert result.exit_code == 1
    assert f"container engine '{tmp_path / 'no-podman'}' is not installed or not on PATH" in result.output
    assert "Traceback" not in result.output
