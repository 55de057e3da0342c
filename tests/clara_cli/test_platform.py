"""`clara version`, `clara platform status|stop` without a server, and the model commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from clara_cli.config import ClientConfig
from clara_cli.context import CliContext
from clara_cli.main import cli
from clara_cli.platform import parse_model_type, served_endpoint, transfer_progress
from platform_api import ModelType
from tests.conftest import free_port
from tests.platform_api.fake_platform import FakeState, running_fake_platform


@pytest.fixture
def fake(clara_home: Path) -> Iterator[tuple[str, FakeState]]:
    with running_fake_platform() as running:
        yield running


def test_version_shows_client_and_platform(fake: tuple[str, FakeState]) -> None:
    result = CliRunner().invoke(cli, ["--host", fake[0], "--output", "json", "version"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["platform"] == "0.8.1" and shown["endpoint"] == fake[0] and shown["client"]


def test_version_with_platform_down(clara_home: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["--host", endpoint, "version"])
    assert result.exit_code == 1
    assert "PLATFORM  unreachable" in result.stdout
    assert result.stderr == (
        f"error: cannot reach the platform at {endpoint} "
        "(start it with `clara platform start`, or the whole stack with `scripts/run` (`openclara up`))\n"
    )


def test_status_and_stop_when_not_running(clara_home: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    status = CliRunner().invoke(cli, ["--host", endpoint, "--output", "json", "platform", "status"])
    assert status.exit_code == 1
    assert json.loads(status.stdout) == {
        "endpoint": endpoint, "answering": False, "log": "none", "pid": None,
        "run_by": "not started on this machine (or under another CLARA_HOME)",
        "hint": "start it with `clara platform start`, or the whole stack with `scripts/run` (`openclara up`)",
    }
    stop = CliRunner().invoke(cli, ["platform", "stop", "-y"])
    assert (stop.exit_code, stop.stdout) == (0, "platform is not running\n")


def test_models_create_list_delete(fake: tuple[str, FakeState], tmp_path: Path) -> None:
    model = tmp_path / "liver.onnx"
    model.write_bytes(b"weights")
    created = CliRunner().invoke(
        cli,
        [
            "--host",
            fake[0],
            "--output",
            "json",
            "create",
            "model",
            "-f",
            str(model),
            "-n",
            "liver",
            "--type",
            "tensor-rt",
        ],
    )
    assert created.exit_code == 0, created.output
    model_id = json.loads(created.stdout)["model_id"]
    listed = CliRunner().invoke(cli, ["--host", fake[0], "--output", "json", "list", "models"])
    assert json.loads(listed.stdout) == [{"name": "liver", "id": model_id, "type": "tensor_rt"}]
    deleted = CliRunner().invoke(cli, ["--host", fake[0], "delete", "model", "-m", model_id])
    assert deleted.exit_code == 0
    again = CliRunner().invoke(cli, ["--host", fake[0], "delete", "model", "-m", model_id])
    assert (again.exit_code, again.stderr) == (1, "error: model not found\n")


@pytest.mark.parametrize(
    ("text", "kind"),
    [("tensorflow", ModelType.TENSOR_FLOW), ("TensorRT", ModelType.TENSOR_RT), ("py_torch", ModelType.PY_TORCH)],
)
def test_model_types_parse_loosely(text: str, kind: ModelType) -> None:
    assert parse_model_type(text) is kind


def test_unknown_model_type_lists_choices() -> None:
    with pytest.raises(click.BadParameter, match="choose one of: tensorflow, tensorrt, pytorch"):
        parse_model_type("onnx")


def test_start_waits_for_the_port_in_the_server_config(clara_home: Path, tmp_path: Path) -> None:

    config = tmp_path / "platform.yaml"
    config.write_text("server:\n  host: 0.0.0.0\n  port: 40123\n")
    cli_ctx = CliContext(config=ClientConfig(platform="127.0.0.1:30031"), output="table")
    assert served_endpoint(cli_ctx, config) == "127.0.0.1:40123"
    assert served_endpoint(cli_ctx, None) == "127.0.0.1:30031"
    config.write_text("server: [oops\n")
    with pytest.raises(click.ClickException, match="platform.yaml"):
        served_endpoint(cli_ctx, config)


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with transfer_progress("uploading", 10) as advance:
        advance(10)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("FORCE_COLOR", "1")
    with transfer_progress("uploading", 10) as advance:
        advance(10)
    assert "uploading" in capsys.readouterr().err
