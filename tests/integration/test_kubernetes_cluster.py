"""The reference pipeline end to end on a REAL Kubernetes cluster, deployed with the Helm chart.

Runs only when `OPENCLARA_TEST_KUBECONFIG` names a kubeconfig of a real cluster; it then also needs
`OPENCLARA_TEST_IMAGE` (the stack image built from the Dockerfile, pushed where the cluster pulls from),
`OPENCLARA_TEST_OPERATOR_IMAGE` (scripts/build-operator-image's image, pushed likewise), optionally
`OPENCLARA_TEST_STORAGE_CLASS` (a ReadWriteMany class) and `kubectl` on PATH. Without them every test
here is skipped and the session's summary says in capitals that the cluster test did not run (see
`pytest_terminal_summary` in tests/conftest.py): no machine this project is built on has a cluster.

What it does: `helm install` into a fresh namespace (`--wait`), `kubectl port-forward` to the platform's
Service, then through the Platform API the four-operator lung pipeline on a synthetic CT study, each
operator a pod of the operator image: the job must end HEALTHY with a DICOM SEG in the last operator's
output, and no pod of the job may be left.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_api.client import PlatformClient
from platform_api.types import JobState, JobStatus
from tests.conftest import free_port
from tests.integration.test_roundtrip_orthanc import write_study
from tests.support.processes import ROOT, wait_for

KUBECONFIG = os.environ.get("OPENCLARA_TEST_KUBECONFIG", "")
NOT_RUN = ("NOT RUN: no real Kubernetes cluster (set OPENCLARA_TEST_KUBECONFIG, OPENCLARA_TEST_IMAGE and "
           "OPENCLARA_TEST_OPERATOR_IMAGE to run the reference pipeline on one)")
pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.skipif(not KUBECONFIG, reason=NOT_RUN)]
CHART = ROOT / "deploy" / "helm" / "openclara"
PIPELINE = ROOT / "config" / "pipelines" / "lung-seg-containers.yaml"


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise AssertionError(f"OPENCLARA_TEST_KUBECONFIG is set, so {name} must be too")
    return value


def _run(*args: str, timeout: float = 900) -> str:
    env = {**os.environ, "KUBECONFIG": KUBECONFIG}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(args)} exited with {done.returncode}:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def release() -> Iterator[tuple[str, str]]:
    """A fresh namespace with the chart installed; removed afterwards, whatever happened."""
    image = _required("OPENCLARA_TEST_IMAGE")
    repository, _, tag = image.rpartition(":")
    assert shutil.which("kubectl"), "kubectl must be on PATH for the cluster test"
    helm = shutil.which("helm") or str(Path(sys.executable).parent / "helm")
    namespace = f"openclara-test-{uuid.uuid4().hex[:8]}"
    args = [helm, "install", "oc", str(CHART), "--namespace", namespace, "--create-namespace", "--wait",
            "--timeout", "10m", "--set", f"image.repository={repository}", "--set", f"image.tag={tag}"]
    storage_class = os.environ.get("OPENCLARA_TEST_STORAGE_CLASS")
    if storage_class:
        args += ["--set", f"sharedVolume.storageClass={storage_class}"]
    try:
        _run(*args)
        yield namespace, "oc"
    finally:
        subprocess.run(["kubectl", "delete", "namespace", namespace, "--wait=false"],
                       env={**os.environ, "KUBECONFIG": KUBECONFIG}, capture_output=True, check=False, timeout=120)


@pytest.fixture(scope="module")
def platform_endpoint(release: tuple[str, str]) -> Iterator[str]:
    namespace, name = release
    port = free_port()
    forward = subprocess.Popen(
        ["kubectl", "port-forward", "--namespace", namespace, f"service/{name}-openclara-platform", f"{port}:30031"],
        env={**os.environ, "KUBECONFIG": KUBECONFIG}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: _answers(port), 60, "kubectl port-forward to the platform")
        yield f"127.0.0.1:{port}"
    finally:
        forward.terminate()
        forward.wait(10)


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def _run_reference(endpoint: str, study: list[Path], operator_image: str) -> tuple[JobStatus, list[str]]:
    repository, _, tag = operator_image.rpartition(":")
    definition = PIPELINE.read_text().replace("image: openclara/operators", f"image: {repository}")
    definition = definition.replace('tag: "0.1"', f'tag: "{tag}"')
    async with PlatformClient(endpoint) as client:
        pipeline_id = await client.create_pipeline({"lung-seg.yaml": definition})
        job_id, payload_id = await client.create_job(pipeline_id, "cluster-e2e")
        for path in study:
            await client.upload(payload_id, path.name, path.read_bytes())
        await client.start_job(job_id)
        deadline = time.monotonic() + 900
        status = await client.job_status(job_id)
        while status.state != JobState.STOPPED and time.monotonic() < deadline:
            await asyncio.sleep(2)
            status = await client.job_status(job_id)
        return status.status, list(status.messages)


def test_reference_pipeline_runs_as_pods_on_the_cluster(platform_endpoint: str, release: tuple[str, str],
                                                         tmp_path: Path) -> None:
    study = write_study(tmp_path / "study", 7)
    status, messages = asyncio.run(_run_reference(platform_endpoint, study,
                                                  _required("OPENCLARA_TEST_OPERATOR_IMAGE")))
    assert status == JobStatus.HEALTHY, messages
    namespace, _ = release
    wait_for(lambda: _run("kubectl", "get", "pods", "--namespace", namespace, "-l", "openclara/role=operator",
                          "-o", "name").strip() == "", 60, "the job's operator pods deleted")
