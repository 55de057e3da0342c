"""`clara dicom start|status|create|list|delete|stop` against a real adapter process in the background."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from clara_cli.main import cli
from tests.dicom_adapter.harness import free_port

pytestmark = pytest.mark.integration


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
        created = runner.invoke(cli, ["dicom", "create", "aetitle", "-a", "CLARA", "pipeline-seg=abc", "timeout=2"])
        assert created.exit_code == 0, created.output
        bad = runner.invoke(cli, ["dicom", "create", "src", "-a", "PACS", "-i", "not a host"])
        assert bad.exit_code == 1 and "hostIp" in bad.output
        assert runner.invoke(cli, ["dicom", "create", "src", "-a", "PACS", "-i", "10.0.0.0/24"]).exit_code == 0
        assert runner.invoke(
            cli, ["dicom", "create", "dest", "-n", "OUT", "-a", "OUT", "-i", "127.0.0.1", "-p", "104"]
        ).exit_code == 0
        listed = runner.invoke(cli, ["-O", "json", "dicom", "list", "aetitles"])
        assert json.loads(listed.output)[0]["pipelines"] == "seg=abc"
        assert runner.invoke(cli, ["dicom", "delete", "src", "-n", "PACS"]).exit_code == 0
        assert json.loads(runner.invoke(cli, ["-O", "json", "dicom", "list", "sources"]).output) == []
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
