"""`clara console start|status|stop`: the web console as a background process on the CLI's endpoints."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from clara_cli.main import cli
from tests.conftest import free_port


def test_start_serves_the_login_page_then_stop_ends_it(clara_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("CLARA_CONSOLE__PORT", str(port))
    runner = CliRunner()
    started = runner.invoke(cli, ["console", "start"])
    try:
        assert started.exit_code == 0, started.output
        assert f"http://127.0.0.1:{port}" in started.output
        assert "credentials.yaml" in started.output
        login = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert login.status_code == 200 and "API token" in login.text
        assert httpx.get(f"http://127.0.0.1:{port}/jobs", timeout=5).status_code == 401  # no session
        status = runner.invoke(cli, ["console", "status"])
        assert "running (pid" in status.output and "answers" in status.output
    finally:
        stopped = runner.invoke(cli, ["console", "stop"])
    assert stopped.output.strip() == "console stopped"
    assert "not started" in runner.invoke(cli, ["console", "status"]).output
