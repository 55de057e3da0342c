"""The Kubernetes executor's Pod and Service manifests: valid against the published schemas, and what they say."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest

from openclara.auth.credentials import ENV_TOKEN
from platform_server.executors.base import (
    RESULTS_CA_LABEL,
    ExecutorError,
    Mount,
    OperatorRun,
    ResourceRequest,
    ServiceRun,
)
from platform_server.executors.pods import (
    GPU_RESOURCE,
    JOB_LABEL,
    OPERATOR_LABEL,
    PLATFORM_LABEL,
    PodOptions,
    SharedClaim,
    cluster_service,
    job_secret,
    label_value,
    object_name,
    operator_mounts,
    operator_pod,
    secret_name,
    secret_values,
    service_pod,
)

JOB = "0123456789abcdef0123456789abcdef"
SHARED = Path("/shared")
PAYLOAD = SHARED / "payloads" / "p1"
# The oldest Kubernetes the executor supports and the newest kubernetes-validate ships.
VERSIONS = ("1.29.0", kubernetes_validate.utils.latest_version())
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def options(**changes: Any) -> PodOptions:
    base: dict[str, Any] = {
        "namespace": "clara", "platform_id": "p0", "claims": (SharedClaim("oc-shared", PurePosixPath("/shared")),),
        "gpu_node_selector": {"nvidia.com/gpu.present": "true"}, "gpu_tolerations": (GPU_TOLERATION,),
    }
    return PodOptions(**{**base, **changes})


def operator_run(**changes: Any) -> OperatorRun:
    base: dict[str, Any] = {
        "job_id": JOB, "operator": "lung-seg", "image": "registry.example/seg:1", "command": ("python", "-m", "seg"),
        "inputs": (Mount("payload", "/input", PAYLOAD / "input", True),),
        "outputs": (Mount("mask", "/output", PAYLOAD / "operators" / "lung-seg" / "mask", False),),
        "env": {"NVIDIA_CLARA_JOBID": JOB}, "work_dir": Path("/tmp/w"), "log_path": Path("/tmp/l.log"),
        "timeout": 90.5, "resources": ResourceRequest(cpu=1.5, gpu=1, memory_mb=2048),
        "extra_mounts": (Mount("models", "/clara/models", SHARED / "models", True),), "pull_secrets": ("ngc",),
    }
    return OperatorRun(**{**base, **changes})


def service_run() -> ServiceRun:
    return ServiceRun(job_id=JOB, name="triton", image="nvcr.io/nvidia/tritonserver:24.01-py3",
                      command=("tritonserver", "--model-store=/clara/service-data/models"), env={"A": "1"},
                      ports=(8000, 8001), log_path=Path("/tmp/s.log"), ready_timeout=30,
                      mounts=(Mount("model-liver", "/clara/service-data/models/liver", SHARED / "models" / "liver",
                                    True),),
                      resources=ResourceRequest(gpu=1))


@pytest.mark.parametrize("version", VERSIONS)
def test_manifests_pass_the_kubernetes_schemas(version: str) -> None:
    manifests = [operator_pod(operator_run(), {"A": "1", ENV_TOKEN: "t"}, options()),
                 job_secret(JOB, {ENV_TOKEN: "t"}, options()),
                 operator_pod(operator_run(resources=ResourceRequest(), command=()), {}, options()),
                 service_pod(service_run(), {}, options()), cluster_service(service_run(), options())]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_inputs_and_models_are_read_only_subpaths_of_the_shared_claim() -> None:
    pod = operator_pod(operator_run(), {}, options())
    mounts = {m["mountPath"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["/input"] == {"name": "shared-0", "mountPath": "/input", "readOnly": True,
                                "subPath": "payloads/p1/input"}
    assert mounts["/output"]["readOnly"] is False
    assert mounts["/output"]["subPath"] == "payloads/p1/operators/lung-seg/mask"
    assert mounts["/clara/models"] == {"name": "shared-0", "mountPath": "/clara/models", "readOnly": True,
                                       "subPath": "models"}
    assert pod["spec"]["volumes"] == [{"name": "shared-0", "persistentVolumeClaim": {"claimName": "oc-shared"}}]


def test_the_deepest_claim_holding_a_folder_is_used() -> None:
    claims = (SharedClaim("all", PurePosixPath("/shared")), SharedClaim("models", PurePosixPath("/shared/models")))
    pod = operator_pod(operator_run(), {}, options(claims=claims))
    mounts = {m["mountPath"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]}
    assert volumes[mounts["/clara/models"]["name"]] == "models"
    assert "subPath" not in mounts["/clara/models"]  # the claim's root itself
    assert volumes[mounts["/input"]["name"]] == "all"


def test_a_folder_on_no_shared_claim_is_refused_with_what_is_shared() -> None:
    run = operator_run(inputs=(Mount("payload", "/input", Path("/var/lib/elsewhere"), True),))
    with pytest.raises(ExecutorError, match=r"/var/lib/elsewhere, which is on no shared volume.*oc-shared at /shared"):
        operator_pod(run, {}, options())


def test_sibling_folder_with_a_common_prefix_is_not_on_the_claim() -> None:
    run = operator_run(inputs=(Mount("payload", "/input", Path("/shared-other/x"), True),))
    with pytest.raises(ExecutorError, match="on no shared volume"):
        operator_pod(run, {}, options())


def test_resources_become_requests_equal_limits_and_gpus_a_device_plugin_limit() -> None:
    container = operator_pod(operator_run(), {}, options())["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "1500m", "memory": "2048Mi"},
                                      "limits": {"cpu": "1500m", "memory": "2048Mi", GPU_RESOURCE: "1"}}
    none = operator_pod(operator_run(resources=ResourceRequest()), {}, options())["spec"]["containers"][0]
    assert none["resources"] == {}


def test_only_gpu_pods_get_the_gpu_node_selector_and_tolerations() -> None:
    opts = options(node_selector={"pool": "ai"}, tolerations=({"key": "dedicated", "operator": "Exists"},))
    gpu = operator_pod(operator_run(), {}, opts)["spec"]
    cpu = operator_pod(operator_run(resources=ResourceRequest(cpu=1)), {}, opts)["spec"]
    assert gpu["nodeSelector"] == {"pool": "ai", "nvidia.com/gpu.present": "true"}
    assert gpu["tolerations"] == [{"key": "dedicated", "operator": "Exists"}, GPU_TOLERATION]
    assert cpu["nodeSelector"] == {"pool": "ai"}
    assert cpu["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]


def test_pod_spec_locks_the_operator_down_and_times_it() -> None:
    pod = operator_pod(operator_run(), {"A": "1"}, options(run_as_user=1000, run_as_group=1000,
                                                            image_pull_secrets=("site", "ngc")))
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == 91
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    assert "serviceAccountName" not in spec
    assert spec["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}, "runAsUser": 1000,
                                       "runAsNonRoot": True, "runAsGroup": 1000}
    container = spec["containers"][0]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "privileged": False,
                                            "capabilities": {"drop": ["ALL"]}}
    assert spec["imagePullSecrets"] == [{"name": "site"}, {"name": "ngc"}]  # settings first, no duplicate
    assert container["args"] == ["python", "-m", "seg"]  # the image's entrypoint stays, as with podman run
    assert "command" not in container
    assert container["env"] == [{"name": "A", "value": "1"}]


def test_labels_find_the_job_and_the_operator() -> None:
    pod = operator_pod(operator_run(operator="Lung Seg"), {}, options())
    labels = pod["metadata"]["labels"]
    assert labels[JOB_LABEL] == JOB
    assert labels[PLATFORM_LABEL] == "p0"
    assert labels[OPERATOR_LABEL] == label_value("Lung Seg")
    assert pod["metadata"]["annotations"][OPERATOR_LABEL] == "Lung Seg"  # the name as the pipeline spells it
    assert pod["metadata"]["namespace"] == "clara"


@pytest.mark.parametrize("role", ["dicom-reader", "Lung_Seg", "x" * 80, "--", "ünïcode", "a.b"])
def test_object_names_are_dns_labels_and_distinct(role: str) -> None:
    name = object_name(JOB, role)
    assert len(name) <= 63
    assert name[0].isalpha() and name[-1].isalnum()
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert object_name(JOB, role) != object_name(JOB, role + "2")
    assert object_name(JOB, "dicom-reader") == f"oc-{JOB[:12]}-dicom-reader"  # readable when it can be


@pytest.mark.parametrize("text", ["lung-seg", "Lung Seg", "x" * 100, "-a-", "a/b"])
def test_label_values_are_valid(text: str) -> None:
    value = label_value(text)
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "x", "labels": {"k": value}}}, VERSIONS[0], strict=True)
    assert len(value) <= 63


def test_service_pod_is_ready_when_its_first_port_accepts_and_the_service_selects_it() -> None:
    pod = service_pod(service_run(), {}, options())
    service = cluster_service(service_run(), options())
    container = pod["spec"]["containers"][0]
    assert container["readinessProbe"]["tcpSocket"] == {"port": 8000}
    assert [p["containerPort"] for p in container["ports"]] == [8000, 8001]
    assert service["metadata"]["name"] == pod["metadata"]["name"]
    assert service["spec"]["type"] == "ClusterIP"
    assert all(pod["metadata"]["labels"][k] == v for k, v in service["spec"]["selector"].items())
    assert "activeDeadlineSeconds" not in pod["spec"]  # lives until the job ends
    assert pod["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


def test_the_token_is_a_secret_reference_and_the_secret_holds_it_under_the_jobs_labels() -> None:
    env = {"A": "1", ENV_TOKEN: "operators-token", "B": "2"}
    pod = operator_pod(operator_run(), env, options())
    assert pod["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": ENV_TOKEN, "valueFrom": {"secretKeyRef": {"name": secret_name(JOB), "key": ENV_TOKEN}}},
        {"name": "B", "value": "2"},
    ]
    assert "operators-token" not in str(pod)
    secret = job_secret(JOB, secret_values(env), options())
    assert secret_values(env) == {ENV_TOKEN: "operators-token"}
    assert secret["metadata"]["name"] == secret_name(JOB) == f"oc-{JOB[:12]}-token"
    assert secret["metadata"]["namespace"] == "clara"
    assert {JOB_LABEL: JOB, PLATFORM_LABEL: "p0"}.items() <= secret["metadata"]["labels"].items()
    assert (secret["type"], secret["immutable"]) == ("Opaque", True)
    assert secret["data"] == {ENV_TOKEN: "b3BlcmF0b3JzLXRva2Vu"}  # base64 of the token
    service = service_pod(service_run(), {ENV_TOKEN: "operators-token"}, options())
    assert service["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["name"] == secret_name(JOB)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_results_ca_travels_in_the_jobs_secret_and_is_mounted_from_it(tmp_path: Path, version: str) -> None:
    """An https results service: its CA file lies anywhere on the platform's host, on no shared claim."""
    ca = tmp_path / "results-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    mount = Mount(RESULTS_CA_LABEL, "/clara/tls/results-ca.crt", ca, True)
    run = operator_run(extra_mounts=(*operator_run().extra_mounts, mount))
    pod = operator_pod(run, {ENV_TOKEN: "t"}, options())
    (secret_volume,) = [v for v in pod["spec"]["volumes"] if "secret" in v]
    assert secret_volume["secret"] == {"secretName": secret_name(JOB), "defaultMode": 0o444,
                                       "items": [{"key": "results-ca.crt", "path": "results-ca.crt"}]}
    (ca_mount,) = [m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] == secret_volume["name"]]
    assert ca_mount == {"name": secret_volume["name"], "mountPath": "/clara/tls/results-ca.crt",
                        "subPath": "results-ca.crt", "readOnly": True}
    values = secret_values({ENV_TOKEN: "t"}, operator_mounts(run))
    assert values == {ENV_TOKEN: "t", "results-ca.crt": ca.read_text()}
    for manifest in (pod, job_secret(JOB, values, options())):
        kubernetes_validate.validate(manifest, version, strict=True)
