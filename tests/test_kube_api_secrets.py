"""The fake Kubernetes API server's Secrets (tests/kube_api): stored as the apiserver stores them, and read by its
kubelet for `secretKeyRef` env, through lightkube's AsyncClient as the Kubernetes executor uses it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.models.core_v1 import Container, EnvVar, EnvVarSource, PodSpec, SecretKeySelector
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod, Secret

from tests.kube_api import FakeKubernetes, PodScript, container_env


@pytest.fixture
async def client(fake_kubernetes: FakeKubernetes, tmp_path: Path) -> AsyncIterator[AsyncClient]:
    config = KubeConfig.from_file(fake_kubernetes.kubeconfig(tmp_path / "kubeconfig"))
    async with AsyncClient(config) as client:
        yield client


def secret(name: str, labels: dict[str, str] | None = None, **fields: Any) -> Secret:
    return Secret(metadata=ObjectMeta(name=name, labels=labels), **fields)


def token_pod(name: str, secret_name: str, key: str = "TOKEN") -> Pod:
    ref = EnvVarSource(secretKeyRef=SecretKeySelector(name=secret_name, key=key))
    env = [EnvVar(name="PLAIN", value="1"), EnvVar(name="CLARA_API_TOKEN", valueFrom=ref)]
    container = Container(name="main", image="operators:1", env=env)
    return Pod(metadata=ObjectMeta(name=name), spec=PodSpec(containers=[container], restartPolicy="Never"))


async def api_error(awaitable: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await awaitable
    return caught.value


async def waiting_reason(client: AsyncClient, name: str) -> tuple[str, str]:
    """The container's waiting (reason, message), once it has one."""
    async with asyncio.timeout(5):
        while True:
            status = (await client.get(Pod, name)).status
            statuses = status.containerStatuses if status is not None else None
            waiting = statuses[0].state.waiting if statuses and statuses[0].state else None
            if waiting is not None and waiting.reason != "ContainerCreating":
                return waiting.reason or "", waiting.message or ""
            await asyncio.sleep(0.02)


async def test_a_secret_is_stored_with_base64_data_listed_by_label_and_deleted(
    fake_kubernetes: FakeKubernetes, client: AsyncClient
) -> None:
    encoded = base64.b64encode(b"from-data").decode()
    created = await client.create(
        secret("job-1-token", {"job": "1"}, data={"A": encoded}, stringData={"B": "from-string-data"}, immutable=True)
    )
    assert created.type == "Opaque"
    assert created.data == {"A": encoded, "B": base64.b64encode(b"from-string-data").decode()}
    assert created.stringData is None  # write-only: merged into data
    await client.create(secret("job-2-token", {"job": "2"}, stringData={"A": "x"}))
    listed = [s.metadata.name async for s in client.list(Secret, labels={"job": "1"})]
    assert listed == ["job-1-token"]
    assert (await client.get(Secret, "job-2-token")).data == {"A": base64.b64encode(b"x").decode()}
    error = await api_error(client.create(secret("job-1-token", stringData={"A": "again"})))
    assert (error.status.code, error.status.reason) == (409, "AlreadyExists")
    await client.delete(Secret, "job-1-token")
    error = await api_error(client.get(Secret, "job-1-token"))
    assert (error.status.code, error.status.message) == (404, 'secrets "job-1-token" not found')
    assert [s["metadata"]["name"] for s in fake_kubernetes.secrets("openclara")] == ["job-2-token"]


async def test_bad_keys_are_422_and_bad_base64_is_400(client: AsyncClient) -> None:
    error = await api_error(client.create(secret("s", stringData={"no spaces": "x"})))
    assert (error.status.code, error.status.reason) == (422, "Invalid")
    assert error.status.message.startswith('Secret "s" is invalid: stringData[no spaces]: Invalid value')
    error = await api_error(client.create(secret("s", data={"A": "not base64!"})))
    assert (error.status.code, error.status.reason) == (400, "BadRequest")


async def test_a_container_waits_for_its_secret_and_starts_with_the_value(
    fake_kubernetes: FakeKubernetes, client: AsyncClient
) -> None:
    seen: dict[str, str] = {}

    def operator(pod: dict[str, Any]) -> int:
        seen.update(container_env(fake_kubernetes, pod))
        return 0

    fake_kubernetes.script = lambda _: PodScript(run=operator, waiting_interval=0.02)
    await client.create(token_pod("op-1", "job-token"))
    assert await waiting_reason(client, "op-1") == ("CreateContainerConfigError", 'secret "job-token" not found')
    await client.create(secret("job-token", stringData={"OTHER": "x"}))
    await asyncio.sleep(0.1)
    assert await waiting_reason(client, "op-1") == (
        "CreateContainerConfigError",
        "couldn't find key TOKEN in Secret openclara/job-token",
    )
    await client.delete(Secret, "job-token")
    await client.create(secret("job-token", stringData={"TOKEN": "s3cret"}))
    async with asyncio.timeout(5):
        while (await client.get(Pod, "op-1")).status.phase != "Succeeded":
            await asyncio.sleep(0.02)
    assert seen == {"PLAIN": "1", "CLARA_API_TOKEN": "s3cret"}
