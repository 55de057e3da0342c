from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from pipeline_operators import register_results as rr
from pipeline_operators.errors import EnvironmentConfigError


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    root = tmp_path / "payloads" / "p1"
    out = root / "operators" / "seg-writer" / "output"
    (out / "series").mkdir(parents=True)
    (out / "seg.dcm").write_bytes(b"x")
    (out / "series" / "b.dcm").write_bytes(b"y")
    (root / "input").mkdir()
    return root


def _env(payload: Path, **extra: str) -> dict[str, str]:
    return {
        "NVIDIA_CLARA_JOBID": "job-1",
        "NVIDIA_CLARA_PAYLOADID": "p1",
        "NVIDIA_CLARA_PIPELINEID": "pipe",
        "NVIDIA_CLARA_INPUTPATHS": f"seg-writer:{payload / 'operators' / 'seg-writer' / 'output'}",
        **extra,
    }


class Recorder:
    """An httpx MockTransport handler that answers like the results service, optionally failing first."""

    def __init__(self, failures: list[int | None] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.failures = failures or []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            code = self.failures.pop(0)
            if code is None:
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(code, json={"detail": f"boom {code}"})
        body = json.loads(request.content)
        self.bodies.append(body)
        self.paths.append(request.url.path)
        return httpx.Response(201, json={"taskId": f"t{len(self.bodies)}", **body})


def _registrar(recorder: Recorder, retry_seconds: float = 60.0) -> rr.ResultsRegistrar:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    client = httpx.Client(transport=httpx.MockTransport(recorder))
    return rr.ResultsRegistrar("http://results", retry_seconds, client, sleep, lambda: now[0])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('["MYPACS","OTHER"]', ['"MYPACS"', '"OTHER"']),
        ('"MYPACS"', ['"MYPACS"']),
        ("MYPACS", ['"MYPACS"']),
        (None, [""]),
    ],
)
def test_destinations_forms(data: str | None, expected: list[str]) -> None:
    assert rr.destinations(data) == expected


@pytest.mark.parametrize(("data", "message"), [("[]", "empty list"), ("{bad json", "must be a JSON list")])
def test_destinations_rejects_bad_data(data: str, message: str) -> None:
    with pytest.raises(EnvironmentConfigError, match=message):
        rr.destinations(data)


def test_registers_one_task_per_destination_with_payload_relative_uris(payload: Path) -> None:
    recorder = Recorder()
    tasks = rr.register_results("ClaraSCU", '["MYPACS","OTHER"]', [], _env(payload), _registrar(recorder))
    assert len(tasks) == 2
    assert recorder.paths == ["/api/tasks/register/ClaraSCU"] * 2
    assert [b["parameters"] for b in recorder.bodies] == ['"MYPACS"', '"OTHER"']
    assert recorder.bodies[0]["uris"] == [
        "operators/seg-writer/output/seg.dcm",
        "operators/seg-writer/output/series/b.dcm",
    ]
    assert (recorder.bodies[0]["jobId"], recorder.bodies[0]["payloadId"], recorder.bodies[0]["pipelineId"]) == (
        "job-1",
        "p1",
        "pipe",
    )


def test_payload_root_from_platform_variable_and_plain_path(payload: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "results"
    elsewhere.mkdir()
    (elsewhere / "a.dcm").write_bytes(b"a")
    env = _env(payload, NVIDIA_CLARA_INPUTPATHS=str(elsewhere), OPENCLARA_PAYLOAD_PATH=str(tmp_path))
    recorder = Recorder()
    rr.register_results("ClaraSCU", '"MYPACS"', [], env, _registrar(recorder))
    assert recorder.bodies[0]["uris"] == ["results/a.dcm"]


def test_container_mounts_map_files_to_their_place_in_the_payload(payload: Path) -> None:
    """In a container the input is mounted at /input (here: the seg folder itself, which is no payload)."""
    mounted = payload / "operators" / "seg-writer" / "output"
    env = _env(payload, NVIDIA_CLARA_INPUTPATHS=f"seg-writer:{mounted}",
               OPENCLARA_PAYLOAD_MOUNTS=f"/other=input;{mounted}=operators/seg-writer/output")
    recorder = Recorder()
    rr.register_results("ClaraSCU", '"MYPACS"', [], env, _registrar(recorder))
    assert recorder.bodies[0]["uris"] == ["operators/seg-writer/output/seg.dcm",
                                          "operators/seg-writer/output/series/b.dcm"]


def test_payload_mounts_longest_first_and_malformed_items_ignored() -> None:
    env = {"OPENCLARA_PAYLOAD_MOUNTS": "/input=input;/input/labels=operators/seg/labels;junk;rel=x"}
    assert rr.payload_mounts(env) == [(Path("/input/labels"), "operators/seg/labels"), (Path("/input"), "input")]


def test_input_flag_outside_a_payload_gives_uris_relative_to_it(payload: Path, tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    folder.mkdir()
    (folder / "x.dcm").write_bytes(b"x")
    recorder = Recorder()
    rr.register_results("renderserver", None, [folder], _env(payload), _registrar(recorder))
    assert recorder.bodies[0]["uris"] == ["x.dcm"] and recorder.bodies[0]["parameters"] == ""


def test_retries_while_service_is_down_then_registers(payload: Path) -> None:
    recorder = Recorder(failures=[None, 503, None])
    tasks = rr.register_results("ClaraSCU", '"MYPACS"', [], _env(payload), _registrar(recorder))
    assert tasks[0]["taskId"] == "t1"


def test_gives_up_after_retry_budget_with_clear_message(payload: Path) -> None:
    recorder = Recorder(failures=[None] * 100)
    with pytest.raises(
        rr.RegistrationError, match="could not register results with http://results within 5 s: service unreachable"
    ):
        rr.register_results("ClaraSCU", '"MYPACS"', [], _env(payload), _registrar(recorder, retry_seconds=5))


def test_client_error_is_not_retried(payload: Path) -> None:
    recorder = Recorder(failures=[400])
    with pytest.raises(rr.RegistrationError, match=r"refused the registration \(400\): boom 400"):
        rr.register_results("Bad-", '"MYPACS"', [], _env(payload), _registrar(recorder))


def test_missing_job_id_and_empty_input_are_errors(payload: Path, tmp_path: Path) -> None:
    env = _env(payload)
    del env["NVIDIA_CLARA_JOBID"]
    with pytest.raises(EnvironmentConfigError, match="NVIDIA_CLARA_JOBID is not set"):
        rr.register_results("ClaraSCU", None, [], env, _registrar(Recorder()))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EnvironmentConfigError, match="no files under"):
        rr.register_results("ClaraSCU", None, [empty], _env(payload), _registrar(Recorder()))
    with pytest.raises(EnvironmentConfigError, match="no input folder"):
        rr.register_results("ClaraSCU", None, [], {"NVIDIA_CLARA_JOBID": "j"}, _registrar(Recorder()))


def test_endpoint_from_clara_variables() -> None:
    env = {"CLARA_RESULTSSERVICE_SERVICE_HOST": "10.0.0.5", "CLARA_RESULTSSERVICE_SERVICE_PORT": "9000"}
    assert rr.results_endpoint(None, env) == "http://10.0.0.5:9000"
    assert rr.results_endpoint("http://x:1/", env) == "http://x:1"
    assert rr.results_endpoint(None, {}) == "http://127.0.0.1:8088"


def test_cli_exits_2_with_message_when_service_unreachable(payload: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _env(payload).items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(
        rr.main,
        ["--agent", "ClaraSCU", "--data", '["MYPACS"]', "--endpoint", "http://127.0.0.1:9", "--retry-seconds", "0.5"],
    )
    assert result.exit_code == 2
    assert "register_results: error: could not register results with http://127.0.0.1:9 within 0.5 s" in result.output
