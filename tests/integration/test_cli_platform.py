"""End to end through real processes: `clara platform start` runs `python -m platform_server serve`,
then the CLI creates a pipeline, a job from a folder, starts it, waits, downloads an output, reads logs."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from click.testing import CliRunner, Result

from clara_cli.main import cli
from clara_cli.platform import DAEMON
from openclara.auth.credentials import client_token
from tests.conftest import free_port
from tests.platform_api.test_wire import decode, field_bytes, zigzag

pytestmark = pytest.mark.integration

OPERATOR = textwrap.dedent(
    """
    import pathlib, sys
    source, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    names = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    for name in names:
        print("saw", name, flush=True)
    target.mkdir(parents=True, exist_ok=True)
    (target / "count.txt").write_text(str(len(names)))
    """
)


def _platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`clara platform start` on a free port under the current CLARA_HOME; `clara platform stop` after."""
    port = free_port()
    monkeypatch.setenv("CLARA_PLATFORM_SERVER__PORT", str(port))
    address = f"127.0.0.1:{port}"
    started = CliRunner().invoke(cli, ["--host", address, "platform", "start"])
    assert started.exit_code == 0, started.output + DAEMON.tail()
    try:
        yield address
    finally:
        stopped = CliRunner().invoke(cli, ["--host", address, "platform", "stop"])
        assert stopped.stdout == "platform stopped\n"


@pytest.fixture
def endpoint(clara_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A platform of the test's own, for tests that list what they created or restart it."""
    yield from _platform(monkeypatch)


@pytest.fixture(scope="module")
def shared_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One platform for the tests that only read or are refused: each start costs a second or two."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("CLARA_HOME", str(tmp_path_factory.mktemp("clara-home")))
        yield from _platform(monkeypatch)


def clara(endpoint: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--host", endpoint, *args])
    assert result.exit_code == 0, result.output
    return result


def clara_json(endpoint: str, *args: str) -> Any:
    return json.loads(clara(endpoint, "--output", "json", *args).stdout)


def wait_stopped(endpoint: str, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = clara_json(endpoint, "describe", "job", "-j", job_id)
        if job["state"] == "stopped":
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not stop within {timeout} s: {job}")


def test_cli_runs_a_job_end_to_end(endpoint: str, tmp_path: Path) -> None:
    script = tmp_path / "count.py"
    script.write_text(OPERATOR)
    definition = tmp_path / "count.yaml"
    definition.write_text(
        textwrap.dedent(
            f"""
            api-version: 0.4.0
            name: cli-e2e
            operators:
              - name: count
                container:
                  image: local
                  tag: "1"
                  command: ["python", "{script}", "/input", "/output"]
                input:
                  - path: /input
                output:
                  - path: /output
                    name: result
            """
        )
    )
    inputs = tmp_path / "study"
    (inputs / "s1").mkdir(parents=True)
    for index in range(3):
        (inputs / "s1" / f"{index}.dcm").write_bytes(b"x" * 1000)

    status = clara_json(endpoint, "platform", "status")
    assert status["answering"] is True and status["run_by"] == "clara platform start" and status["pid"]
    assert clara_json(endpoint, "version")["platform"]

    pipeline_id = clara(endpoint, "create", "pipelines", "-p", str(definition)).stdout.strip()
    assert [p["id"] for p in clara_json(endpoint, "list", "pipelines")] == [pipeline_id]

    created = clara_json(endpoint, "create", "job", "-p", pipeline_id, "-n", "e2e", "-f", str(inputs), "--start")
    job = wait_stopped(endpoint, created["job_id"])
    assert job["status"] == "healthy", job
    assert [op["status"] for op in job["operators"]] == ["completed"]

    dest = tmp_path / "out"
    clara(endpoint, "download", f"{created['job_id']}:/operators/count/**", str(dest))
    assert (dest / "result" / "count.txt").read_text() == "3"

    logs = clara(endpoint, "logs", "-j", created["job_id"], "-o", "count").stdout
    assert "saw s1/0.dcm" in logs and "saw s1/2.dcm" in logs

    listed = clara_json(endpoint, "list", "jobs", "--all")
    assert [j["job_id"] for j in listed] == [created["job_id"]]


def test_unknown_job_is_a_clear_error(shared_endpoint: str) -> None:
    result = CliRunner().invoke(cli, ["--host", shared_endpoint, "describe", "job", "-j", "0" * 32])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "0" * 32 in result.stderr
    assert "Traceback" not in result.output


def test_invalid_pipeline_names_file_and_line(shared_endpoint: str, tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("api-version: 0.4.0\nname: x\noperators:\n  - name: a\n    container: [unclosed\n")
    result = CliRunner().invoke(cli, ["--host", shared_endpoint, "create", "pipeline", "-p", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: broken.yaml:"), result.stderr
    assert "Traceback" not in result.output


def test_download_of_unknown_payload_is_a_clear_error(shared_endpoint: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--host", shared_endpoint, "download", f"{'1' * 32}:**", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "1" * 32 in result.stderr
    assert not (tmp_path / "o").exists()


def test_raw_protobuf_against_the_real_server(shared_endpoint: str) -> None:
    """Hand-encoded bytes on the Clara method paths, no generated code: the wire contract itself."""
    with grpc.insecure_channel(shared_endpoint) as channel:
        auth = [("authorization", f"Bearer {client_token()}")]
        version = channel.unary_unary("/nvidia.clara.platform.Clara/Version", None, None)(b"", timeout=10,
                                                                                           metadata=auth)
        # JobsStatusRequest{job_id=2: Identifier{value=1}} without any header, like Clara's metadata calls.
        status_request = field_bytes(2, field_bytes(1, b"2" * 32))
        status = channel.unary_unary("/nvidia.clara.platform.Jobs/Status", None, None)(status_request, timeout=10,
                                                                                       metadata=auth)
    fields = decode(version)
    header, version_bytes = fields.get(1, [b""])[0], fields[2][0]
    assert isinstance(header, bytes) and isinstance(version_bytes, bytes)
    assert decode(header).get(1, [0]) == [0]  # code 0: absent or zero
    numbers = decode(version_bytes)
    assert set(numbers) <= {1, 2, 3, 4}
    status_header = decode(status)[1][0]
    assert isinstance(status_header, bytes)
    code = decode(status_header)[1][0]
    assert code == zigzag(-3)  # NOT_FOUND, zig-zag encoded sint32


def test_restart_keeps_pipelines(endpoint: str, tmp_path: Path) -> None:
    definition = tmp_path / "keep.yaml"
    definition.write_text(
        "api-version: 0.4.0\nname: keep\noperators:\n"
        '  - name: a\n    container: {image: i, tag: "1", command: [true]}\n'
    )
    pipeline_id = clara(endpoint, "create", "pipeline", "-p", str(definition)).stdout.strip()
    old_pid = DAEMON.pid()
    restarted = clara(endpoint, "platform", "restart")
    assert restarted.stdout.startswith("platform started")
    assert DAEMON.pid() != old_pid
    assert [p["id"] for p in clara_json(endpoint, "list", "pipelines")] == [pipeline_id]
