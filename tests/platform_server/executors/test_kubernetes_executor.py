"""The Kubernetes executor against a fake API server on a real socket (tests/kube_api): the calls it makes and
how every way a pod can end reaches the job. The pod specs themselves run under Podman in test_pods_podman.py."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from openclara.auth.credentials import ENV_TOKEN
from platform_server.executors.base import ExecutorError, Mount, OperatorRun, Outcome, ResourceRequest, ServiceRun
from platform_server.executors.kubeclient import connect
from platform_server.executors.kubernetes import KubernetesExecutor, KubernetesOptions
from platform_server.executors.pods import JOB_LABEL, PLATFORM_LABEL, PodOptions, SharedClaim, secret_name
from tests.deploy.chart import FULLNAME, render
from tests.kube_api import FakeKubernetes, PodScript, container_env, mounted_path, write_file

JOB = "feedface" * 4
NAMESPACE = "clara"
TOKEN = "operators-token-for-tests"


@pytest.fixture
async def executor(fake_kubernetes: FakeKubernetes, tmp_path: Path) -> AsyncIterator[KubernetesExecutor]:
    shared = tmp_path / "shared"
    shared.mkdir()
    fake_kubernetes.volumes = {"oc-shared": shared}
    fake_kubernetes.add_claim("oc-shared", NAMESPACE)
    kubeconfig = fake_kubernetes.kubeconfig(tmp_path / "kubeconfig", namespace=NAMESPACE)
    pods = PodOptions(namespace="unset", platform_id="platform-a",
                      claims=(SharedClaim("oc-shared", PurePosixPath(shared)),), kill_grace=1.0)
    built = KubernetesExecutor(lambda: connect(kubeconfig, None),
                               KubernetesOptions(pods=pods, platform_host="oc-platform", schedule_timeout=5))
    await built.start()
    yield built
    await built.close()


def operator_run(tmp_path: Path, operator: str = "seg", timeout: float = 30, **changes: Any) -> OperatorRun:
    payload = tmp_path / "shared" / "payloads" / "p1"
    (payload / "input").mkdir(parents=True, exist_ok=True)
    (payload / "input" / "study.txt").write_text("ct\n")
    base: dict[str, Any] = {
        "job_id": JOB, "operator": operator, "image": "registry.example/seg:1", "command": ("seg",),
        "inputs": (Mount("payload", "/input", payload / "input", True),),
        "outputs": (Mount("output", "/output", payload / "operators" / operator / "output", False),),
        "env": {"CLARA_SERVICE_HOST": "127.0.0.1", "OPENCLARA_PAYLOAD_PATH": str(payload)},
        "work_dir": tmp_path / "work", "log_path": tmp_path / "logs" / f"{operator}.log", "timeout": timeout,
    }
    return OperatorRun(**{**base, **changes})


def script(fake: FakeKubernetes, **fields: Any) -> None:
    fake.script = lambda pod: PodScript(**fields)


async def test_operator_reads_its_input_writes_its_output_and_its_log_reaches_the_file(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def operator(pod: dict[str, Any]) -> int:
        source, _ = mounted_path(fake_kubernetes, pod, "/input")
        write_file(fake_kubernetes, pod, "/output/mask.txt", (source / "study.txt").read_bytes().upper())
        seen["env"] = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
        try:
            write_file(fake_kubernetes, pod, "/input/x", b"no")
        except OSError as exc:
            seen["input"] = str(exc)
        return 0

    script(fake_kubernetes, run=operator, logs=("loading", "segmenting", "done"), duration=0.2)
    run = operator_run(tmp_path)
    result = await executor.run(run)
    assert result.outcome == Outcome.COMPLETED, result
    assert (run.outputs[0].host_path / "mask.txt").read_bytes() == b"CT\n"
    assert "Read-only" in seen["input"]
    assert seen["env"]["CLARA_SERVICE_HOST"] == "oc-platform"  # loopback means nothing inside a pod
    assert "OPENCLARA_PAYLOAD_PATH" not in seen["env"]
    assert seen["env"]["NVIDIA_CLARA_INPUTPATHS"] == "payload:/input"
    assert run.log_path.read_text().splitlines() == ["loading", "segmenting", "done"]
    await asyncio.sleep(0.5)
    assert fake_kubernetes.pods(NAMESPACE) == []  # deleted once the job had the result


async def test_failing_operator_reports_its_exit_code_and_last_lines(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, logs=("reading", "Traceback: no CT series"), exit_code=3)
    result = await executor.run(operator_run(tmp_path))
    assert (result.outcome, result.exit_code) == (Outcome.FAILED, 3)
    assert result.reason == "operator 'seg' exited with code 3"
    assert result.last_lines[-1] == "Traceback: no CT series"


async def test_oom_killed_operator_names_its_memory_limit(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, oom=True)
    result = await executor.run(operator_run(tmp_path, resources=ResourceRequest(memory_mb=512)))
    assert result.outcome == Outcome.FAILED
    assert result.reason == "operator 'seg' was killed: out of memory (memory limit 512 MiB), exit code 137"


async def test_evicted_pod_says_why_the_node_evicted_it(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, evict="The node was low on resource: ephemeral-storage.")
    result = await executor.run(operator_run(tmp_path))
    assert result.outcome == Outcome.FAILED
    assert "evicted from its node: The node was low on resource: ephemeral-storage." in result.reason


async def test_image_pull_backoff_fails_at_once_with_the_kubelets_message(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, waiting_sequence=(
        ("ErrImagePull", 'failed to pull image "registry.example/seg:1": not found'),
        ("ImagePullBackOff", 'Back-off pulling image "registry.example/seg:1"')))
    run = operator_run(tmp_path)
    result = await executor.run(run)
    assert result.outcome == Outcome.NOT_STARTED
    assert result.reason == ("operator 'seg' (registry.example/seg:1): its image cannot be pulled: ImagePullBackOff: "
                             'Back-off pulling image "registry.example/seg:1"')
    assert result.reason in run.log_path.read_text()  # ReadLogs says it too


async def test_pod_no_node_can_take_fails_after_the_schedule_timeout(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    executor.options = executor.options.__class__(**{**executor.options.__dict__, "schedule_timeout": 0.5})
    script(fake_kubernetes, unschedulable="0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")
    result = await executor.run(operator_run(tmp_path, resources=ResourceRequest(gpu=1)))
    assert result.outcome == Outcome.NOT_STARTED
    assert result.reason == ("operator 'seg': no node could run its pod within 0.5 s: "
                             "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")


async def test_active_deadline_is_the_operators_timeout(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, forever=True, logs=("working",))
    result = await executor.run(operator_run(tmp_path, timeout=1))
    assert result.outcome == Outcome.TIMED_OUT
    assert result.reason == "operator 'seg' timed out after 1 s and was stopped"


async def test_cancel_deletes_the_pod_in_the_foreground(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, forever=True)
    task = asyncio.create_task(executor.run(operator_run(tmp_path)))
    await asyncio.sleep(0.5)
    assert len(fake_kubernetes.pods(NAMESPACE)) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    expected = {"propagationPolicy": "Foreground", "gracePeriodSeconds": 1}
    assert expected.items() <= fake_kubernetes.delete_options[0].items()
    await asyncio.sleep(0.6)
    assert fake_kubernetes.pods(NAMESPACE) == []


async def test_pod_deleted_by_someone_else_fails_the_operator(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, forever=True)
    task = asyncio.create_task(executor.run(operator_run(tmp_path)))
    await asyncio.sleep(0.5)
    [pod] = fake_kubernetes.pods(NAMESPACE)
    await executor.api.delete(type(await executor.api.get_pod(pod["metadata"]["name"])), pod["metadata"]["name"], 0)
    result = await asyncio.wait_for(task, 10)
    assert result.outcome == Outcome.FAILED


async def test_leftover_pod_of_the_same_name_is_replaced(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, forever=True)
    first = asyncio.create_task(executor.run(operator_run(tmp_path)))
    await asyncio.sleep(0.3)
    script(fake_kubernetes, logs=("second attempt",))
    result = await executor.run(operator_run(tmp_path))  # e.g. the job run again after a platform crash
    assert result.ok, result
    assert await asyncio.wait_for(first, 10) is not None


async def test_folder_outside_the_shared_claim_is_not_started(
        executor: KubernetesExecutor, tmp_path: Path) -> None:
    run = operator_run(tmp_path, inputs=(Mount("payload", "/input", tmp_path / "elsewhere", True),))
    result = await executor.run(run)
    assert result.outcome == Outcome.NOT_STARTED
    assert "on no shared volume" in result.reason


async def test_api_server_refusing_the_pod_is_not_started_with_its_message(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    fake_kubernetes.fail_next("POST", "/pods", 403, "Forbidden",
                              'pods is forbidden: User "system:serviceaccount:clara:oc" cannot create resource "pods"')
    result = await executor.run(operator_run(tmp_path))
    assert result.outcome == Outcome.NOT_STARTED
    assert "403 Forbidden" in result.reason and "cannot create resource" in result.reason


async def test_api_server_down_is_not_started(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    fake_kubernetes.stop()
    try:
        result = await executor.run(operator_run(tmp_path))
    finally:
        fake_kubernetes.start()
    assert result.outcome == Outcome.NOT_STARTED
    assert "Kubernetes API: creating Pod" in result.reason


async def test_api_server_restart_while_the_operator_runs_loses_neither_result_nor_log(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, logs=tuple(f"slice {i}" for i in range(10)), duration=2.0, exit_code=0)
    run = operator_run(tmp_path)
    task = asyncio.create_task(executor.run(run))
    await asyncio.sleep(0.6)
    fake_kubernetes.stop()  # the pod goes on running on its node meanwhile
    await asyncio.sleep(0.8)
    fake_kubernetes.start()
    result = await asyncio.wait_for(task, 20)
    assert result.outcome == Outcome.COMPLETED, result
    assert run.log_path.read_text().splitlines() == [f"slice {i}" for i in range(10)]


async def test_start_sweeps_this_platforms_leftovers_only(fake_kubernetes: FakeKubernetes, tmp_path: Path,
                                                          executor: KubernetesExecutor) -> None:
    script(fake_kubernetes, forever=True)
    running = asyncio.create_task(executor.run(operator_run(tmp_path, operator="a")))
    await asyncio.sleep(0.3)
    other = executor.options.pods.__class__(**{**executor.options.pods.__dict__, "platform_id": "platform-b"})
    foreign = KubernetesExecutor(executor._connect, KubernetesOptions(pods=other))
    await foreign.start()
    assert len(fake_kubernetes.pods(NAMESPACE)) == 1  # platform-b leaves platform-a's pod alone
    again = KubernetesExecutor(executor._connect, executor.options)
    await again.start()  # platform-a restarted: its pod is a crash's leftover
    result = await asyncio.wait_for(running, 10)
    assert result.outcome == Outcome.FAILED
    for built in (foreign, again):
        await built.close()


async def test_a_missing_shared_claim_stops_the_platform_from_starting(
        executor: KubernetesExecutor, tmp_path: Path) -> None:
    pods = executor.options.pods.__class__(**{**executor.options.pods.__dict__, "claims": (
        SharedClaim("not-there", PurePosixPath(tmp_path)),)})
    built = KubernetesExecutor(executor._connect, KubernetesOptions(pods=pods))
    with pytest.raises(ExecutorError, match="claim 'not-there' does not exist in namespace 'clara'"):
        await built.start()
    await built.close()


async def test_reap_deletes_the_jobs_pods_and_services(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, forever=True)
    task = asyncio.create_task(executor.run(operator_run(tmp_path)))
    await asyncio.sleep(0.3)
    assert await executor.reap(JOB, tmp_path) == 1
    await asyncio.wait_for(task, 10)
    labels = {JOB_LABEL: JOB, PLATFORM_LABEL: "platform-a"}
    assert all(not labels.items() <= p["metadata"]["labels"].items() for p in fake_kubernetes.pods(NAMESPACE))


def service_run(tmp_path: Path, timeout: float = 5) -> ServiceRun:
    models = tmp_path / "shared" / "models" / "liver"
    models.mkdir(parents=True, exist_ok=True)
    return ServiceRun(job_id=JOB, name="triton", image="registry.example/triton:1", command=("tritonserver",),
                      env={"NVIDIA_CLARA_SERVICE_DATA_PATH": "/clara/service-data"}, ports=(8000, 8001),
                      log_path=tmp_path / "logs" / "service-triton.log", ready_timeout=timeout,
                      mounts=(Mount("model-liver", "/clara/service-data/models/liver", models, True),))


async def test_service_is_a_pod_behind_a_cluster_ip_service_reached_by_name(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, forever=True, ready_after=0.2, logs=("model liver loaded",))
    addresses = await executor.start_service(service_run(tmp_path))
    [service] = fake_kubernetes.services(NAMESPACE)
    name = service["metadata"]["name"]
    assert addresses == {8000: f"{name}:8000", 8001: f"{name}:8001"}
    assert [p["port"] for p in service["spec"]["ports"]] == [8000, 8001]
    await executor.end_job(JOB)
    await asyncio.sleep(0.8)
    assert fake_kubernetes.services(NAMESPACE) == [] and fake_kubernetes.pods(NAMESPACE) == []
    assert "model liver loaded" in (tmp_path / "logs" / "service-triton.log").read_text()


async def test_service_never_ready_fails_with_its_last_log_lines(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, forever=True, never_ready=True, logs=("error: model store is empty",))
    with pytest.raises(ExecutorError, match=r"(?s)was not ready \(port 8000\) within 1 s.*model store is empty"):
        await executor.start_service(service_run(tmp_path, timeout=1))


async def test_service_whose_image_cannot_be_pulled_fails_at_once(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, waiting=("ImagePullBackOff", 'Back-off pulling image "registry.example/triton:1"'))
    with pytest.raises(ExecutorError, match="cannot start: ImagePullBackOff"):
        await executor.start_service(service_run(tmp_path, timeout=10))


def with_token(run: OperatorRun) -> OperatorRun:
    return dataclasses.replace(run, env={**run.env, ENV_TOKEN: TOKEN})


def created(fake: FakeKubernetes) -> list[str]:
    """The resources the executor created, in order."""
    return [path.split("?")[0].rsplit("/", 1)[1] for method, path in fake.requests if method == "POST"]


async def wait_until_gone(fake: FakeKubernetes) -> None:
    async with asyncio.timeout(5):
        while fake.secrets(NAMESPACE) or fake.pods(NAMESPACE):
            await asyncio.sleep(0.05)


async def test_the_token_reaches_the_operator_from_the_jobs_secret_never_from_the_pod_spec(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def operator(pod: dict[str, Any]) -> int:
        seen["env"], seen["spec"] = container_env(fake_kubernetes, pod), pod["spec"]
        seen["secrets"] = fake_kubernetes.secrets(NAMESPACE)
        return 0

    script(fake_kubernetes, run=operator)
    result = await executor.run(with_token(operator_run(tmp_path)))
    assert result.ok, result
    assert seen["env"][ENV_TOKEN] == TOKEN
    assert TOKEN not in json.dumps(seen["spec"])
    [entry] = [e for e in seen["spec"]["containers"][0]["env"] if e["name"] == ENV_TOKEN]
    assert entry == {"name": ENV_TOKEN, "valueFrom": {"secretKeyRef": {"name": secret_name(JOB), "key": ENV_TOKEN}}}
    [secret] = seen["secrets"]
    assert secret["metadata"]["name"] == secret_name(JOB)
    assert {JOB_LABEL: JOB, PLATFORM_LABEL: "platform-a"}.items() <= secret["metadata"]["labels"].items()
    assert (secret["type"], secret["immutable"]) == ("Opaque", True)
    assert base64.b64decode(secret["data"][ENV_TOKEN]).decode() == TOKEN
    assert created(fake_kubernetes) == ["secrets", "pods"]  # the Secret first: a pod without it would not start
    assert len(fake_kubernetes.secrets(NAMESPACE)) == 1  # the job's next operators read it too
    await executor.end_job(JOB)
    await wait_until_gone(fake_kubernetes)


async def test_operators_of_one_job_running_at_once_share_one_secret(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    tokens: list[str] = []
    script(fake_kubernetes, run=lambda pod: tokens.append(container_env(fake_kubernetes, pod)[ENV_TOKEN]))
    runs = [with_token(operator_run(tmp_path, operator=name)) for name in ("a", "b", "c")]
    results = await asyncio.gather(*(executor.run(run) for run in runs))
    assert all(result.ok for result in results), results
    assert tokens == [TOKEN] * 3
    assert created(fake_kubernetes) == ["secrets", "pods", "pods", "pods"]
    await executor.end_job(JOB)
    await wait_until_gone(fake_kubernetes)


async def test_a_refused_secret_means_not_started_and_no_pod(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    fake_kubernetes.fail_next("POST", "/secrets", 403, "Forbidden",
                              'secrets is forbidden: User "system:serviceaccount:clara:oc" cannot create resource '
                              '"secrets"')
    result = await executor.run(with_token(operator_run(tmp_path)))
    assert result.outcome == Outcome.NOT_STARTED
    assert "creating Secret" in result.reason and "403 Forbidden" in result.reason, result.reason
    assert fake_kubernetes.pods(NAMESPACE) == []
    script(fake_kubernetes)
    assert (await executor.run(with_token(operator_run(tmp_path)))).ok  # the next operator tries again


async def test_reap_and_the_startup_sweep_delete_secrets_too(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, forever=True)
    task = asyncio.create_task(executor.run(with_token(operator_run(tmp_path))))
    async with asyncio.timeout(5):
        while not fake_kubernetes.pods(NAMESPACE):
            await asyncio.sleep(0.05)
    assert await executor.reap(JOB, tmp_path) == 1
    await asyncio.wait_for(task, 10)
    await wait_until_gone(fake_kubernetes)

    other = JOB.replace("f", "e")
    crashed = asyncio.create_task(executor.run(with_token(operator_run(tmp_path, job_id=other))))
    async with asyncio.timeout(5):
        while not fake_kubernetes.pods(NAMESPACE):
            await asyncio.sleep(0.05)
    foreign = KubernetesExecutor(executor._connect, KubernetesOptions(
        pods=dataclasses.replace(executor.options.pods, platform_id="platform-b")))
    await foreign.start()
    assert [s["metadata"]["name"] for s in fake_kubernetes.secrets(NAMESPACE)] == [secret_name(other)]
    again = KubernetesExecutor(executor._connect, executor.options)
    await again.start()  # platform-a after a crash: the job's pod and Secret are leftovers
    await asyncio.wait_for(crashed, 10)
    await wait_until_gone(fake_kubernetes)
    for built in (foreign, again):
        await built.close()


def rbac_verb(method: str, target: str) -> tuple[str, str] | None:
    """The (resource, verb) RBAC checks for one API request; None for discovery."""
    path, _, query = target.partition("?")
    parts = path.removeprefix("/api/v1/namespaces/").split("/")
    if not path.startswith("/api/v1/namespaces/") or len(parts) < 2:
        return None
    if len(parts) == 4:  # a subresource: pods/<name>/log
        return f"{parts[1]}/{parts[3]}", "get"
    collection = len(parts) == 2
    verbs = {("GET", True): "watch" if "watch=true" in query else "list", ("GET", False): "get",
             ("POST", True): "create", ("DELETE", True): "deletecollection", ("DELETE", False): "delete"}
    return parts[1], verbs[method, collection]


async def test_the_charts_role_allows_every_call_the_executor_makes(
        executor: KubernetesExecutor, fake_kubernetes: FakeKubernetes, tmp_path: Path) -> None:
    script(fake_kubernetes, forever=True, ready_after=0.1, logs=("ready",))
    await executor.start_service(service_run(tmp_path))
    script(fake_kubernetes, logs=("done",))
    assert (await executor.run(with_token(operator_run(tmp_path)))).ok
    await executor.end_job(JOB)
    await wait_until_gone(fake_kubernetes)
    await executor.reap(JOB, tmp_path)
    role = render("default").get("Role", f"{FULLNAME}-platform")
    allowed = {(resource, verb) for rule in role["rules"] for resource in rule["resources"] for verb in rule["verbs"]}
    used = {verb for method, target in fake_kubernetes.requests if (verb := rbac_verb(method, target))}
    assert {("secrets", "create"), ("secrets", "list"), ("secrets", "delete")} <= used
    assert used <= allowed, used - allowed
