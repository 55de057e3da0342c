"""The Kubernetes executor's pod specs (executors/pods.py) run for real with `podman kube play`.

The operator writes its output, cannot write its input, and the platform reads the result from the shared
folder, and gets the operators' API token from the job's Secret; chained operators, exit codes and a service pod
too. Every manifest is first validated against the Kubernetes 1.29 schemas, then given to Podman with two
translations (see `resolve_sub_paths` and `create_secret`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import kubernetes_validate
import pytest
import yaml

from openclara.auth.credentials import ENV_TOKEN
from platform_server.executors.base import Mount, OperatorRun, ResourceRequest, ServiceRun
from platform_server.executors.environment import container_environment
from platform_server.executors.pods import (
    OPERATOR_CONTAINER,
    PLATFORM_LABEL,
    SERVICE_CONTAINER,
    Manifest,
    PodOptions,
    SharedClaim,
    cluster_service,
    job_secret,
    operator_pod,
    secret_values,
    service_pod,
)
from platform_server.jobs.runner import MODELS_PATH, PAYLOAD_MOUNTS
from platform_server.jobs.services import SERVICE_DATA_PATH
from platform_server.payloads.store import INPUT, OPERATORS
from tests.support.containers import leftover_containers, podman_env, run_podman
from tests.support.pods import resolve_sub_paths

pytestmark = pytest.mark.usefixtures("podman")

CLAIM = "openclara-shared"
KUBERNETES_VERSION = "1.29.0"
PLATFORM_UID = 1000  # the platform image's user (Dockerfile): it makes the output folders on the claim
TOKEN = "operators-token-for-podman"


@dataclass(frozen=True)
class Shared:
    """The platform's shared folder (what the claim holds), laid out as the platform lays it out."""

    root: Path
    payload_id: str

    @property
    def payload(self) -> Path:
        return self.root / "payloads" / self.payload_id

    @property
    def input(self) -> Path:
        return self.payload / INPUT

    @property
    def models(self) -> Path:
        return self.root / "models"

    def output(self, operator: str, name: str) -> Path:
        return self.payload / OPERATORS / operator / name


@dataclass(frozen=True)
class Ended:
    exit_code: int
    logs: str


@pytest.fixture
def shared(tmp_path: Path) -> Shared:
    folders = Shared(tmp_path / "shared", uuid.uuid4().hex)
    folders.input.mkdir(parents=True)
    (folders.input / "study.txt").write_text("CT study\n")
    (folders.models / "seg").mkdir(parents=True)
    (folders.models / "seg" / "config.pbtxt").write_text('name: "seg"\n')
    return folders


def options(shared: Shared, **overrides: object) -> PodOptions:
    values: dict[str, object] = dict(
        namespace="openclara",
        platform_id=f"test-{uuid.uuid4().hex[:8]}",
        claims=(SharedClaim(CLAIM, PurePosixPath(shared.root)),),
    )
    values.update(overrides)
    return PodOptions(**values)  # type: ignore[arg-type]


def operator_run(
    shared: Shared,
    operator: str,
    image: str,
    command: Sequence[str],
    inputs: Sequence[Mount],
    job_id: str | None = None,
) -> OperatorRun:
    """One operator with one output `result` at /output, its environment built as the job runner builds it."""
    job_id = job_id or uuid.uuid4().hex
    outputs = (Mount("result", "/output", shared.output(operator, "result"), False),)
    models = Mount("models", MODELS_PATH, shared.models, True)
    env = {
        "NVIDIA_CLARA_JOBID": job_id, "NVIDIA_CLARA_PAYLOADID": shared.payload_id, "NVIDIA_CLARA_STAGENAME": operator,
        "NVIDIA_CLARA_MODEL_REPOSITORY": str(shared.models), "OPENCLARA_PAYLOAD_PATH": str(shared.payload),
        PAYLOAD_MOUNTS: ";".join(f"{m.container_path}={m.host_path.relative_to(shared.payload).as_posix()}"
                                 for m in (*inputs, *outputs)),
        "CLARA_RESULTSSERVICE_SERVICE_HOST": "openclara-results", ENV_TOKEN: TOKEN,
    }  # fmt: skip
    return OperatorRun(
        job_id=job_id, operator=operator, image=image, command=tuple(command),
        inputs=tuple(inputs), outputs=outputs, env=env, work_dir=shared.root.parent / "work",
        log_path=shared.root.parent / "logs" / f"{operator}.log", timeout=60, extra_mounts=(models,),
    )  # fmt: skip


def payload_input(shared: Shared) -> Mount:
    return Mount("payload", "/input", shared.input, True)


def create_secret(secret: Manifest) -> str:
    """The Secret as Podman 4.3 reads a `secretKeyRef`: a podman secret of its name holding the JSON of its `data`.

    `podman kube play` of a Secret document makes a podman secret holding the YAML, which 4.3's `secretKeyRef`
    then refuses ("is not valid JSON"); what it reads is a JSON object of key -> base64 value, the Secret's
    `data` as it stands. Returns the secret's name.
    """
    name: str = secret["metadata"]["name"]
    data = json.dumps(secret["data"]).encode()
    subprocess.run(["podman", "secret", "create", name, "-"], input=data, env={**os.environ, **podman_env()},
                   check=True, capture_output=True, timeout=60)
    return name


def podman_secrets() -> list[str]:
    return run_podman("secret", "ls", "--format", "{{.Name}}").stdout.split()


@contextmanager
def played(manifests: Sequence[Manifest], shared: Shared, platform_id: str) -> Iterator[None]:
    """`podman kube play` the manifests (validated first; Secrets by `create_secret`); `podman kube down` them
    (and remove the Secrets) however the block ends."""
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    secrets = [m for m in manifests if m["kind"] == "Secret"]
    documents = [resolve_sub_paths(m, {CLAIM: shared.root}) for m in manifests if m["kind"] != "Secret"]
    path = shared.root.parent / f"kube-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    names: list[str] = []
    try:
        names.extend(create_secret(secret) for secret in secrets)
        run_podman("kube", "play", str(path), timeout=60)
        yield
    finally:
        for pod in (m for m in manifests if m["kind"] == "Pod"):
            # Podman 4.3 ignores terminationGracePeriodSeconds (and activeDeadlineSeconds, readinessProbe):
            # stop with the pod's grace as the kubelet would, not podman's 10 s default.
            grace = str(pod["spec"]["terminationGracePeriodSeconds"])
            run_podman("pod", "stop", "--time", grace, pod["metadata"]["name"], check=False, timeout=60)
        run_podman("kube", "down", str(path), check=False, timeout=60)
        for name in names:
            run_podman("secret", "rm", name, check=False)
    assert leftover_containers(f"{PLATFORM_LABEL}={platform_id}") == []
    assert not set(names) & set(podman_secrets())


def run_operator(run: OperatorRun, shared: Shared, pod_options: PodOptions) -> Ended:
    """What the Kubernetes executor does with `run`, with Podman as the cluster: outputs made, pod run to its end."""
    for mount in run.outputs:  # the executor makes them (the operator's user may not create folders there)
        mount.host_path.mkdir(parents=True, exist_ok=True)
    env = container_environment(run.env, run.inputs, run.outputs, run.extra_mounts)
    pod = operator_pod(run, env, pod_options)
    assert TOKEN not in json.dumps(pod)  # only in the job's Secret
    container = f"{pod['metadata']['name']}-{OPERATOR_CONTAINER}"
    with played([job_secret(run.job_id, secret_values(env), pod_options), pod], shared, pod_options.platform_id):
        exit_code = int(run_podman("wait", container, timeout=60).stdout.strip())
        logs = run_podman("logs", container)
    return Ended(exit_code, logs.stdout + logs.stderr)


def environment(logs: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in logs.splitlines() if "=" in line)
    return {key: value for key, value in pairs if key.isidentifier()}


def test_operator_writes_its_output_cannot_write_its_input_and_the_platform_reads_the_result(
    shared: Shared, busybox_image: str
) -> None:
    """As a production deployment runs it: the operator as the platform's user, who owns the shared folders."""
    script = (
        "cp /input/study.txt /output/study.txt; copied=$?; "
        "echo x > /input/new.txt; echo x > /clara/models/new.txt; "
        "echo uid=$(id -u) gid=$(id -g); echo model=$(cat /clara/models/seg/config.pbtxt); env; exit $copied"
    )
    run = operator_run(shared, "copy", busybox_image, ["sh", "-c", script], [payload_input(shared)])
    for mount in run.outputs:
        mount.host_path.mkdir(parents=True)
    for path in (shared.root, *shared.root.rglob("*")):  # as the platform, running as PLATFORM_UID, made them
        os.chown(path, PLATFORM_UID, PLATFORM_UID)  # (rootful Podman, as the other container tests)
    ended = run_operator(run, shared, options(shared, run_as_user=PLATFORM_UID, run_as_group=PLATFORM_UID))

    assert ended.exit_code == 0, ended.logs
    # The platform reads the result where it keeps the payload: <shared>/payloads/<id>/operators/copy/result.
    assert (shared.output("copy", "result") / "study.txt").read_text() == "CT study\n"
    assert ended.logs.count("Read-only file system") == 2, ended.logs  # the input and the model repository
    assert sorted(p.name for p in shared.input.iterdir()) == ["study.txt"]
    assert not (shared.models / "new.txt").exists()
    seen = environment(ended.logs)
    assert (seen["uid"], seen["model"]) == (f"{PLATFORM_UID} gid={PLATFORM_UID}", 'name: "seg"')
    assert seen["NVIDIA_CLARA_INPUTPATHS"] == "payload:/input"
    assert seen["NVIDIA_CLARA_OUTPUTPATHS"] == "result:/output"
    assert seen["NVIDIA_CLARA_MODEL_REPOSITORY"] == MODELS_PATH
    assert seen[PAYLOAD_MOUNTS] == "/input=input;/output=operators/copy/result"  # relative: no host path
    assert "OPENCLARA_PAYLOAD_PATH" not in seen
    assert seen[ENV_TOKEN] == TOKEN  # from the job's Secret: what register-results sends
    assert str(shared.root) not in ended.logs  # no host path leaks into the container


def test_chained_operators_read_the_previous_output_read_only(
    shared: Shared, busybox_image: str, operator_image: str
) -> None:
    """Two pods one after the other (the bundled operator image second), as the runner runs a chain."""
    job_id = uuid.uuid4().hex
    pod_options = options(shared)
    script = "tr a-z A-Z < /input/study.txt > /output/study.txt"
    first = operator_run(shared, "upper", busybox_image, ["sh", "-c", script], [payload_input(shared)], job_id)
    assert run_operator(first, shared, pod_options) == Ended(0, "")
    program = (
        "import os, pathlib; text = pathlib.Path('/input/study.txt').read_text(); "
        "pathlib.Path('/output/report.txt').write_text(f'{len(text.split())} words: {text}'); "
        "print(os.environ['NVIDIA_CLARA_INPUTPATHS']); open('/input/new.txt', 'w')"
    )
    upper = Mount("upper", "/input", shared.output("upper", "result"), True)
    second = operator_run(shared, "report", operator_image, ["python3", "-c", program], [upper], job_id)
    ended = run_operator(second, shared, pod_options)

    assert ended.exit_code == 1  # the write to its input, after the report was written
    assert "upper:/input" in ended.logs and "Read-only file system: '/input/new.txt'" in ended.logs, ended.logs
    assert (shared.output("report", "result") / "report.txt").read_text() == "2 words: CT STUDY\n"
    assert sorted(p.name for p in shared.output("upper", "result").iterdir()) == ["study.txt"]


def test_exit_code_of_a_failing_operator_is_what_podman_reports(shared: Shared, busybox_image: str) -> None:
    script = "echo 'no series found' >&2; exit 3"
    run = operator_run(shared, "fail", busybox_image, ["sh", "-c", script], [payload_input(shared)])
    ended = run_operator(run, shared, options(shared))
    assert ended == Ended(3, "no series found\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_service_pod_serves_the_model_repository_on_its_port(shared: Shared, busybox_image: str) -> None:
    """Podman 4.3 publishes a containerPort on the host's same port and ignores readinessProbe: we probe it."""
    port = free_port()
    run = ServiceRun(
        job_id=uuid.uuid4().hex, name="triton", image=busybox_image,
        command=("httpd", "-f", "-p", str(port), "-h", f"{SERVICE_DATA_PATH}/models"),
        env={"NVIDIA_CLARA_SERVICE_DATA_PATH": SERVICE_DATA_PATH}, ports=(port,),
        log_path=shared.root.parent / "logs" / "service-triton.log", ready_timeout=10,
        mounts=(Mount("model-seg", f"{SERVICE_DATA_PATH}/models/seg", shared.models / "seg", True),),
    )  # fmt: skip
    pod_options = options(shared)
    pod = service_pod(run, container_environment(run.env, extra=run.mounts), pod_options)
    assert pod["spec"]["containers"][0]["readinessProbe"]["tcpSocket"] == {"port": port}
    with played([cluster_service(run, pod_options), pod], shared, pod_options.platform_id):
        url = f"http://127.0.0.1:{port}/seg/config.pbtxt"
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # whatever *_proxy says
        deadline = time.monotonic() + 10
        while True:
            try:
                with direct.open(url, timeout=2) as response:
                    body = response.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        state = run_podman("inspect", "--format", "{{.State.Status}}", f"{pod['metadata']['name']}-{SERVICE_CONTAINER}")
    assert body == 'name: "seg"\n'
    assert state.stdout.strip() == "running"


def test_manifests_with_every_option_are_valid_kubernetes(shared: Shared) -> None:
    """What Podman cannot run (GPUs, scheduling, pull secrets) is still checked against the 1.29 schemas."""
    gpu = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    pod_options = options(
        shared, node_selector={"kubernetes.io/os": "linux"}, gpu_node_selector={"nvidia.com/gpu.present": "true"},
        tolerations=({"key": "openclara", "operator": "Equal", "value": "jobs", "effect": "NoSchedule"},),
        gpu_tolerations=tuple(gpu), image_pull_secrets=("registry",), run_as_user=0, run_as_group=0,
        service_account="openclara-operator",
    )  # fmt: skip
    run = operator_run(shared, "Seg_Model.v2", "nvcr.io/nvidia/clara/ai-spleen:0.8", [], [payload_input(shared)])
    run = dataclasses.replace(run, resources=ResourceRequest(cpu=1.5, gpu=2, memory_mb=4096), pull_secrets=("ngc",))
    service = ServiceRun(
        job_id=run.job_id, name="trtis", image="nvcr.io/nvidia/tritonserver:23.10-py3", command=("tritonserver",),
        env={}, ports=(8000, 8001, 8002), log_path=shared.root / "triton.log", ready_timeout=60,
        resources=ResourceRequest(gpu=1),
    )  # fmt: skip
    env = container_environment(run.env, run.inputs, run.outputs, run.extra_mounts)
    pod = operator_pod(run, env, pod_options)
    secret = job_secret(run.job_id, secret_values(env), pod_options)
    for manifest in (pod, secret, service_pod(service, {}, pod_options), cluster_service(service, pod_options)):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert "args" not in pod["spec"]["containers"][0]  # no command: the image's entrypoint runs
