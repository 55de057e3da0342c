"""`openclara up` planning: settings -> listeners, port 0, wiring, taken ports, config errors, banner."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.stack import StackError, banner, check_ports, plan

WIRING = (
    "CLARA_PLATFORM_RESULTS_SERVICE__URL",
    "CLARA_RESULTS_PLATFORM_ENDPOINT",
    "CLARA_DICOM_PLATFORM__ENDPOINT",
    "CLARA_DICOM_RESULTS__ENDPOINT",
    "CLARA_CONSOLE__PLATFORM_ENDPOINT",
    "CLARA_CONSOLE__RESULTS_URL",
    "CLARA_CONSOLE__DICOM_API_URL",
    "CLARA_CONSOLE__PLATFORM_METRICS_URL",
)
PORTS = ("CLARA_PLATFORM_SERVER__PORT", "CLARA_RESULTS_PORT", "CLARA_DICOM_SCP__PORT", "CLARA_DICOM_API__PORT",
         "CLARA_CONSOLE__PORT")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, clara_home: Path) -> None:
    for name in WIRING + PORTS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_plan_defaults_without_config_files(tmp_path: Path) -> None:
    stack = plan(tmp_path)
    assert stack.cli_environment() == {
        "CLARA_PLATFORM_ENDPOINT": "127.0.0.1:30031",
        "CLARA_RESULTS_ENDPOINT": "http://127.0.0.1:8088",
        "CLARA_DICOM_ENDPOINT": "http://127.0.0.1:5000",
    }
    assert [s.config for s in stack.start_order] == [None, None, None, None]
    assert stack.platform.argv()[-2:] == ["platform_server", "serve"]
    assert [s.name for s in stack.stop_order] == ["console", "dicom", "platform", "results"]


def test_plan_runs_the_console_on_8000_wired_to_the_three_services(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARA_DICOM_API__PORT", "0")
    stack = plan(tmp_path)
    assert stack.console.argv()[-2:] == ["console", "serve"]
    assert stack.console.listeners[0].address == "http://127.0.0.1:8000"
    assert stack.console.env == {
        "CLARA_CONSOLE__PLATFORM_ENDPOINT": "127.0.0.1:30031",
        "CLARA_CONSOLE__RESULTS_URL": "http://127.0.0.1:8088",
        "CLARA_CONSOLE__DICOM_API_URL": stack.dicom.listeners[1].address,
        "CLARA_CONSOLE__PLATFORM_METRICS_URL": "http://127.0.0.1:30032/metrics",
    }
    assert "http://127.0.0.1:8000" in banner(stack)


def test_plan_points_the_console_at_the_platform_metrics_port_it_picked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the API on any free port the metrics port is any free one too, not the API's + 1: the console's
    overview is told which; without metrics there is nothing to tell."""
    monkeypatch.setenv("CLARA_PLATFORM_SERVER__PORT", "0")
    stack = plan(tmp_path)
    metrics = stack.platform.listeners[1]
    assert metrics.port != 0
    assert stack.platform.env["CLARA_PLATFORM_METRICS__PORT"] == str(metrics.port)
    assert stack.console.env["CLARA_CONSOLE__PLATFORM_METRICS_URL"] == f"http://127.0.0.1:{metrics.port}/metrics"
    monkeypatch.setenv("CLARA_PLATFORM_METRICS__ENABLED", "false")
    assert "CLARA_CONSOLE__PLATFORM_METRICS_URL" not in plan(tmp_path).console.env


def test_plan_checks_the_platform_metrics_port(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's port + 1 unless set, as the platform computes it."""
    (grpc, metrics) = plan(tmp_path).platform.listeners
    assert (grpc.address, metrics.address) == ("127.0.0.1:30031", "http://127.0.0.1:30032")
    assert metrics.env_var == "CLARA_PLATFORM_METRICS__PORT"
    monkeypatch.setenv("CLARA_PLATFORM_SERVER__PORT", "40000")
    assert plan(tmp_path, resolve_any_port=False).platform.listeners[-1].address == "http://127.0.0.1:40001"
    monkeypatch.setenv("CLARA_PLATFORM_METRICS__ENABLED", "false")
    assert len(plan(tmp_path).platform.listeners) == 1


def test_plan_passes_existing_config_files(tmp_path: Path) -> None:
    (tmp_path / "results-service.yaml").write_text("port: 8089\n")
    stack = plan(tmp_path)
    assert stack.results.argv()[-2:] == ["-f", str(tmp_path / "results-service.yaml")]
    assert stack.results.listeners[0].address == "http://127.0.0.1:8089"
    assert stack.platform.env["CLARA_PLATFORM_RESULTS_SERVICE__URL"] == "http://127.0.0.1:8089"


def test_plan_resolves_port_zero_and_wires_the_services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARA_PLATFORM_SERVER__PORT", "0")
    stack = plan(tmp_path)
    port = stack.platform.listeners[0].port
    assert port != 0
    assert stack.platform.env["CLARA_PLATFORM_SERVER__PORT"] == str(port)
    assert stack.dicom.env["CLARA_DICOM_PLATFORM__ENDPOINT"] == f"127.0.0.1:{port}"
    assert stack.results.env["CLARA_RESULTS_PLATFORM_ENDPOINT"] == f"127.0.0.1:{port}"


def test_plan_leaves_a_wiring_variable_the_user_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARA_DICOM_RESULTS__ENDPOINT", "http://results.example:8088")
    stack = plan(tmp_path)
    assert "CLARA_DICOM_RESULTS__ENDPOINT" not in stack.dicom.env
    assert stack.dicom.env["CLARA_DICOM_PLATFORM__ENDPOINT"] == "127.0.0.1:30031"


def test_plan_reaches_a_wildcard_listener_over_loopback(tmp_path: Path) -> None:
    (tmp_path / "dicom-adapter.yaml").write_text("scp:\n  host: 0.0.0.0\n  port: 104\n")
    assert plan(tmp_path).dicom.listeners[0].address == "127.0.0.1:104"


def test_plan_reports_every_service_config_error_together(tmp_path: Path) -> None:
    (tmp_path / "platform-server.yaml").write_text("server:\n  port: abc\n")
    (tmp_path / "dicom-adapter.yaml").write_text("scp: [\n")
    with pytest.raises(StackError) as info:
        plan(tmp_path)
    message = str(info.value)
    assert "nothing was started" in message
    assert "platform-server:" in message and "server.port" in message
    assert "dicom-adapter:" in message and "invalid YAML" in message
    assert "results-service" not in message


def test_wait_cannot_guess_port_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLARA_RESULTS_PORT", "0")
    with pytest.raises(StackError, match="set CLARA_RESULTS_PORT to a fixed port"):
        plan(tmp_path, resolve_any_port=False)


def test_check_ports_names_the_variable_of_a_taken_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listening: int
) -> None:
    for name in PORTS:
        monkeypatch.setenv(name, "0")
    monkeypatch.setenv("CLARA_RESULTS_PORT", str(listening))
    with pytest.raises(StackError) as info:
        check_ports(plan(tmp_path))
    message = str(info.value)
    assert f"results service 127.0.0.1:{listening}: the port is in use" in message
    assert "CLARA_RESULTS_PORT=<port>" in message
    assert "DICOM SCP" not in message


def test_check_ports_accepts_free_ports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PORTS:
        monkeypatch.setenv(name, "0")
    check_ports(plan(tmp_path))


def test_banner_tells_the_cli_about_non_default_endpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "export" not in banner(plan(tmp_path))
    monkeypatch.setenv("CLARA_DICOM_API__PORT", "5001")
    text = banner(plan(tmp_path))
    assert "adapter REST API     http://127.0.0.1:5001" in text
    assert "CLARA_DICOM_ENDPOINT=http://127.0.0.1:5001" in text


def test_banner_says_how_operators_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "operators run as     host processes (executor.kind: local)" in banner(plan(tmp_path))
    monkeypatch.setenv("CLARA_PLATFORM_EXECUTOR__KIND", "container")
    assert "podman containers (executor.kind: container" in banner(plan(tmp_path))
