from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from results_service.__main__ import cli


def test_config_validate_reports_every_problem(tmp_path: Path, clara_home: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("port: 70000\nlease:\n  seconds: -1\n")
    result = CliRunner().invoke(cli, ["config", "validate", "-f", str(path)])
    assert result.exit_code == 2
    assert "2 configuration error(s)" in result.output
    assert "port" in result.output and "lease.seconds" in result.output


def test_config_show_prints_effective_settings(clara_home: Path) -> None:
    result = CliRunner().invoke(cli, ["config", "show"], env={"CLARA_RESULTS_PORT": "9999"})
    assert result.exit_code == 0
    assert '"port": 9999' in result.output


def test_serve_reports_busy_port(tmp_path: Path, clara_home: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        path = tmp_path / "r.yaml"
        path.write_text(f"port: {port}\ncleanup:\n  enabled: false\ndatabase:\n  path: {tmp_path / 'r.db'}\n")
        result = CliRunner().invoke(cli, ["serve", "-f", str(path)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_missing_optional_server_package_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clara_home: Path
) -> None:
    import importlib.util

    from results_service.__main__ import _loop_factory
    from results_service.settings import ResultsSettings

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "uvloop" else real(name))
    assert _loop_factory(ResultsSettings()) is None  # "auto" falls back to asyncio's loop
    with pytest.raises(SystemExit) as exit_info:
        _loop_factory(ResultsSettings(event_loop="uvloop"))
    assert exit_info.value.code == 2
    assert "uvloop is configured but not installed" in capsys.readouterr().err


def test_serve_reports_an_unusable_database_in_one_line(tmp_path: Path, clara_home: Path) -> None:
    path = tmp_path / "r.yaml"
    database = tmp_path / "missing" / "dir" / "r.db"
    path.write_text(f"port: 0\ncleanup:\n  enabled: false\ndatabase:\n  path: {database}\n")
    (tmp_path / "missing").write_text("a file where a folder should be")
    result = CliRunner().invoke(cli, ["serve", "-f", str(path)])
    assert result.exit_code == 1
    assert "results-service: cannot start: cannot open task database" in result.output
    assert "CLARA_RESULTS_DATABASE__PATH" in result.output
    assert "Traceback" not in result.output
