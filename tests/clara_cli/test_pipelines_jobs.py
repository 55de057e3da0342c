"""`clara create|list|describe|start|cancel`, `logs`, `download` against the in-process fake platform."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from clara_cli.main import cli
from clara_cli.pipelines_jobs import ADAPTER_PAYLOAD_KEY, glob_regex, started_state
from platform_api import JobId, JobState, JobStatus, JobToken
from tests.conftest import free_port
from tests.platform_api.fake_platform import FakeState, running_fake_platform

PIPELINE = "api-version: 0.4.0\nname: demo\noperators:\n- name: op\n"


@pytest.fixture
def fake(clara_home: Path) -> Iterator[tuple[str, FakeState]]:
    with running_fake_platform() as running:
        yield running


def clara(endpoint: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--host", endpoint, *args], catch_exceptions=False)


def clara_json(endpoint: str, *args: str) -> object:
    result = clara(endpoint, "--output", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def pipeline_id(fake: tuple[str, FakeState], tmp_path: Path) -> str:
    definition = tmp_path / "demo.yaml"
    definition.write_text(PIPELINE)
    result = clara(fake[0], "create", "pipeline", "-p", str(definition))
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_server_down_prints_one_clear_line(clara_home: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["--host", endpoint, "list", "jobs"])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: cannot reach the platform at {endpoint} "
        "(start it with `clara platform start`, or the whole stack with `scripts/run` (`openclara up`))\n"
    )
    assert "Traceback" not in result.output


def test_create_and_list_pipelines(fake: tuple[str, FakeState], pipeline_id: str) -> None:
    assert len(pipeline_id) == 32
    table = clara(fake[0], "list", "pipelines")
    assert "NAME" in table.stdout and "demo" in table.stdout and pipeline_id in table.stdout
    assert clara_json(fake[0], "list", "pipelines") == [{"name": "demo", "id": pipeline_id}]


def test_describe_pipeline_shows_definition(fake: tuple[str, FakeState], pipeline_id: str) -> None:
    result = clara(fake[0], "describe", "pipeline", pipeline_id)
    assert "--- demo.yaml" in result.stdout and "name: demo" in result.stdout
    described = clara_json(fake[0], "describe", "pipeline", "-p", pipeline_id)
    assert isinstance(described, dict) and described["definitions"][0]["path"] == "demo.yaml"


def test_invalid_pipeline_message_is_shown(fake: tuple[str, FakeState], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("operators: []\n")
    result = clara(fake[0], "create", "pipeline", "-p", str(bad))
    assert result.exit_code == 1
    assert result.stderr == "error: bad.yaml:1: missing 'name'\n"


def test_unknown_pipeline_id_is_reported(fake: tuple[str, FakeState]) -> None:
    result = clara(fake[0], "describe", "pipeline", "f" * 32)
    assert (result.exit_code, result.stderr) == (1, "error: pipeline not found\n")


def _inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    (folder / "series1").mkdir(parents=True)
    (folder / "series1" / "1.dcm").write_bytes(b"a" * 2000)
    (folder / "series1" / "2.dcm").write_bytes(b"b" * 3000)
    return folder


def test_create_job_uploads_folder_and_starts(fake: tuple[str, FakeState], pipeline_id: str, tmp_path: Path) -> None:
    created = clara_json(
        fake[0], "create", "job", "-p", pipeline_id, "-n", "ct-1", "-f", str(_inputs(tmp_path)),
        "--priority", "HIGHER", "-m", "study=1.2.3", "--start",
    )  # fmt: skip
    assert isinstance(created, dict)
    assert (created["files"], created["state"], created["status"]) == (2, "stopped", "healthy")
    files = fake[1].payloads[created["payload_id"]]
    assert files["series1/1.dcm"] == b"a" * 2000 and files["series1/2.dcm"] == b"b" * 3000
    job = fake[1].jobs[created["job_id"]]
    assert (job.priority, job.metadata) == (3, {"study": "1.2.3"})


def test_create_job_with_missing_input_sends_nothing(
    fake: tuple[str, FakeState], pipeline_id: str, tmp_path: Path
) -> None:
    result = clara(fake[0], "create", "job", "-p", pipeline_id, "-n", "x", "-f", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert result.stderr == f"error: input {tmp_path / 'nope'} does not exist\n"
    assert fake[1].jobs == {}


def test_start_list_describe_cancel_logs(fake: tuple[str, FakeState], pipeline_id: str) -> None:
    created = clara_json(fake[0], "create", "job", "-p", pipeline_id, "-n", "job-a")
    assert isinstance(created, dict)
    job_id = created["job_id"]
    pending = clara_json(fake[0], "list", "jobs")
    assert isinstance(pending, list) and [j["job_id"] for j in pending] == [job_id]
    started = clara_json(fake[0], "start", "job", "-j", job_id, "threshold=0.5", "model=liver")
    assert started == {"job_id": job_id, "state": "stopped", "status": "healthy"}
    assert fake[1].jobs[job_id].variables == {"threshold": "0.5", "model": "liver"}
    assert clara_json(fake[0], "list", "jobs") == []
    everything = clara_json(fake[0], "list", "jobs", "--all")
    assert isinstance(everything, list) and everything[0]["priority"] == "normal"
    described = clara(fake[0], "describe", "job", "-j", job_id)
    assert "completed" in described.stdout and "all good" in described.stdout
    logs = clara(fake[0], "logs", "-j", job_id)
    assert logs.stdout == "== op ==\nline one\nline two\n"
    assert clara(fake[0], "logs", "-j", job_id, "-o", "op").stdout == "line one\nline two\n"
    cancelled = clara_json(fake[0], "cancel", "job", "-j", job_id, "--reason", "test")
    assert isinstance(cancelled, dict) and cancelled["status"] == "canceled"


def test_start_job_rejects_malformed_variables(fake: tuple[str, FakeState]) -> None:
    result = clara(fake[0], "start", "job", "-j", "a" * 32, "novalue")
    assert result.exit_code == 2
    assert "expected NAME=VALUE, got 'novalue'" in result.stderr


def test_download_glob_from_job(fake: tuple[str, FakeState], pipeline_id: str, tmp_path: Path) -> None:
    created = clara_json(
        fake[0], "create", "job", "-p", pipeline_id, "-n", "j", "-f", str(_inputs(tmp_path)), "--start"
    )
    assert isinstance(created, dict)
    dest = tmp_path / "out"
    result = clara(fake[0], "download", f"{created['job_id']}:/operators/op/**", str(dest))
    assert result.exit_code == 0, result.output
    assert (dest / "out" / "result.txt").read_bytes() == b"result"
    # By payload id, one input file, to an explicit file name.
    single = tmp_path / "copy.dcm"
    result = clara(fake[0], "download", f"{created['payload_id']}:series1/2.dcm", str(single))
    assert single.read_bytes() == b"b" * 3000


def test_download_without_match_says_so(fake: tuple[str, FakeState], pipeline_id: str, tmp_path: Path) -> None:
    created = clara_json(fake[0], "create", "job", "-p", pipeline_id, "-n", "j", "-f", str(_inputs(tmp_path)))
    assert isinstance(created, dict)
    result = clara(fake[0], "download", f"{created['job_id']}:operators/**", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert (
        result.stderr == f"error: no file of payload {created['payload_id']} matches 'operators/**' (2 files in it)\n"
    )


def test_download_argument_needs_id_and_glob(fake: tuple[str, FakeState], tmp_path: Path) -> None:
    result = clara(fake[0], "download", "just-an-id", str(tmp_path))
    assert result.exit_code == 2
    assert "expected ID:GLOB" in result.stderr


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("/operators/seg/**", "operators/seg/out/a.dcm", True),
        ("operators/seg/*", "operators/seg/a.dcm", True),
        ("operators/seg/*", "operators/seg/out/a.dcm", False),
        ("operators/seg", "operators/seg/out/a.dcm", True),
        ("operators/seg", "operators/segment/a.dcm", False),
        ("**/*.dcm", "input/1.dcm", True),
        ("**/*.dcm", "1.dcm", True),
        ("input/?.dcm", "input/1.dcm", True),
    ],
)
def test_glob_semantics(pattern: str, name: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).fullmatch(name)) is matches


def test_failed_upload_says_the_job_is_left_pending(
    fake: tuple[str, FakeState], pipeline_id: str, tmp_path: Path
) -> None:
    folder = _inputs(tmp_path)
    (folder / "bad.reject").write_bytes(b"x")
    result = clara(fake[0], "create", "job", "-p", pipeline_id, "-n", "j", "-f", str(folder), "--start")
    assert result.exit_code == 1
    [job_id] = fake[1].jobs
    assert result.stderr == (
        f"error: upload failed: bad.reject: refused by the fake; job {job_id} was created but not started "
        f"(cancel it with 'clara cancel job -j {job_id}')\n"
    )
    assert fake[1].jobs[job_id].state == 1  # still PENDING: nothing was started with partial inputs


def test_delete_payload_calls_the_platform(monkeypatch: pytest.MonkeyPatch, clara_home: Path) -> None:
    from clara_cli import pipelines_jobs

    deleted: list[str] = []

    class Platform:
        async def delete_payload(self, payload_id: str) -> None:
            deleted.append(payload_id)

    def run_platform(cli: object, work: Any, **kwargs: object) -> object:
        return asyncio.run(work(Platform()))

    monkeypatch.setattr(pipelines_jobs, "run_platform", run_platform)
    result = CliRunner().invoke(cli, ["delete", "payload", "-p", "ab" * 16])
    assert result.exit_code == 0, result.output
    assert deleted == ["ab" * 16]
    assert result.stdout == f"DELETED  {'ab' * 16}\n"


def test_root_help_lists_every_command_with_a_whole_summary() -> None:
    help_text = CliRunner().invoke(cli, ["--help"]).stdout
    assert "download  Download job or payload files (ID:GLOB DEST)." in help_text
    assert "(e.g." not in help_text
    delete_help = CliRunner().invoke(cli, ["delete", "--help"]).stdout
    assert "Delete models, pipelines and payloads." in delete_help
    assert all(f"  {name} " in delete_help for name in ("model", "payload", "pipeline"))


def test_a_job_started_but_waiting_for_the_scheduler_reads_queued_not_pending() -> None:
    token = JobToken(JobId("a" * 32), JobState.PENDING, JobStatus.HEALTHY)
    assert started_state(token) == "queued"
    assert started_state(JobToken(JobId("a" * 32), JobState.RUNNING, JobStatus.HEALTHY)) == "running"


def test_describe_job_names_the_platform_and_adapter_payloads_apart(
    fake: tuple[str, FakeState], pipeline_id: str
) -> None:
    created = clara_json(fake[0], "create", "job", "-p", pipeline_id, "-n", "job-a", "-m", f"{ADAPTER_PAYLOAD_KEY}=p-9")
    assert isinstance(created, dict)
    described = clara_json(fake[0], "describe", "job", "-j", created["job_id"])
    assert isinstance(described, dict)
    assert described["payload_id"] == created["payload_id"] and described["adapter_payload_id"] == "p-9"
    assert ADAPTER_PAYLOAD_KEY not in described["metadata"]
    table = clara(fake[0], "describe", "job", "-j", created["job_id"]).stdout
    assert re.search(r"^PAYLOAD ID +\S+", table, re.M) and re.search(r"^ADAPTER PAYLOAD ID +p-9$", table, re.M)


def test_job_json_times_are_rfc3339_utc(fake: tuple[str, FakeState], pipeline_id: str) -> None:
    clara_json(fake[0], "create", "job", "-p", pipeline_id, "-n", "job-a")
    listed = clara_json(fake[0], "list", "jobs")
    assert isinstance(listed, list)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", listed[0]["created"])


def test_version_option_and_config_help_name_clara_home() -> None:
    version = CliRunner().invoke(cli, ["--version"])
    assert version.exit_code == 0 and re.fullmatch(r"clara \S+\n", version.stdout)
    assert "$CLARA_HOME/config.yaml" in " ".join(CliRunner().invoke(cli, ["--help"]).stdout.split())
