"""The engine command line at its boundary, with a fake `docker`/`podman` that records its arguments.

Real Podman runs in test_container_executor.py; Docker cannot run on this machine kind, so what the
executor asks of Docker (its own flags for registries and GPUs, host networking) is checked here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from platform_server.executors.base import Mount, OperatorRun, Outcome, ResourceRequest
from platform_server.executors.container import ContainerExecutor, ContainerOptions
from platform_server.executors.devices import gpu_arguments
from platform_server.executors.engine import Completed, ContainerEngine, EngineError

FAKE = """#!/bin/sh
printf '%s\\n' "$*" >> "{log}"
[ -n "$CLARA_RESULTSSERVICE_SERVICE_HOST" ] && echo "env: $CLARA_RESULTSSERVICE_SERVICE_HOST" >> "{log}"
case " $* " in *" --config "*) ls "$2" >> "{log}" ;; esac
case " $* " in
  *" pull "*) echo "Error: unauthorized: authentication required" >&2; exit 125 ;;
  " image "*) exit 0 ;;
  " inspect "*) echo "0 false"; exit 0 ;;
esac
exit 0
"""


def fake_engine(tmp_path: Path, name: str) -> tuple[ContainerEngine, Path]:
    log = tmp_path / "calls.log"
    binary = tmp_path / name
    binary.write_text(FAKE.format(log=log))
    binary.chmod(0o755)
    return ContainerEngine(str(binary)), log


def test_gpu_arguments_for_cdi_docker_and_none() -> None:
    assert gpu_arguments((0, 2), "cdi") == ["--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=2"]
    assert gpu_arguments((1, 3), "gpus") == ["--gpus", "device=1,3"]
    assert gpu_arguments((), "cdi") == ["--env", "NVIDIA_VISIBLE_DEVICES=void"]


def test_error_line_is_the_engines_own_words() -> None:
    done = Completed(125, "", "Trying to pull x...\nError: initializing source: unauthorized\n")
    assert done.error == "Error: initializing source: unauthorized"
    assert Completed(1, "", "").error == "exit code 1"


async def test_missing_engine_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="is not installed or not on PATH .*executor.container.engine"):
        await ContainerEngine(str(tmp_path / "podman")).call("version")


@pytest.mark.parametrize(("name", "expected"), [
    ("podman", "pull --quiet --authfile {auth} registry.example/ai:1"),
    ("docker", "--config {folder} pull --quiet registry.example/ai:1"),
])
async def test_pull_uses_the_auth_file_each_engine_understands(tmp_path: Path, name: str, expected: str) -> None:
    engine, log = fake_engine(tmp_path, name)
    auth = tmp_path / "secrets" / "config.json"
    auth.parent.mkdir()
    auth.write_text(json.dumps({"auths": {}}))
    with pytest.raises(EngineError, match="could not be pulled: Error: unauthorized"):
        await engine.pull("registry.example/ai:1", auth, timeout=10)
    lines = log.read_text().splitlines()
    if name == "podman":
        assert lines == [expected.format(auth=auth)]
    else:  # Docker reads only config.json, from a folder: the file is copied into a temporary one
        folder = lines[0].split()[1]
        assert folder.startswith("/") and lines == [expected.format(folder=folder), "config.json"]


async def test_docker_runs_on_the_host_network_with_its_gpu_flag(tmp_path: Path) -> None:
    engine, log = fake_engine(tmp_path, "docker")
    executor = ContainerExecutor(engine, ContainerOptions(network="host", gpu_mode="gpus"))
    (tmp_path / "in").mkdir()
    run = OperatorRun(
        job_id="d" * 32, operator="ai", image="example/ai:1", command=(),
        inputs=(Mount("payload", "/input", tmp_path / "in", True),),
        outputs=(Mount("output", "/output", tmp_path / "out", False),),
        env={"CLARA_RESULTSSERVICE_SERVICE_HOST": "127.0.0.1"}, work_dir=tmp_path / "w",
        log_path=tmp_path / "ai.log", timeout=10, resources=ResourceRequest(gpu=1, gpu_ids=(1,), memory_mb=512),
    )
    result = await executor.run(run)
    await executor.close()  # the container is removed in the background
    assert result.outcome == Outcome.COMPLETED
    [call] = [line for line in log.read_text().splitlines() if line.startswith("run ")]
    assert "--network host" in call and "--gpus device=1" in call and "--memory 512m" in call
    assert f"--volume {tmp_path / 'in'}:/input:ro" in call and f"--volume {tmp_path / 'out'}:/output:rw" in call
    # On the host network the results service is reachable as configured: no gateway rewrite. The value
    # reaches the engine through its environment, never its command line (which `ps` shows everyone).
    assert "--env CLARA_RESULTSSERVICE_SERVICE_HOST " in call and "127.0.0.1" not in call
    assert "env: 127.0.0.1" in log.read_text().splitlines()
    assert call.endswith("example/ai:1")  # no command: the image's entrypoint
    assert "--pod" not in call


async def test_container_the_engine_refuses_to_create_is_not_started(tmp_path: Path) -> None:
    binary = tmp_path / "podman"
    binary.write_text('#!/bin/sh\ncase "$1" in\n  image) exit 0 ;;\n'
                      '  run) echo "Error: invalid reference format" >&2; exit 125 ;;\n'
                      '  inspect) echo "Error: no such container" >&2; exit 125 ;;\nesac\nexit 0\n')
    binary.chmod(0o755)
    executor = ContainerExecutor(ContainerEngine(str(binary)), ContainerOptions(network="host"))
    run = OperatorRun(job_id="e" * 32, operator="ai", image="example/ai:1", command=("x",), inputs=(), outputs=(),
                      env={}, work_dir=tmp_path / "w", log_path=tmp_path / "ai.log", timeout=10)
    result = await executor.run(run)
    await executor.close()
    assert result.outcome == Outcome.NOT_STARTED and result.exit_code == 125
    assert result.reason == "podman could not start operator 'ai': Error: invalid reference format"


async def test_an_image_that_looks_like_an_option_is_refused(tmp_path: Path) -> None:
    engine, log = fake_engine(tmp_path, "podman")
    executor = ContainerExecutor(engine, ContainerOptions(network="host"))
    run = OperatorRun(job_id="f" * 32, operator="ai", image="--privileged", command=("x",), inputs=(), outputs=(),
                      env={}, work_dir=tmp_path / "w", log_path=tmp_path / "ai.log", timeout=10)
    result = await executor.run(run)
    await executor.close()
    assert result.outcome == Outcome.NOT_STARTED and "'--privileged' is not an image reference" in result.reason
    assert not log.exists()  # the engine was never called
