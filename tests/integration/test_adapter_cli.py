"""`clara dicom start|status|create|list|delete|stop` against a real adapter process in the background."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from clara_cli.main import cli
from tests.support.harness import free_port

pytestmark = pytest.mark.integration

PIPELINE = "0123456789abcdef" * 2  # well-formed; the platform of this test is not running


def test_clara_dicom_lifecycle_and_config_commands(tmp_path, clara_home, monkeypatch):
    api_port, dicom_port = free_port(), free_port()
    config = tmp_path / "adapter.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "scp": {"port": dicom_port},
                "api": {"port": api_port},
                "platform": {"endpoint": f"127.0.0.1:{free_port()}"},  # nothing there: config still works
                "export": {"enabled": False},
            }
        )
    )
    monkeypatch.setenv("CLARA_DICOM_ENDPOINT", f"http://127.0.0.1:{api_port}")
    runner = CliRunner()
    down = runner.invoke(cli, ["dicom", "list", "aetitles"])
    assert down.exit_code == 1 and "not reachable" in down.output
    started = runner.invoke(cli, ["dicom", "start", "-f", str(config)])
    assert started.exit_code == 0, started.output
    try:
        assert (clara_home / "run" / "dicom-adapter.pid").exists()
        status = runner.invoke(cli, ["-O", "json", "dicom", "status"])
        assert status.exit_code == 0 and json.loads(status.output)["active_associations"] == 0
        assert json.loads(status.output)["spare_files"] == 2048  # the default pool, made at start
        malformed = runner.invoke(cli, ["dicom", "create", "aetitle", "-a", "X", "pipeline-x=nonsense"])
        assert malformed.exit_code == 1
        assert malformed.output.startswith(
            "error: processorSettings.pipeline-x: pipeline id 'nonsense' is not a Clara identifier"
        )
        aetitle = ["dicom", "create", "aetitle", "-a", "CLARA", f"pipeline-seg={PIPELINE}", "timeout=2"]
        bad_delay = runner.invoke(cli, [*aetitle, "jobRetryDelay=1.5"])
        assert bad_delay.exit_code == 1
        assert bad_delay.output.startswith(
            "error: processorSettings.jobRetryDelay: '1.5' is not a whole number of milliseconds"
        )
        created = runner.invoke(cli, [*aetitle, "jobRetryDelay=1000"])
        assert created.exit_code == 0, created.output
        assert created.output == "Clara AE title CLARA created\n"
        bad = runner.invoke(cli, ["dicom", "create", "src", "-a", "PACS", "-i", "not a host"])
        assert bad.exit_code == 1 and "hostIp" in bad.output
        assert runner.invoke(cli, ["dicom", "create", "src", "-a", "PACS", "-i", "10.0.0.0/24"]).exit_code == 0
        assert runner.invoke(
            cli, ["dicom", "create", "dest", "-n", "OUT", "-a", "OUT", "-i", "127.0.0.1", "-p", "104"]
        ).exit_code == 0
        listed = runner.invoke(cli, ["-O", "json", "dicom", "list", "aetitles"])
        assert [a["pipelines"] for a in json.loads(listed.output)] == [{"seg": PIPELINE}]
        assert [a["job_retry_delay_ms"] for a in json.loads(listed.output)] == [1000]  # a number, docs/cli.md
        wide = runner.invoke(cli, ["-O", "wide", "dicom", "list", "aetitles"]).output
        assert "JOBRETRYDELAYMS" in wide.replace(" ", "") and f"seg={PIPELINE}" in wide
        assert runner.invoke(cli, ["dicom", "list", "src"]).exit_code == 0
        assert runner.invoke(cli, ["dicom", "delete", "source", "-n", "PACS"]).exit_code == 0
        assert json.loads(runner.invoke(cli, ["-O", "json", "dicom", "list", "src"]).output) == []
        assert "adapter.started" in runner.invoke(cli, ["dicom", "logs"]).output
        # C-ECHO through the adapter (pynetdicom) to the adapter's own SCP: refused until ClaraSCU is a source.
        self_dest = ["dicom", "create", "dest", "-n", "SELF", "-a", "CLARA", "-i", "127.0.0.1", "-p", str(dicom_port)]
        assert runner.invoke(cli, self_dest).exit_code == 0
        refused = runner.invoke(cli, ["dicom", "echo", "-n", "SELF"])
        assert refused.exit_code == 1 and "rejected" in refused.output
        assert runner.invoke(cli, ["dicom", "create", "src", "-a", "ClaraSCU", "-i", "127.0.0.1"]).exit_code == 0
        echoed = runner.invoke(cli, ["dicom", "echo", "-n", "self"])
        assert echoed.exit_code == 0 and "C-ECHO succeeded" in echoed.output
    finally:
        stopped = runner.invoke(cli, ["dicom", "stop"])
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    assert not (clara_home / "run" / "dicom-adapter.pid").exists()


@pytest.mark.parametrize(
    ("taken", "what", "setting"),
    [
        ("api", "REST API port", "api.port / CLARA_DICOM_API__PORT"),
        ("scp", "DICOM port", "scp.port / CLARA_DICOM_SCP__PORT"),
    ],
)
def test_taken_port_is_named_with_the_setting_that_moves_it(tmp_path, clara_home, taken, what, setting):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {
            **os.environ,
            "CLARA_HOME": str(clara_home),
            "CLARA_DICOM_EXPORT__ENABLED": "false",
            "CLARA_DICOM_API__PORT": str(port if taken == "api" else 0),
            "CLARA_DICOM_SCP__PORT": str(port if taken == "scp" else 0),
        }
        result = subprocess.run(
            [sys.executable, "-m", "dicom_adapter", "serve"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"dicom-adapter: cannot listen on 127.0.0.1:{port} ({what}): Address already in use; "
        f"set {setting} to another port"
    )
