"""The chart lints, renders objects the Kubernetes API accepts, and has the shape docs/kubernetes.md promises."""

from __future__ import annotations

from hashlib import sha256

import kubernetes_validate
import pytest

from tests.deploy.chart import (
    CHART,
    COMPONENTS,
    FULLNAME,
    GPU_EXAMPLE,
    NAMESPACE,
    SCENARIOS,
    helm,
    pod_spec,
    render,
)

# The oldest Kubernetes we claim (Chart.yaml asks for >= 1.25; 1.29 is the oldest still common) and the newest
# schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ["1.29", kubernetes_validate.latest_version()]


@pytest.mark.parametrize("values", [(), ("-f", str(GPU_EXAMPLE)), ("--set", "platform.executor=local")],
                         ids=["default", "gpu-cluster", "local-executor"])
def test_chart_lints_strictly(values: tuple[str, ...]) -> None:
    helm("lint", "--strict", str(CHART), *values)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_chart_renders_objects_the_kubernetes_schemas_accept(scenario: str, version: str) -> None:
    """Strict: a field Kubernetes does not know (a typo in a template) is an error, not silently dropped."""
    for manifest in render(scenario):
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{manifest['kind']} {manifest['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_chart_renders_every_object_once() -> None:
    kinds = sorted(f"{o['kind']}/{o['metadata']['name'].removeprefix(FULLNAME + '-')}" for o in render("default"))
    assert kinds == [
        "ConfigMap/dicom-adapter", "ConfigMap/platform", "ConfigMap/prometheus", "ConfigMap/results",
        "Deployment/dicom-adapter", "Deployment/platform", "Deployment/results",
        "PersistentVolumeClaim/dicom-adapter-data", "PersistentVolumeClaim/platform-data",
        "PersistentVolumeClaim/results-data", "PersistentVolumeClaim/shared",
        "Role/platform", "RoleBinding/platform", "Secret/credentials",
        "Service/dicom", "Service/dicom-api", "Service/platform", "Service/results",
        "ServiceAccount/platform",
    ]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_chart_objects_carry_the_recommended_labels(scenario: str) -> None:
    for manifest in render(scenario):
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "openclara"
        assert labels["app.kubernetes.io/instance"] == "clara"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/part-of"] == "openclara"
        assert labels["app.kubernetes.io/component"] in {*COMPONENTS, "shared"}


def test_only_the_dicom_service_leaves_the_cluster_by_default() -> None:
    exposed = {s["metadata"]["name"]: s["spec"]["type"] for s in render("default").of_kind("Service")
               if s["spec"].get("type", "ClusterIP") != "ClusterIP"}
    assert exposed == {f"{FULLNAME}-dicom": "NodePort"}


def test_dicom_service_keeps_the_pacs_address_and_maps_the_dicom_port() -> None:
    """externalTrafficPolicy Local: the adapter checks the calling host against its sources' hostIp."""
    default = render("default").get("Service", f"{FULLNAME}-dicom")["spec"]
    assert default["externalTrafficPolicy"] == "Local"
    assert default["ports"] == [{"name": "dicom", "port": 104, "targetPort": "dicom", "nodePort": 30104}]
    gpu = render("gpu-cluster").get("Service", f"{FULLNAME}-dicom")["spec"]
    assert gpu["type"] == "LoadBalancer"
    assert gpu["loadBalancerSourceRanges"] == ["10.20.30.0/24"]
    assert "nodePort" not in gpu["ports"][0]


def test_platform_role_grants_exactly_what_the_kubernetes_executor_needs() -> None:
    manifests = render("default")
    role = manifests.get("Role", f"{FULLNAME}-platform")
    rules = {resource: sorted(rule["verbs"]) for rule in role["rules"] for resource in rule["resources"]}
    assert all(rule["apiGroups"] == [""] for rule in role["rules"])
    assert rules == {
        "pods": sorted(["create", "get", "list", "watch", "delete", "deletecollection"]),
        "pods/log": ["get"],
        "services": sorted(["create", "get", "list", "delete", "deletecollection"]),
        "secrets": sorted(["create", "list", "delete"]),  # each job's token: no get, watch or update
        "persistentvolumeclaims": ["get", "list"],
    }
    binding = manifests.get("RoleBinding", f"{FULLNAME}-platform")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": f"{FULLNAME}-platform"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": f"{FULLNAME}-platform", "namespace": NAMESPACE}]
    assert pod_spec(manifests, "platform")["serviceAccountName"] == f"{FULLNAME}-platform"


def test_local_executor_needs_no_rbac_no_token_and_no_shared_volume() -> None:
    manifests = render("local-executor")
    assert manifests.of_kind("Role") == manifests.of_kind("RoleBinding") == []
    assert [p["spec"]["accessModes"] for p in manifests.of_kind("PersistentVolumeClaim")] == [["ReadWriteOnce"]] * 3
    assert pod_spec(manifests, "platform")["automountServiceAccountToken"] is False


@pytest.mark.parametrize("scenario", ["default", "gpu-cluster"])
def test_sqlite_volumes_are_read_write_once_and_the_payload_volume_read_write_many(scenario: str) -> None:
    modes = {p["metadata"]["name"].removeprefix(FULLNAME + "-"): p["spec"]["accessModes"]
             for p in render(scenario).of_kind("PersistentVolumeClaim")}
    assert modes == {"platform-data": ["ReadWriteOnce"], "results-data": ["ReadWriteOnce"],
                     "dicom-adapter-data": ["ReadWriteOnce"], "shared": ["ReadWriteMany"]}


def test_existing_claims_are_used_instead_of_new_ones() -> None:
    manifests = render("variants")
    assert manifests.of_kind("PersistentVolumeClaim") == []
    claims = {c: {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod_spec(manifests, c)["volumes"]
                  if "persistentVolumeClaim" in v} for c in COMPONENTS}
    assert claims == {"platform": {"data": "platform-db", "shared": "nfs-payloads"},
                      "results": {"data": "results-db"}, "dicom-adapter": {"data": "adapter-db"}}


def test_volumes_and_tokens_survive_uninstall_unless_asked() -> None:
    """The credentials Secret is kept with the volumes: a reinstall of the same release keeps its tokens."""
    kept = {p["metadata"].get("annotations", {}).get("helm.sh/resource-policy")
            for p in render("default").of_kind("PersistentVolumeClaim") + render("default").of_kind("Secret")}
    assert kept == {"keep"}
    dropped = helm("template", "clara", str(CHART), "--set", "keepVolumesOnUninstall=false",
                   "--show-only", "templates/credentials-secret.yaml").stdout
    assert "helm.sh/resource-policy" not in dropped


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("component", COMPONENTS)
def test_pods_run_as_uid_1000_without_privileges(scenario: str, component: str) -> None:
    manifests = render(scenario)
    deployment = manifests.get("Deployment", f"{FULLNAME}-{component}")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    spec = pod_spec(manifests, component)
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                                       "fsGroupChangePolicy": "OnRootMismatch",
                                       "seccompProfile": {"type": "RuntimeDefault"}}
    assert spec["enableServiceLinks"] is False
    token = component == "platform" and scenario != "local-executor"
    assert spec["automountServiceAccountToken"] is token
    (container,) = spec["containers"]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/var/lib/openclara", "/tmp", "/config"} <= mounts
    assert {"name": "CLARA_HOME", "value": "/var/lib/openclara"} in container["env"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_pods_keep_the_probes_of_the_single_pod_chart(component: str) -> None:
    (container,) = pod_spec(render("default"), component)["containers"]
    if component == "platform":
        assert container["readinessProbe"]["tcpSocket"] == {"port": "grpc"}
    else:
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"


def test_image_and_pull_secrets_reach_every_pod() -> None:
    manifests = render("gpu-cluster")
    for component in COMPONENTS:
        spec = pod_spec(manifests, component)
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
        assert spec["containers"][0]["image"] == "registry.example.org/imaging/openclara:0.1.0"
    assert pod_spec(render("default"), "platform")["containers"][0]["image"] == "openclara:0.1.0"  # appVersion


def test_config_change_restarts_the_pod() -> None:
    """The pod template carries a checksum of its configuration file, so `helm upgrade` rolls the pod."""
    for scenario in ("default", "gpu-cluster"):
        manifests = render(scenario)
        for component in COMPONENTS:
            checksum = sha256(manifests.config_text(component).rstrip("\n").encode()).hexdigest()
            template = manifests.get("Deployment", f"{FULLNAME}-{component}")["spec"]["template"]
            assert template["metadata"]["annotations"]["checksum/config"] == checksum
