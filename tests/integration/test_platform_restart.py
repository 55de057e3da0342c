"""The platform killed with SIGKILL mid-job and restarted: the running job faults, queued jobs still run."""

from __future__ import annotations

import asyncio
import os
import textwrap
from pathlib import Path

import pytest

from platform_api import JobState, JobStatus, PlatformClient
from platform_server.executors.engine import JOB_LABEL
from tests.conftest import free_port
from tests.platform_server.server_process import ServerProcess
from tests.support.containers import leftover_containers, podman_env, run_podman

pytestmark = pytest.mark.integration

SLEEPER = """\
import os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


async def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_kill_9_mid_job_then_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, free_port())
    pid_file = tmp_path / "operator.pid"
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    definition = textwrap.dedent(f"""\
        api-version: 0.4.0
        name: sleepy
        parameters:
          PIDFILE: {pid_file}
        operators:
        - name: sleep
          container: {{image: local/sleep, command: [python, {tmp_path / "sleeper.py"}, "${{{{PIDFILE}}}}"]}}
        """)
    operator_pid = 0
    try:
        await server.start()
        async with PlatformClient(server.endpoint, timeout=20) as client:
            pipeline_id = await client.create_pipeline({"sleepy.yaml": definition})
            running, _ = await client.create_job(pipeline_id, "running")
            await client.start_job(running)
            await wait_for(lambda: pid_file.exists() and pid_file.read_text() != "")
            operator_pid = int(pid_file.read_text())
            queued, _ = await client.create_job(pipeline_id, "queued")
            await client.start_job(queued, {"PIDFILE": str(tmp_path / "second.pid")})
            assert (await client.job_status(queued)).state == JobState.PENDING

        server.kill()
        assert alive(operator_pid), "the operator outlives a crashed platform until the restart reaps it"

        await server.start()
        async with PlatformClient(server.endpoint, timeout=20) as client:
            crashed = await client.job_status(running)
            assert (crashed.state, crashed.status) == (JobState.STOPPED, JobStatus.FAULTED)
            assert crashed.messages == ("platform restarted while the job was running",)
            await wait_for(lambda: not alive(operator_pid), timeout=10)

            await wait_for(lambda: (tmp_path / "second.pid").exists())
            second = await client.job_status(queued)
            assert second.state == JobState.RUNNING
            second_pid = int((tmp_path / "second.pid").read_text() or 0)
            canceled = await client.cancel_job(queued, "test is over")
            assert (canceled.state, canceled.status) == (JobState.STOPPED, JobStatus.CANCELED)
            await wait_for(lambda: not alive(second_pid), timeout=2)
        assert server.stop() == 0
    finally:
        server.kill()
        for pid in (operator_pid, int((tmp_path / "second.pid").read_text() or 0)
                    if (tmp_path / "second.pid").exists() else 0):
            if pid and alive(pid):
                os.kill(pid, 9)


async def test_clara_stop_drains_and_exits(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, free_port())
    try:
        await server.start()
        async with PlatformClient(server.endpoint, timeout=20) as client:
            await client.stop()
        assert server.proc is not None
        await wait_for(lambda: server.proc is not None and not server.proc.alive(), timeout=20)
        assert server.proc.popen.returncode == 0
        assert "service.stopped" in server.log.read_text()
    finally:
        server.kill()


async def test_kill_9_mid_container_job_then_restart_reaps_the_container(tmp_path: Path, podman: None,
                                                                         busybox_image: str) -> None:
    """Containers and the job's pod outlive a crashed platform; the restart removes them by their label."""
    server = ServerProcess(tmp_path, free_port(), executor__kind="container",
                           executor__container={"containers_conf": podman_env()["CONTAINERS_CONF"]})
    definition = textwrap.dedent(f"""\
        api-version: 0.4.0
        name: sleepy-container
        operators:
        - name: sleep
          container: {{image: {busybox_image}, command: [sleep, "300"]}}
        """)
    job_id = ""
    try:
        await server.start()
        async with PlatformClient(server.endpoint, timeout=20) as client:
            pipeline_id = await client.create_pipeline({"sleepy.yaml": definition})
            job_id, _ = await client.create_job(pipeline_id, "running")
            await client.start_job(job_id)
            await wait_for(lambda: bool(leftover_containers(f"{JOB_LABEL}={job_id}")))  # the operator runs
        server.kill()
        assert leftover_containers(f"{JOB_LABEL}={job_id}"), "the container outlives the platform until the restart"
        await server.start()
        async with PlatformClient(server.endpoint, timeout=20) as client:
            crashed = await client.job_status(job_id)
            assert (crashed.state, crashed.status) == (JobState.STOPPED, JobStatus.FAULTED)
        assert leftover_containers(f"{JOB_LABEL}={job_id}") == []
        assert server.stop() == 0
    finally:
        server.kill()
        for name in leftover_containers(f"{JOB_LABEL}={job_id}") if job_id else []:  # what a failed test left
            kind = ("pod", name.removeprefix("pod:")) if name.startswith("pod:") else ("container", name)
            run_podman(*kind, "rm", "--force", "--time", "0", check=False)
