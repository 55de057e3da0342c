"""The platform server as a real process with `executor.kind: kubernetes`, against the fake API server.

The fake's kubelet stands in for the cluster's nodes: each operator pod "runs" a Python function that
reads and writes the shared volume through the pod's own mounts (subPath, readOnly). Everything else
is real: the platform process, gRPC, SQLite, the executor's HTTP calls, watches and log streams.
The operators' API token reaches the pods through the job's Secret, as on a cluster.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from openclara.auth.credentials import ENV_TOKEN, OPERATORS, credential
from platform_api import JobState, JobStatus, PlatformClient
from platform_server.executors.pods import JOB_LABEL, OPERATOR_LABEL
from tests.conftest import free_port
from tests.kube_api import FakeKubernetes, PodScript, container_env, mounted_path, write_file
from tests.platform_server.server_process import ServerProcess

pytestmark = pytest.mark.integration
NAMESPACE = "openclara"
CHAIN = """\
api-version: 0.4.0
name: chain
operators:
- name: upper
  container: {image: registry.example/ops:1, command: [upper]}
  input: [{path: /input}]
  output: [{path: /output, name: text}]
- name: count
  container: {image: registry.example/ops:1, command: [count]}
  input: [{from: upper, name: text, path: /in}]
  output: [{path: /out}]
"""


def platform(root: Path, fake: FakeKubernetes) -> ServerProcess:
    shared = root / "shared"
    shared.mkdir(parents=True, exist_ok=True)
    fake.volumes = {"oc-shared": shared}
    fake.add_claim("oc-shared", NAMESPACE)
    kubeconfig = fake.kubeconfig(root / "kubeconfig", namespace=NAMESPACE)
    return ServerProcess(
        root, free_port(),
        storage__payloads_dir=str(shared / "payloads"), storage__models_dir=str(shared / "models"),
        executor__kind="kubernetes",
        executor__kubernetes={"kubeconfig": str(kubeconfig), "platform_host": "oc-platform", "schedule_timeout": 5,
                              "volumes": [{"claim": "oc-shared", "path": str(shared)}]},
    )


def operators(fake: FakeKubernetes, seen: list[tuple[str, dict[str, Any]]]) -> None:
    """`upper` upper-cases the study into its output; `count` counts the characters of what `upper` wrote.
    Each adds to `seen` the token it was given and its pod's spec."""

    def upper(pod: dict[str, Any]) -> int:
        seen.append((container_env(fake, pod).get(ENV_TOKEN, ""), pod["spec"]))
        source, _ = mounted_path(fake, pod, "/input")
        write_file(fake, pod, "/output/study.txt", (source / "study.txt").read_bytes().upper())
        return 0

    def count(pod: dict[str, Any]) -> int:
        seen.append((container_env(fake, pod).get(ENV_TOKEN, ""), pod["spec"]))
        source, _ = mounted_path(fake, pod, "/in")
        write_file(fake, pod, "/out/count.txt", str(len((source / "study.txt").read_bytes())).encode())
        return 0

    def script(pod: dict[str, Any]) -> PodScript:
        name = pod["metadata"]["labels"][OPERATOR_LABEL]
        return PodScript(run=upper if name == "upper" else count, logs=(f"{name} running", f"{name} done"),
                         duration=0.1)

    fake.script = script


async def run_job(endpoint: str, definition: str, study: bytes, timeout: float = 60) -> tuple[str, Any]:
    async with PlatformClient(endpoint, timeout=20) as client:
        pipeline_id = await client.create_pipeline({"pipeline.yaml": definition})
        job_id, payload_id = await client.create_job(pipeline_id, "k8s")
        await client.upload(payload_id, "study.txt", study)
        await client.start_job(job_id)
        deadline = time.monotonic() + timeout
        status = await client.job_status(job_id)
        while status.state != JobState.STOPPED and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            status = await client.job_status(job_id)
        return str(job_id), status


async def test_a_chained_pipeline_runs_as_pods_and_its_logs_read_back(tmp_path: Path,
                                                                      fake_kubernetes: FakeKubernetes) -> None:
    server = platform(tmp_path, fake_kubernetes)
    seen: list[tuple[str, dict[str, Any]]] = []
    operators(fake_kubernetes, seen)
    try:
        await server.start()
        job_id, status = await run_job(server.endpoint, CHAIN, b"lung ct\n")
        assert status.status == JobStatus.HEALTHY, status.messages
        [count] = (tmp_path / "shared" / "payloads").glob("*/operators/count/output/count.txt")
        assert count.read_text() == "8"
        async with PlatformClient(server.endpoint, timeout=20) as client:
            lines = [line async for line in client.read_logs(job_id, "upper")]
        assert lines == ["upper running", "upper done"]
        token = credential(OPERATORS)  # the session's stack credentials, which the platform reads too
        assert token and [given for given, _ in seen] == [token, token]  # register-results would authenticate
        assert all(token not in json.dumps(spec) for _, spec in seen)  # but `get pods` does not show it
        deadline = time.monotonic() + 10
        while (fake_kubernetes.pods(NAMESPACE) or fake_kubernetes.secrets(NAMESPACE)) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert fake_kubernetes.pods(NAMESPACE) == []  # every pod of the job deleted after it
        assert fake_kubernetes.secrets(NAMESPACE) == []  # and its Secret
        assert server.stop() == 0
    finally:
        server.kill()


async def test_image_that_cannot_be_pulled_faults_the_job_with_the_kubelets_words(
        tmp_path: Path, fake_kubernetes: FakeKubernetes) -> None:
    server = platform(tmp_path, fake_kubernetes)
    fake_kubernetes.script = lambda pod: PodScript(
        waiting=("ImagePullBackOff", 'Back-off pulling image "registry.example/ops:1"'))
    try:
        await server.start()
        _, status = await run_job(server.endpoint, CHAIN, b"x")
        assert status.status == JobStatus.FAULTED
        assert "its image cannot be pulled: ImagePullBackOff" in status.messages[0], status.messages
    finally:
        server.kill()


async def test_kill_9_mid_job_then_restart_reaps_the_pods(tmp_path: Path, fake_kubernetes: FakeKubernetes) -> None:
    """Pods outlive a crashed platform; the restart faults the job and deletes its pods by label."""
    server = platform(tmp_path, fake_kubernetes)
    fake_kubernetes.script = lambda pod: PodScript(forever=True, logs=("working",))
    try:
        await server.start()
        job_task = asyncio.create_task(run_job(server.endpoint, CHAIN, b"x", timeout=2))
        deadline = time.monotonic() + 20
        while not fake_kubernetes.pods(NAMESPACE) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        [pod] = fake_kubernetes.pods(NAMESPACE)
        job_id = pod["metadata"]["labels"][JOB_LABEL]
        server.kill()
        await asyncio.gather(job_task, return_exceptions=True)
        assert len(fake_kubernetes.pods(NAMESPACE)) == 1, "the pod outlives the platform until the restart"
        assert len(fake_kubernetes.secrets(NAMESPACE)) == 1, "and so does the job's Secret"
        await server.start()
        async with PlatformClient(server.endpoint, timeout=20) as client:
            crashed = await client.job_status(job_id)
        assert (crashed.state, crashed.status) == (JobState.STOPPED, JobStatus.FAULTED)
        deadline = time.monotonic() + 10
        while (fake_kubernetes.pods(NAMESPACE) or fake_kubernetes.secrets(NAMESPACE)) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert fake_kubernetes.pods(NAMESPACE) == []
        assert fake_kubernetes.secrets(NAMESPACE) == []  # the job's Secret went with the sweep
        assert server.stop() == 0
    finally:
        server.kill()
