"""What a new user runs first, through real processes: the platform's entry point like the other
services' (`config validate|show`, `-h`), and `clara delete payload` against a real platform."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from clara_cli.main import cli
from clara_cli.platform import DAEMON
from tests.conftest import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def platform_server(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "platform_server", *args], capture_output=True, text=True, timeout=60, cwd=REPO
    )


def test_platform_entry_point_matches_the_other_services(clara_home: Path, tmp_path: Path) -> None:
    shipped = REPO / "config" / "platform-server.yaml"
    valid = platform_server("config", "validate", "-f", str(shipped))
    assert (valid.returncode, valid.stdout) == (0, f"{shipped}: configuration is valid\n")
    shown = platform_server("config", "show", "-f", str(shipped))
    assert json.loads(shown.stdout)["server"]["port"] == 30031
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  bogus: 1\n")
    invalid = platform_server("config", "validate", "-f", str(bad))
    assert invalid.returncode == 2 and "  - server.bogus:" in invalid.stderr
    helped = platform_server("-h")
    assert helped.returncode == 0 and "config" in helped.stdout and "check-config" not in helped.stdout
    assert json.loads(platform_server("check-config").stdout) == json.loads(platform_server("config", "show").stdout)


@pytest.fixture
def endpoint(clara_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    monkeypatch.setenv("CLARA_PLATFORM_SERVER__PORT", str(port))
    address = f"127.0.0.1:{port}"
    started = CliRunner().invoke(cli, ["--host", address, "platform", "start"])
    assert started.exit_code == 0, started.output + DAEMON.tail()
    try:
        yield address
    finally:
        CliRunner().invoke(cli, ["--host", address, "platform", "stop"])


def clara(endpoint: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--host", endpoint, *args])


def test_delete_payload_removes_it_from_the_platform(endpoint: str, tmp_path: Path) -> None:
    definition = tmp_path / "p.yaml"
    definition.write_text(
        textwrap.dedent(
            """
            api-version: 0.4.0
            name: first-run
            operators:
              - name: noop
                container: {image: local, tag: "1", command: ["python", "-c", "pass"]}
                input: [{path: /input}]
            """
        )
    )
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.dcm").write_bytes(b"x" * 100)
    pipeline = clara(endpoint, "create", "pipeline", "-p", str(definition))
    assert pipeline.exit_code == 0, pipeline.output
    created = clara(endpoint, "-O", "json", "create", "job", "-p", pipeline.stdout.strip(), "-n", "j", "-f",
                    str(tmp_path / "in"))
    assert created.exit_code == 0, created.output
    payload_id = json.loads(created.stdout)["payload_id"]
    deleted = clara(endpoint, "delete", "payload", "-p", payload_id)
    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout == f"DELETED  {payload_id}\n"
    again = clara(endpoint, "delete", "payload", "-p", payload_id)
    assert again.exit_code == 1
    assert again.stderr.startswith("error: ") and payload_id in again.stderr
