"""The fake Kubernetes API server (tests/kube_api), driven through lightkube's AsyncClient as the executor drives it."""

from __future__ import annotations

import asyncio
import errno
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from lightkube import ApiError, AsyncClient, KubeConfig, operators
from lightkube.models.core_v1 import (
    Container,
    ExecAction,
    PersistentVolumeClaimVolumeSource,
    PodSpec,
    Probe,
    ServicePort,
    ServiceSpec,
    Volume,
    VolumeMount,
)
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Pod, Service
from lightkube.types import CascadeType

from tests.kube_api import DEADLINE_MESSAGE, FakeKubernetes, PodScript, mounted_path, write_file
from tests.kube_api.selectors import label_selector

Until = Callable[[str, Pod], bool]


@pytest.fixture
async def client(fake_kubernetes: FakeKubernetes, tmp_path: Path) -> AsyncIterator[AsyncClient]:
    config = KubeConfig.from_file(fake_kubernetes.kubeconfig(tmp_path / "kubeconfig"))
    async with AsyncClient(config) as client:
        yield client


def pod(name: str, labels: dict[str, str] | None = None, **spec: Any) -> Pod:
    """A bare operator pod, as the executor builds them: one container, restartPolicy Never."""
    containers = spec.pop("containers", None) or [Container(name="main", image="busybox:1.36", command=["true"])]
    return Pod(
        metadata=ObjectMeta(name=name, labels=labels),
        spec=PodSpec(containers=containers, restartPolicy="Never", **spec),
    )


def ended(kind: str, obj: Pod) -> bool:
    return kind == "DELETED" or (obj.status is not None and obj.status.phase in ("Succeeded", "Failed"))


async def watch_pod(client: AsyncClient, name: str, until: Until = ended, **options: Any) -> list[tuple[str, Pod]]:
    """The events of one pod (lightkube's `fields={"metadata.name": name}` watch) up to the first `until`."""
    seen: list[tuple[str, Pod]] = []
    async with asyncio.timeout(5), aclosing(client.watch(Pod, fields={"metadata.name": name}, **options)) as events:
        async for kind, obj in events:
            seen.append((kind, obj))
            if until(kind, obj):
                return seen
    raise AssertionError(f"the watch of {name} ended early: {seen}")


def phases(events: list[tuple[str, Pod]]) -> list[str]:
    """The distinct phases in the order seen."""
    result: list[str] = []
    for _, obj in events:
        if obj.status and obj.status.phase and obj.status.phase not in result[-1:]:
            result.append(obj.status.phase)
    return result


async def api_error(awaitable: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await awaitable
    return caught.value


async def read_log(client: AsyncClient, name: str, **options: Any) -> list[str]:
    return [line async for line in client.log(name, **options)]


# -- configuration


def test_kubeconfig_works_from_another_process(fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    path = fake_kubernetes.kubeconfig(tmp_path / "kubeconfig", namespace="jobs")
    config = KubeConfig.from_file(path).get()
    assert (config.cluster.server, config.namespace, config.user.token) == (fake_kubernetes.url, "jobs", "fake-token")
    assert fake_kubernetes.url.startswith("http://127.0.0.1:")

    # A platform server runs as a subprocess: the same file must get it to this server through lightkube.
    program = (
        "import sys\n"
        "from lightkube import Client, KubeConfig\n"
        "from lightkube.resources.core_v1 import Pod\n"
        "client = Client(KubeConfig.from_file(sys.argv[1]))\n"
        "print(client.namespace, len(list(client.list(Pod))))\n"
    )
    done = subprocess.run([sys.executable, "-c", program, str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["jobs", "0"]
    assert ("GET", "/api/v1/namespaces/jobs/pods") in fake_kubernetes.requests


async def test_version_and_discovery(fake_kubernetes: FakeKubernetes) -> None:
    async with httpx.AsyncClient(base_url=fake_kubernetes.url) as http:
        assert (await http.get("/version")).json()["major"] == "1"
        assert (await http.get("/api")).json()["versions"] == ["v1"]
        names = [r["name"] for r in (await http.get("/api/v1")).json()["resources"]]
        assert names == ["pods", "pods/log", "services", "secrets", "persistentvolumeclaims"]
        missing = await http.get("/api/v1/namespaces/x/configmaps")
        assert (missing.status_code, missing.json()["reason"]) == (404, "NotFound")
        assert missing.headers["content-type"] == "application/json"  # lightkube only decodes errors with exactly this


# -- create, get, list


async def test_create_returns_the_stored_pod_and_refuses_a_second(client: AsyncClient) -> None:
    created = await client.create(pod("op-1", {"openclara/job": "j1"}))
    assert created.metadata.namespace == "openclara"
    assert created.metadata.uid and created.metadata.creationTimestamp is not None
    assert int(created.metadata.resourceVersion) > 0
    assert created.status.phase == "Pending" and created.status.qosClass == "BestEffort"
    assert created.spec.terminationGracePeriodSeconds == 30  # defaulted

    error = await api_error(client.create(pod("op-1")))
    assert (error.status.code, error.status.reason) == (409, "AlreadyExists")
    assert error.status.message == 'pods "op-1" already exists'

    error = await api_error(client.get(Pod, "nope"))
    assert (error.status.code, error.status.reason, error.status.message) == (404, "NotFound", 'pods "nope" not found')
    assert (error.status.details.name, error.status.details.kind) == ("nope", "pods")
    assert (await client.get(Pod, "op-1")).metadata.uid == created.metadata.uid


async def test_invalid_names_and_labels_are_422(client: AsyncClient) -> None:
    error = await api_error(client.create(pod("Op_1")))
    assert (error.status.code, error.status.reason) == (422, "Invalid")
    assert error.status.message.startswith('Pod "Op_1" is invalid: metadata.name: Invalid value: "Op_1": a lowercase')

    error = await api_error(client.create(pod("op-2", {"openclara/operator": "-bad-"})))
    assert 'metadata.labels: Invalid value: "-bad-": a valid label must be' in error.status.message
    error = await api_error(client.create(pod("op-3", {"openclara/operator": "x" * 64})))
    assert "must be no more than 63 characters" in error.status.message

    error = await api_error(client.create(Pod(metadata=ObjectMeta(), spec=PodSpec(containers=[]))))
    assert error.status.message == 'Pod "" is invalid: [metadata.name: Required value: name or generateName is ' \
        "required, spec.containers: Required value]"  # fmt: skip
    assert [c.field for c in error.status.details.causes] == ["metadata.name", "spec.containers"]
    generated = await client.create(Pod(metadata=ObjectMeta(generateName="op-"), spec=pod("x").spec))
    assert generated.metadata.name.startswith("op-") and len(generated.metadata.name) == 8


async def test_list_by_labels_and_fields_in_chunks(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    fake_kubernetes.script = lambda _: PodScript(forever=True)
    for name, labels in [("a", {"job": "j1", "op": "x"}), ("b", {"job": "j1"}), ("c", {"job": "j2", "op": "y"})]:
        await client.create(pod(name, labels))

    async def names(**options: Any) -> list[str]:
        return [p.metadata.name async for p in client.list(Pod, **options)]

    assert await names(labels={"job": "j1"}) == ["a", "b"]
    assert await names(labels={"job": operators.not_equal("j1")}) == ["c"]
    assert await names(labels={"op": None}) == ["a", "c"]
    assert await names(labels={"op": operators.not_exists()}) == ["b"]
    assert await names(labels={"op": operators.in_(["x", "z"])}) == ["a"]
    assert await names(labels={"job": "j1", "op": operators.not_in(["x"])}) == ["b"]
    assert await names(fields={"metadata.name": "b"}) == ["b"]
    assert await names(fields={"status.phase": "Running"}, namespace="*") == ["a", "b", "c"]
    assert await names(namespace="elsewhere") == []

    listing = client.list(Pod, chunk_size=2)
    assert [p.metadata.name async for p in listing] == ["a", "b", "c"]
    assert int(listing.resourceVersion) > 0
    pages = [
        target
        for _, target in fake_kubernetes.requests
        if target.startswith("/api/v1/namespaces/openclara/pods?limit=2")
    ]
    assert len(pages) == 2 and "&continue=" in pages[1]

    error = await api_error(names(fields={"spec.containers": "x"}))
    assert (error.status.code, error.status.message) == (400, "field label not supported: spec.containers")


def test_label_selector_syntax() -> None:
    labels = {"metadata": {"labels": {"app": "triton", "tier": "gpu"}}}
    for selector, expected in [
        ("app==triton", True), ("app=triton,tier in (cpu, gpu)", True), ("app,!missing", True),
        ("tier notin (gpu)", False), ("missing notin (a)", True), ("app!=triton", False), ("", True),
    ]:  # fmt: skip
        assert label_selector(selector)(labels) is expected, selector


# -- watch


async def test_watch_follows_a_pod_from_creation_to_succeeded(client: AsyncClient) -> None:
    created = await client.create(pod("op-1"))
    events = await watch_pod(client, "op-1", resource_version=created.metadata.resourceVersion)

    assert {kind for kind, _ in events} == {"MODIFIED"}
    assert phases(events) == ["Pending", "Running", "Succeeded"]
    versions = [int(obj.metadata.resourceVersion) for _, obj in events]
    assert versions == sorted(versions) and versions[0] > int(created.metadata.resourceVersion)
    final = events[-1][1]
    assert final.spec.nodeName == "fake-node" and final.status.startTime is not None
    state = final.status.containerStatuses[0].state
    assert (state.terminated.exitCode, state.terminated.reason) == (0, "Completed")
    assert state.terminated.startedAt is not None and state.terminated.finishedAt is not None
    conditions = {c.type: (c.status, c.reason) for c in final.status.conditions}
    assert conditions["PodScheduled"] == ("True", None) and conditions["Initialized"] == ("True", None)
    assert conditions["Ready"] == conditions["ContainersReady"] == ("False", "PodCompleted")

    # Container states on the way: ContainerCreating, then running and ready.
    states = [obj.status.containerStatuses[0] for _, obj in events if obj.status.containerStatuses]
    assert states[0].state.waiting.reason == "ContainerCreating" and states[0].started is False
    running = next(s for s in states if s.state.running)
    assert running.ready and running.started and running.restartCount == 0 and running.containerID


async def test_watch_without_version_lists_first_and_resumes_from_a_version(
    fake_kubernetes: FakeKubernetes, client: AsyncClient
) -> None:
    fake_kubernetes.script = lambda _: PodScript(forever=True)
    await client.create(pod("old"))
    first = await watch_pod(client, "old", until=lambda kind, obj: obj.status.phase == "Running")
    assert first[0][0] == "ADDED"  # the synthetic ADDED of an object that existed before the watch

    # From a resourceVersion: only what came after, replayed from the history.
    since = first[-1][1].metadata.resourceVersion
    await client.delete(Pod, "old", grace_period=0)
    replayed = await watch_pod(client, "old", resource_version=since)
    assert [kind for kind, _ in replayed] == ["DELETED"]

    fake_kubernetes.compact()
    error = await api_error(watch_pod(client, "old", resource_version=since))
    assert (error.status.code, error.status.reason) == (410, "Expired")
    assert error.status.message.startswith(f"too old resource version: {since} (")


async def test_watch_by_phase_sees_pods_enter_and_leave_the_selection(client: AsyncClient) -> None:
    await client.create(pod("op-1"))
    seen: list[tuple[str, str]] = []
    async with asyncio.timeout(5), aclosing(client.watch(Pod, fields={"status.phase": "Running"})) as events:
        async for kind, obj in events:
            seen.append((kind, obj.status.phase))
            if kind == "DELETED":
                break
    # Leaving a field selector arrives as DELETED (carrying the new state), as the apiserver's watch cache does.
    assert seen == [("ADDED", "Running"), ("DELETED", "Succeeded")]


async def test_watch_server_timeout_reconnects_from_the_last_version(
    fake_kubernetes: FakeKubernetes, client: AsyncClient
) -> None:
    fake_kubernetes.script = lambda _: PodScript(forever=True)
    await client.create(pod("svc"))
    started = time.monotonic()
    seen = []
    async with asyncio.timeout(5), aclosing(client.watch(Pod, server_timeout=1)) as events:
        async for kind, obj in events:
            seen.append(kind)
            if obj.status.phase == "Running" and len(seen) == 1:
                running_version = obj.metadata.resourceVersion
                await asyncio.sleep(1.2)  # past the server's timeout: lightkube reconnects on its own
                await client.delete(Pod, "svc", grace_period=0)
            if kind == "DELETED":
                break
    assert seen == ["ADDED", "DELETED"] and time.monotonic() - started >= 1
    watches = [target for _, target in fake_kubernetes.requests if "watch=true" in target]
    assert len(watches) == 2
    assert "resourceVersion" not in watches[0] and f"resourceVersion={running_version}" in watches[1]
    assert "timeoutSeconds=1" in watches[1]


# -- logs


async def test_log_follow_streams_lines_while_running_and_ends_at_exit(
    fake_kubernetes: FakeKubernetes, client: AsyncClient
) -> None:
    fake_kubernetes.script = lambda _: PodScript(logs=("one", "two", "three"), duration=0.4, exit_code=2)
    await client.create(pod("op-1"))
    await watch_pod(client, "op-1", until=lambda kind, obj: obj.status.phase == "Running")

    arrivals = []
    async for line in client.log("op-1", follow=True):
        arrivals.append((line, (await client.get(Pod, "op-1")).status.phase))
    assert [line for line, _ in arrivals] == ["one\n", "two\n", "three\n"]
    assert arrivals[0][1] == "Running"  # delivered while the container still ran
    final = await client.get(Pod, "op-1")
    assert final.status.phase == "Failed"
    assert (
        final.status.containerStatuses[0].state.terminated.exitCode,
        final.status.containerStatuses[0].state.terminated.reason,
    ) == (2, "Error")

    assert await read_log(client, "op-1") == ["one\n", "two\n", "three\n"]
    assert await read_log(client, "op-1", tail_lines=1, newlines=False) == ["three"]
    stamped = await read_log(client, "op-1", timestamps=True, container="main")
    assert stamped[0].endswith("Z one\n") and stamped[0][:4].isdigit()
    error = await api_error(read_log(client, "op-1", container="sidecar"))
    assert (error.status.code, error.status.message) == (400, "container sidecar is not valid for pod op-1")
    assert (
        "GET",
        "/api/v1/namespaces/openclara/pods/op-1/log?timestamps=false&follow=true",
    ) in fake_kubernetes.requests


async def test_log_follow_ends_when_the_pod_is_deleted(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    fake_kubernetes.script = lambda _: PodScript(logs=("serving",), forever=True)
    await client.create(pod("triton"))
    await watch_pod(client, "triton", until=lambda kind, obj: obj.status.phase == "Running")
    await asyncio.sleep(0.1)

    async def follow() -> list[str]:
        return await read_log(client, "triton", follow=True)

    following = asyncio.create_task(follow())
    await asyncio.sleep(0.1)
    assert not following.done()
    await client.delete(Pod, "triton")
    assert await asyncio.wait_for(following, 2) == ["serving\n"]


async def test_log_of_a_container_that_has_not_started_is_400(
    fake_kubernetes: FakeKubernetes, client: AsyncClient
) -> None:
    fake_kubernetes.script = lambda p: PodScript(start_delay=10)
    await client.create(pod("slow"))
    await watch_pod(client, "slow", until=lambda kind, obj: bool(obj.status.containerStatuses))
    error = await api_error(read_log(client, "slow"))
    assert (error.status.code, error.status.reason) == (400, "BadRequest")
    assert error.status.message == 'container "main" in pod "slow" is waiting to start: ContainerCreating'

    # The same answer on a follow (lightkube 1.0.1 fails to raise it as an ApiError there: read it raw).
    async with httpx.AsyncClient(base_url=fake_kubernetes.url) as http:
        answer = await http.get("/api/v1/namespaces/openclara/pods/slow/log", params={"follow": "true"})
    assert answer.status_code == 400 and "is waiting to start: ContainerCreating" in answer.json()["message"]


# -- deletion


async def test_foreground_delete_with_grace_period(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    fake_kubernetes.script = lambda _: PodScript(forever=True)
    await client.create(pod("op-1"))
    running = await watch_pod(client, "op-1", until=lambda kind, obj: obj.status.phase == "Running")

    started = time.monotonic()
    await client.delete(Pod, "op-1", grace_period=30, cascade=CascadeType.FOREGROUND)
    since = running[-1][1].metadata.resourceVersion
    events = await watch_pod(client, "op-1", until=lambda kind, obj: kind == "DELETED", resource_version=since)
    assert 0.15 < time.monotonic() - started < 2  # 30 s, capped by fake.grace_cap

    assert [kind for kind, _ in events] == ["MODIFIED", "MODIFIED", "DELETED"]
    marked = events[0][1].metadata
    assert marked.deletionTimestamp is not None and marked.deletionGracePeriodSeconds == 30
    assert marked.finalizers == ["foregroundDeletion"]
    killed = events[1][1].status
    assert killed.phase == "Failed" and killed.containerStatuses[0].state.terminated.exitCode == 137
    assert ("DELETE", "/api/v1/namespaces/openclara/pods/op-1?gracePeriodSeconds=30&propagationPolicy=Foreground") in (
        fake_kubernetes.requests
    )
    assert fake_kubernetes.pods() == []
    error = await api_error(client.delete(Pod, "op-1"))
    assert (error.status.code, error.status.reason) == (404, "NotFound")


async def test_delete_options_in_a_json_body(fake_kubernetes: FakeKubernetes) -> None:
    fake_kubernetes.script = lambda _: PodScript(forever=True)
    body = {"metadata": {"name": "op-1"}, "spec": {"containers": [{"name": "main", "image": "busybox"}]}}
    async with httpx.AsyncClient(base_url=fake_kubernetes.url + "/api/v1/namespaces/jobs/pods") as http:
        assert (await http.post("/", json=body)).status_code == 404  # no redirect from a trailing slash
        assert (await http.post(fake_kubernetes.url + "/api/v1/namespaces/jobs/pods", json=body)).status_code == 201
        await asyncio.sleep(0.05)
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
        deleted = await http.request("DELETE", "/op-1", json=options | {"propagationPolicy": "Background"})
        assert deleted.status_code == 200 and deleted.json()["metadata"]["name"] == "op-1"
        assert (await http.get("/op-1")).status_code == 404  # grace 0: gone at once
    assert fake_kubernetes.delete_options[-1]["propagationPolicy"] == "Background"


async def test_deletecollection_by_label(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    fake_kubernetes.script = lambda _: PodScript(forever=True)
    for name, job in [("a", "j1"), ("b", "j1"), ("c", "j2")]:
        await client.create(pod(name, {"openclara/job": job}))
    # lightkube's deletecollection takes no selector: the labelSelector query is the executor's to send.
    async with httpx.AsyncClient(base_url=fake_kubernetes.url) as http:
        answer = await http.delete(
            "/api/v1/namespaces/openclara/pods", params={"labelSelector": "openclara/job=j1", "gracePeriodSeconds": "0"}
        )
    assert answer.json()["kind"] == "PodList"
    assert [p["metadata"]["name"] for p in answer.json()["items"]] == ["a", "b"]
    assert [p["metadata"]["name"] for p in fake_kubernetes.pods()] == ["c"]

    await client.deletecollection(Pod, grace_period=0)
    assert fake_kubernetes.pods() == []


# -- what the kubelet plays


async def test_image_pull_back_off(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    pulling = (("ErrImagePull", 'failed to pull "nope:1"'), ("ImagePullBackOff", 'Back-off pulling image "nope:1"'))
    fake_kubernetes.script = lambda _: PodScript(waiting_sequence=pulling, waiting_interval=0.02)
    await client.create(pod("op-1"))

    def backing_off(kind: str, obj: Pod) -> bool:
        statuses = obj.status.containerStatuses or []
        return bool(statuses) and statuses[0].state.waiting.reason == "ImagePullBackOff"

    events = await watch_pod(client, "op-1", until=backing_off)
    reasons = [
        obj.status.containerStatuses[0].state.waiting.reason for _, obj in events if obj.status.containerStatuses
    ]
    assert reasons[-3:] == ["ContainerCreating", "ErrImagePull", "ImagePullBackOff"]
    assert events[-1][1].status.containerStatuses[0].state.waiting.message == 'Back-off pulling image "nope:1"'
    await asyncio.sleep(0.1)
    assert fake_kubernetes.pods()[0]["status"]["phase"] == "Pending"  # the last reason sticks
    error = await api_error(read_log(client, "op-1"))
    assert (
        error.status.message == 'container "main" in pod "op-1" is waiting to start: trying and failing to pull image'
    )


async def test_eviction(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi."
    fake_kubernetes.script = lambda _: PodScript(evict=message, logs=("working",))
    await client.create(pod("op-1"))
    final = (await watch_pod(client, "op-1"))[-1][1].status
    assert (final.phase, final.reason, final.message) == ("Failed", "Evicted", message)
    assert final.containerStatuses[0].state.terminated.exitCode == 137
    disruption = next(c for c in final.conditions if c.type == "DisruptionTarget")
    assert (disruption.status, disruption.reason) == ("True", "TerminationByKubelet")
    assert await read_log(client, "op-1") == ["working\n"]


async def test_out_of_memory(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    fake_kubernetes.script = lambda _: PodScript(oom=True)
    await client.create(pod("op-1"))
    final = (await watch_pod(client, "op-1"))[-1][1].status
    terminated = final.containerStatuses[0].state.terminated
    assert (final.phase, terminated.reason, terminated.exitCode) == ("Failed", "OOMKilled", 137)


async def test_active_deadline_seconds(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    fake_kubernetes.deadline_scale = 0.1  # 2 s -> 0.2 s
    fake_kubernetes.script = lambda _: PodScript(forever=True)
    started = time.monotonic()
    await client.create(pod("op-1", activeDeadlineSeconds=2))
    final = (await watch_pod(client, "op-1"))[-1][1].status
    assert time.monotonic() - started >= 0.2
    assert (final.phase, final.reason, final.message) == ("Failed", "DeadlineExceeded", DEADLINE_MESSAGE)
    assert final.containerStatuses[0].state.terminated.exitCode == 137


async def test_unschedulable(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    message = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    fake_kubernetes.script = lambda _: PodScript(unschedulable=message)
    await client.create(pod("op-1"))
    events = await watch_pod(client, "op-1", until=lambda kind, obj: bool(obj.status.conditions))
    status = events[-1][1].status
    scheduled = status.conditions[0]
    assert (scheduled.type, scheduled.status, scheduled.reason, scheduled.message) == (
        "PodScheduled", "False", "Unschedulable", message,
    )  # fmt: skip
    assert status.phase == "Pending" and events[-1][1].spec.nodeName is None
    assert await read_log(client, "op-1") == []  # no node to ask: an empty log
    await client.delete(Pod, "op-1")  # not on a node: deleted at once, whatever the grace period
    assert fake_kubernetes.pods() == []


async def test_run_reads_inputs_and_writes_outputs_through_the_mounts(
    fake_kubernetes: FakeKubernetes, client: AsyncClient, tmp_path: Path
) -> None:
    fake_kubernetes.volumes["payloads"] = tmp_path
    (tmp_path / "p1" / "input").mkdir(parents=True)
    (tmp_path / "p1" / "input" / "in.txt").write_text("hello")
    refused: list[int] = []

    def operator(p: dict[str, Any]) -> int:
        source, read_only = mounted_path(fake_kubernetes, p, "/input/in.txt")
        assert read_only and source == tmp_path / "p1" / "input" / "in.txt"
        write_file(fake_kubernetes, p, "/output/out.txt", source.read_text().upper())
        try:
            write_file(fake_kubernetes, p, "/input/tamper.txt", "x")
        except OSError as exc:
            refused.append(exc.errno)
        return 0

    fake_kubernetes.script = lambda _: PodScript(run=operator)
    mounts = [
        VolumeMount(name="payloads", mountPath="/input", subPath="p1/input", readOnly=True),
        VolumeMount(name="payloads", mountPath="/output", subPath="p1/operators/op/output"),
    ]
    container = Container(name="main", image="operators:1", volumeMounts=mounts)
    volume = Volume(name="payloads", persistentVolumeClaim=PersistentVolumeClaimVolumeSource(claimName="payloads"))
    await client.create(pod("op-1", containers=[container], volumes=[volume]))

    final = (await watch_pod(client, "op-1"))[-1][1].status
    assert final.phase == "Succeeded"
    assert (tmp_path / "p1" / "operators" / "op" / "output" / "out.txt").read_text() == "HELLO"
    assert refused == [errno.EROFS] and not (tmp_path / "p1" / "input" / "tamper.txt").exists()


async def test_a_failing_run_prints_its_traceback(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    def crash(p: dict[str, Any]) -> int:
        raise ValueError("no DICOM input")

    fake_kubernetes.script = lambda p: (
        PodScript(run=crash) if p["metadata"]["name"] == "crash" else PodScript(run=lambda _: 3)
    )
    await client.create(pod("crash"))
    await client.create(pod("three"))
    crashed = (await watch_pod(client, "crash"))[-1][1].status.containerStatuses[0].state.terminated
    assert (crashed.exitCode, crashed.reason) == (1, "Error")
    log = await read_log(client, "crash")
    assert log[0] == "Traceback (most recent call last):\n" and log[-1] == "ValueError: no DICOM input\n"
    three = (await watch_pod(client, "three"))[-1][1].status.containerStatuses[0].state.terminated
    assert three.exitCode == 3


# -- services and readiness


async def test_service_pod_turns_ready_and_its_service_gets_a_cluster_ip(
    fake_kubernetes: FakeKubernetes, client: AsyncClient
) -> None:
    fake_kubernetes.script = lambda p: PodScript(
        forever=True, ready_after=0.1, never_ready=p["metadata"]["name"] == "stuck"
    )
    probe = Probe(exec=ExecAction(command=["true"]))
    for name in ("triton", "stuck"):
        await client.create(
            pod(name, {"app": name}, containers=[Container(name="server", image="triton:1", readinessProbe=probe)])
        )

    events = await watch_pod(client, "triton", until=lambda kind, obj: any(
        c.type == "Ready" and c.status == "True" for c in obj.status.conditions or []
    ))  # fmt: skip
    running = next(obj for _, obj in events if obj.status.phase == "Running")
    assert running.status.containerStatuses[0].ready is False  # not before its probe passed
    assert events[-1][1].status.containerStatuses[0].ready is True
    await asyncio.sleep(0.2)
    stuck = await client.get(Pod, "stuck")
    ready = next(c for c in stuck.status.conditions if c.type == "Ready")
    assert (stuck.status.phase, ready.status, ready.reason) == ("Running", "False", "ContainersNotReady")

    spec = ServiceSpec(selector={"app": "triton"}, ports=[ServicePort(name="grpc", port=8001)])
    service = await client.create(Service(metadata=ObjectMeta(name="triton"), spec=spec))
    assert service.spec.type == "ClusterIP" and service.spec.clusterIP.startswith("10.96.")
    assert (service.spec.ports[0].protocol, service.spec.ports[0].targetPort) == ("TCP", 8001)
    assert (await api_error(client.create(Service(metadata=ObjectMeta(name="triton"), spec=spec)))).status.code == 409
    error = await api_error(client.create(Service(metadata=ObjectMeta(name="1triton"), spec=spec)))
    assert "a DNS-1035 label must consist of lower case alphanumeric characters" in error.status.message
    assert [s.metadata.name async for s in client.list(Service, labels={"missing": None})] == []

    await client.delete(Service, "triton", cascade=CascadeType.FOREGROUND)
    await asyncio.sleep(0.05)
    assert fake_kubernetes.services() == []


# -- injected failures and restarts


async def test_injected_failures(fake_kubernetes: FakeKubernetes, client: AsyncClient) -> None:
    fake_kubernetes.fail_next("POST", "/pods", 500)
    error = await api_error(client.create(pod("op-1")))
    assert (error.status.code, error.status.reason) == (500, "InternalError")
    fake_kubernetes.fail_next("post", "/pods", 409, "AlreadyExists", 'pods "op-1" already exists')
    assert (await api_error(client.create(pod("op-1")))).status.message == 'pods "op-1" already exists'
    assert (await client.create(pod("op-1"))).metadata.name == "op-1"  # each failure is played once
    assert fake_kubernetes.pods()[0]["metadata"]["name"] == "op-1"


async def test_restart_keeps_objects_and_drops_connections(
    fake_kubernetes: FakeKubernetes, client: AsyncClient
) -> None:
    fake_kubernetes.script = lambda _: PodScript(forever=True)
    await client.create(pod("op-1"))
    port = fake_kubernetes.port

    async def watch_all() -> None:
        async for _ in client.watch(Pod):
            pass

    watching = asyncio.create_task(watch_all())
    await asyncio.sleep(0.1)
    fake_kubernetes.reset_connections()
    with pytest.raises(httpx2.TransportError):  # the stream broke off: lightkube's default on_error raises
        await asyncio.wait_for(watching, 2)

    await asyncio.to_thread(fake_kubernetes.stop)
    with pytest.raises(httpx2.ConnectError):
        await client.get(Pod, "op-1")
    await asyncio.to_thread(fake_kubernetes.start)
    assert fake_kubernetes.port == port
    assert (await client.get(Pod, "op-1")).status.phase == "Running"
