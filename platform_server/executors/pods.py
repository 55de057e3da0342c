"""Pod and Service manifests for the Kubernetes executor: an `OperatorRun` or `ServiceRun` as plain API objects.

Pure functions from the platform's model to Kubernetes `core/v1` objects (dicts, as the API takes them),
so the same manifests are sent to the cluster, validated against the published OpenAPI schemas and run
with `podman kube play` in tests.

* One bare Pod per operator (`restartPolicy: Never`): an operator holds its GPUs only while it runs,
  fails alone and is timed alone (`activeDeadlineSeconds`). Its container is named `operator`.
* Inputs, outputs and the model repository are `subPath` mounts of the ReadWriteMany claim(s) the
  platform itself has mounted (`executor.kubernetes.volumes`): nothing is copied; inputs and models are
  `readOnly`.
* `requests.cpu` / `memory` become requests and equal limits (as the container executor's `--cpus` /
  `--memory`); `requests.gpu` becomes the `nvidia.com/gpu` limit, which the NVIDIA device plugin
  schedules; only GPU pods get the GPU node selector and tolerations.
* No service-account token, no service links, no privilege escalation, no capabilities: an operator is
  untrusted code that reads patient data, and needs none of them.
* A service (e.g. Triton) is a Pod ready when its first port accepts connections, plus a ClusterIP
  Service of the same name: operators reach it at `<name>:<port>`.
* Credentials in the environment (`SECRET_VARIABLES`: the operators' API token) are never values in the
  pod spec, which whoever may `get pods` reads: they go in one Secret per job (`job_secret`), and the
  container's env names the Secret and key (`secretKeyRef`). The kubelet reads it when the container starts.
  The results service's CA file (an https results service) lies anywhere on the platform's host, not on a
  shared claim: it travels in the same Secret and is mounted from it (`SECRET_FILES`).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from openclara.auth.credentials import ENV_TOKEN
from platform_server.executors.base import (
    RESULTS_CA_LABEL,
    ExecutorError,
    Mount,
    OperatorRun,
    ResourceRequest,
    ServiceRun,
)

JOB_LABEL = "openclara/job-id"
OPERATOR_LABEL = "openclara/operator"
SERVICE_LABEL = "openclara/service"
PLATFORM_LABEL = "openclara/platform"
ROLE_LABEL = "openclara/role"
GPU_RESOURCE = "nvidia.com/gpu"
OPERATOR_CONTAINER = "operator"
SERVICE_CONTAINER = "service"
# Environment variables whose values are credentials: kept in the job's Secret, referenced from the pod spec.
SECRET_VARIABLES = frozenset({ENV_TOKEN})
# Mounts (by label) of single files served from the job's Secret rather than a shared claim, under this key.
SECRET_FILES = {RESULTS_CA_LABEL: "results-ca.crt"}
_SECRET_VOLUME = "job-secret"
MANAGED_BY = {"app.kubernetes.io/managed-by": "openclara"}
_NOT_DNS = re.compile(r"[^a-z0-9-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")
Manifest = dict[str, Any]


@dataclass(frozen=True)
class SharedClaim:
    """A ReadWriteMany claim the platform has mounted at `path`."""

    claim: str
    path: PurePosixPath


@dataclass(frozen=True)
class PodOptions:
    namespace: str
    platform_id: str
    claims: tuple[SharedClaim, ...]
    node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu_node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    gpu_tolerations: tuple[Mapping[str, Any], ...] = ()
    image_pull_secrets: tuple[str, ...] = ()
    image_pull_policy: str = "IfNotPresent"
    run_as_user: int | None = None
    run_as_group: int | None = None
    service_account: str | None = None
    kill_grace: float = 1.0


def object_name(job_id: str, role: str) -> str:
    """A DNS-1035 label (Pods and Services): `oc-<job id prefix>-<role>`, at most 63 characters.

    Roles that are cut or changed to fit get a hash of the original, so two operators never share a name.
    """
    slug = _NOT_DNS.sub("-", role.lower()).strip("-") or "x"
    if slug != role or len(slug) > 40:
        slug = f"{slug[:33].rstrip('-')}-{hashlib.sha256(role.encode()).hexdigest()[:6]}"
    return f"oc-{job_id[:12].lower()}-{slug}"


def label_value(text: str) -> str:
    """`text` as a label value (63 characters of [A-Za-z0-9_.-], alphanumeric at both ends)."""
    value = _NOT_LABEL.sub("-", text).strip("-_.")
    if value != text or len(value) > 63:
        value = f"{value[:52].strip('-_.')}-{hashlib.sha256(text.encode()).hexdigest()[:8]}".strip("-")
    return value


def job_labels(options: PodOptions, job_id: str) -> dict[str, str]:
    return {JOB_LABEL: label_value(job_id), PLATFORM_LABEL: options.platform_id}


def secret_values(env: Mapping[str, str], mounts: Sequence[Mount] = ()) -> dict[str, str]:
    """What the job's Secret holds: the credentials in `env` under the variables' names, and the files of
    `SECRET_FILES` mounts under their keys. Raises OSError when such a file cannot be read."""
    values = {key: value for key, value in env.items() if key in SECRET_VARIABLES}
    for mount in mounts:
        if mount.label in SECRET_FILES:
            values[SECRET_FILES[mount.label]] = Path(mount.host_path).read_text(encoding="ascii")
    return values


def secret_name(job_id: str) -> str:
    return object_name(job_id, "token")  # Secrets and Pods have names of their own: no clash with an operator


def job_secret(job_id: str, values: Mapping[str, str], options: PodOptions) -> Manifest:
    """The job's Secret: `values` (from `secret_values`) under the job's labels, so that it goes with the pods.

    Immutable: the kubelet need not watch it, and nobody changes the token a running job's pods will read.
    """
    labels = {**job_labels(options, job_id), **MANAGED_BY}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(job_id), "namespace": options.namespace, "labels": labels},
        "type": "Opaque",
        "immutable": True,
        "data": {key: base64.b64encode(value.encode()).decode("ascii") for key, value in values.items()},
    }


def operator_mounts(run: OperatorRun) -> tuple[Mount, ...]:
    return (*run.inputs, *run.extra_mounts, *run.outputs)


def operator_pod(run: OperatorRun, env: Mapping[str, str], options: PodOptions) -> Manifest:
    """The Pod that runs one operator; `env` is its environment as the container sees it.

    Its `SECRET_VARIABLES` come from the job's Secret (`job_secret`), which must exist before the pod starts.
    """
    volumes, volume_mounts = _mounts(operator_mounts(run), options.claims, run.operator, run.job_id)
    container: Manifest = {
        "name": OPERATOR_CONTAINER,
        "image": run.image,
        "imagePullPolicy": options.image_pull_policy,
        "env": _env(env, run.job_id),
        "resources": _resources(run.resources),
        "volumeMounts": volume_mounts,
        "securityContext": _container_security(),
        # A crashed operator that printed nothing still says something in `status.message`.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if run.command:  # like `podman run <image> <command…>`: the image's entrypoint stays
        container["args"] = list(run.command)
    labels = {**job_labels(options, run.job_id), ROLE_LABEL: "operator", OPERATOR_LABEL: label_value(run.operator)}
    spec = _pod_spec(options, run.resources, run.pull_secrets, [container], volumes)
    spec["activeDeadlineSeconds"] = max(1, math.ceil(run.timeout))
    return _pod(object_name(run.job_id, run.operator), labels, {OPERATOR_LABEL: run.operator}, options, spec)


def service_pod(run: ServiceRun, env: Mapping[str, str], options: PodOptions) -> Manifest:
    volumes, volume_mounts = _mounts(run.mounts, options.claims, f"service {run.name}", run.job_id)
    container: Manifest = {
        "name": SERVICE_CONTAINER,
        "image": run.image,
        "imagePullPolicy": options.image_pull_policy,
        "env": _env(env, run.job_id),
        "resources": _resources(run.resources),
        "volumeMounts": volume_mounts,
        "securityContext": _container_security(),
        "ports": [{"name": f"p{port}", "containerPort": port, "protocol": "TCP"} for port in run.ports],
    }
    if run.command:
        container["args"] = list(run.command)
    if run.ports:
        container["readinessProbe"] = {"tcpSocket": {"port": run.ports[0]}, "periodSeconds": 1,
                                       "failureThreshold": 1}
    labels = {**job_labels(options, run.job_id), ROLE_LABEL: "service", SERVICE_LABEL: label_value(run.name)}
    spec = _pod_spec(options, run.resources, run.pull_secrets, [container], volumes)
    return _pod(service_name(run), labels, {SERVICE_LABEL: run.name}, options, spec)


def service_name(run: ServiceRun) -> str:
    return object_name(run.job_id, f"svc-{run.name}")


def cluster_service(run: ServiceRun, options: PodOptions) -> Manifest:
    """The ClusterIP Service in front of a service's Pod: what operators resolve by name."""
    labels = {**job_labels(options, run.job_id), ROLE_LABEL: "service", SERVICE_LABEL: label_value(run.name)}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service_name(run), "namespace": options.namespace, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": dict(labels),
            "ports": [{"name": f"p{port}", "port": port, "targetPort": port, "protocol": "TCP"}
                      for port in run.ports],
        },
    }


def _pod(name: str, labels: dict[str, str], annotations: dict[str, str], options: PodOptions,
         spec: Manifest) -> Manifest:
    labels = {**labels, **MANAGED_BY}
    metadata = {"name": name, "namespace": options.namespace, "labels": labels, "annotations": annotations}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _pod_spec(options: PodOptions, resources: ResourceRequest, pull_secrets: Sequence[str],
              containers: list[Manifest], volumes: list[Manifest]) -> Manifest:
    gpu = resources.gpu > 0
    spec: Manifest = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": max(1, math.ceil(options.kill_grace)),
        "securityContext": _pod_security(options),
        "containers": containers,
        "volumes": volumes,
    }
    selector = {**options.node_selector, **(options.gpu_node_selector if gpu else {})}
    if selector:
        spec["nodeSelector"] = selector
    tolerations = [*options.tolerations, *(options.gpu_tolerations if gpu else ())]
    if tolerations:
        spec["tolerations"] = [dict(t) for t in tolerations]
    secrets = list(dict.fromkeys([*options.image_pull_secrets, *pull_secrets]))
    if secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in secrets]
    if options.service_account:
        spec["serviceAccountName"] = options.service_account
    return spec


def _pod_security(options: PodOptions) -> Manifest:
    context: Manifest = {"seccompProfile": {"type": "RuntimeDefault"}}
    if options.run_as_user is not None:
        context["runAsUser"] = options.run_as_user
        context["runAsNonRoot"] = options.run_as_user != 0
    if options.run_as_group is not None:
        context["runAsGroup"] = options.run_as_group
    return context


def _container_security() -> Manifest:
    return {"allowPrivilegeEscalation": False, "privileged": False, "capabilities": {"drop": ["ALL"]}}


def _env(env: Mapping[str, str], job_id: str) -> list[Manifest]:
    secret = secret_name(job_id)
    return [{"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}} if key in SECRET_VARIABLES
            else {"name": key, "value": value} for key, value in env.items()]


def _resources(resources: ResourceRequest) -> Manifest:
    amounts: dict[str, str] = {}
    if resources.cpu > 0:
        amounts["cpu"] = f"{math.ceil(resources.cpu * 1000)}m"
    if resources.memory_mb > 0:
        amounts["memory"] = f"{resources.memory_mb}Mi"
    limits = dict(amounts)
    if resources.gpu > 0:
        limits[GPU_RESOURCE] = str(resources.gpu)
    result: Manifest = {}
    if amounts:
        result["requests"] = amounts
    if limits:
        result["limits"] = limits
    return result


def _mounts(mounts: Sequence[Mount], claims: Sequence[SharedClaim], owner: str,
            job_id: str) -> tuple[list[Manifest], list[Manifest]]:
    """Volumes (one per claim used, and the job's Secret for `SECRET_FILES`) and the container's subPath
    mounts of them."""
    used: dict[str, str] = {}
    volume_mounts = []
    files: list[str] = []
    for mount in mounts:
        if (key := SECRET_FILES.get(mount.label)) is not None:
            files.append(key)
            volume_mounts.append({"name": _SECRET_VOLUME, "mountPath": mount.container_path, "subPath": key,
                                  "readOnly": True})
            continue
        claim, sub_path = _locate(mount, claims, owner)
        volume = used.setdefault(claim.claim, f"shared-{len(used)}")
        entry: Manifest = {"name": volume, "mountPath": mount.container_path, "readOnly": mount.read_only}
        if sub_path:
            entry["subPath"] = sub_path
        volume_mounts.append(entry)
    volumes = [{"name": name, "persistentVolumeClaim": {"claimName": claim}} for claim, name in used.items()]
    if files:  # 0444: a CA certificate is public; the token in the same Secret is never a file
        items = [{"key": key, "path": key} for key in files]
        volumes.append({"name": _SECRET_VOLUME,
                        "secret": {"secretName": secret_name(job_id), "items": items, "defaultMode": 0o444}})
    return volumes, volume_mounts


def _locate(mount: Mount, claims: Sequence[SharedClaim], owner: str) -> tuple[SharedClaim, str]:
    path = PurePosixPath(mount.host_path)
    for claim in sorted(claims, key=lambda c: len(c.path.parts), reverse=True):  # the deepest claim wins
        if path == claim.path or claim.path in path.parents:
            relative = path.relative_to(claim.path).as_posix()
            return claim, "" if relative == "." else relative
    shared = ", ".join(f"{c.claim} at {c.path}" for c in claims) or "none"
    raise ExecutorError(f"{owner}: the folder for {mount.container_path} ({mount.label}) is {path}, which is on no "
                        f"shared volume (executor.kubernetes.volumes: {shared}); pods can only mount those")
