"""The configuration files the chart renders load with the services' own settings classes, and fit the pods.

Each service reads its file from a ConfigMap (`<service> serve -f /config/<service>.yaml`); the image's
CLARA_* variables apply on top, as in the container (the container_env fixture, conftest.py).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from dicom_adapter.settings import AdapterSettings
from openclara.settings import load_settings
from platform_server.settings import PlatformSettings
from results_service.settings import ResultsSettings
from tests.deploy.chart import (
    CHART,
    COMPONENTS,
    CONFIG_FILES,
    FULLNAME,
    NAMESPACE,
    SCENARIOS,
    Manifests,
    helm,
    pod_spec,
    render,
)

SETTINGS: dict[str, type[BaseSettings]] = {
    "platform": PlatformSettings,
    "results": ResultsSettings,
    "dicom-adapter": AdapterSettings,
}


def _load(manifests: Manifests, component: str, tmp_path: Path) -> Any:
    path = tmp_path / CONFIG_FILES[component]
    path.write_text(manifests.config_text(component))
    return load_settings(SETTINGS[component], path)


def _platform_settings(tmp_path: Path, *helm_args: str) -> PlatformSettings:
    """Render only the platform's ConfigMap with these helm arguments and load its file."""
    out = helm("template", "clara", str(CHART), "--show-only", "templates/platform-configmap.yaml", *helm_args).stdout
    path = tmp_path / "platform-server.yaml"
    path.write_text(yaml.safe_load(out)["data"]["platform-server.yaml"])
    return load_settings(PlatformSettings, path)


def _mounts(manifests: Manifests, component: str) -> dict[str, str]:
    """mountPath -> volume name of the component's container."""
    (container,) = pod_spec(manifests, component)["containers"]
    return {m["mountPath"]: m["name"] for m in container["volumeMounts"]}


def _volume_of(manifests: Manifests, component: str, path: Path) -> str:
    """The volume that holds `path` in the component's container: the deepest mount above it."""
    mounts = _mounts(manifests, component)
    above = [m for m in mounts if PurePosixPath(path).is_relative_to(m)]
    assert above, f"{path} is on the read-only root file system of {component}"
    return mounts[max(above, key=len)]


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("component", COMPONENTS)
def test_rendered_config_passes_the_services_settings_validation(scenario: str, component: str,
                                                                 tmp_path: Path) -> None:
    _load(render(scenario), component, tmp_path)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("component", COMPONENTS)
def test_each_service_reads_the_file_of_its_config_map(scenario: str, component: str) -> None:
    manifests = render(scenario)
    spec = pod_spec(manifests, component)
    (container,) = spec["containers"]
    assert container["args"][-2:] == ["-f", f"/config/{CONFIG_FILES[component]}"]
    config_volume = next(v for v in spec["volumes"] if v["name"] == _mounts(manifests, component)["/config"])
    assert config_volume["configMap"]["name"] == f"{FULLNAME}-{component}"


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", ["default", "gpu-cluster", "variants"])
def test_services_find_each_other_by_their_service_names(scenario: str, tmp_path: Path) -> None:
    manifests = render(scenario)
    platform = _load(manifests, "platform", tmp_path)
    results = _load(manifests, "results", tmp_path)
    adapter = _load(manifests, "dicom-adapter", tmp_path)
    services = {s["metadata"]["name"]: s["spec"]["ports"] for s in manifests.of_kind("Service")}
    platform_endpoint = f"{FULLNAME}-platform:{services[f'{FULLNAME}-platform'][0]['port']}"
    results_url = f"http://{FULLNAME}-results:{services[f'{FULLNAME}-results'][0]['port']}"
    assert platform.executor.kubernetes.platform_host == f"{FULLNAME}-platform"
    assert platform.executor.kubernetes.namespace == NAMESPACE
    # Operators are given platform_host and the platform's own port: the Service must use the same port.
    assert platform_endpoint == f"{FULLNAME}-platform:{platform.server.port}"
    assert platform.results_service.url == results_url == adapter.results.endpoint
    assert results.platform_endpoint == platform_endpoint == adapter.platform.endpoint


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_services_listen_on_their_container_ports(scenario: str, tmp_path: Path) -> None:
    manifests = render(scenario)
    ports = {c: {p["name"]: p["containerPort"] for p in pod_spec(manifests, c)["containers"][0]["ports"]}
             for c in COMPONENTS}
    platform = _load(manifests, "platform", tmp_path)
    results = _load(manifests, "results", tmp_path)
    adapter = _load(manifests, "dicom-adapter", tmp_path)
    assert (platform.server.host, platform.metrics_host, results.host, adapter.scp.host, adapter.api.host) == \
        ("0.0.0.0",) * 5
    assert ports == {"platform": {"grpc": platform.server.port, "metrics": platform.metrics_port},
                     "results": {"http": results.port},
                     "dicom-adapter": {"dicom": adapter.scp.port, "api": adapter.api.port}}


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_services_write_only_to_their_volumes(scenario: str, tmp_path: Path) -> None:
    """The root file system is read-only: every file a service writes lives on a volume of its pod."""
    manifests = render(scenario)
    platform = _load(manifests, "platform", tmp_path)
    results = _load(manifests, "results", tmp_path)
    adapter = _load(manifests, "dicom-adapter", tmp_path)
    shared = "data" if scenario == "local-executor" else "shared"
    assert _volume_of(manifests, "platform", platform.data_dir) == "data"
    assert _volume_of(manifests, "platform", platform.payloads_dir) == shared
    assert _volume_of(manifests, "platform", platform.models_dir) == shared
    assert _volume_of(manifests, "results", results.database.path) == "data"
    for path in (adapter.database.path, adapter.storage.spool_dir, adapter.export.state_dir):
        assert _volume_of(manifests, "dicom-adapter", path) == "data"


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", ["default", "gpu-cluster", "variants"])
def test_operator_pods_share_the_platforms_volume_and_user(scenario: str, tmp_path: Path) -> None:
    manifests = render(scenario)
    kubernetes = _load(manifests, "platform", tmp_path).executor.kubernetes
    (volume,) = kubernetes.volumes
    spec = pod_spec(manifests, "platform")
    mounted = _mounts(manifests, "platform")[str(volume.path)]
    claim = next(v for v in spec["volumes"] if v["name"] == mounted)["persistentVolumeClaim"]["claimName"]
    assert claim == volume.claim
    assert (kubernetes.run_as_user, kubernetes.run_as_group) == (1000, 1000) == (
        spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"])


@pytest.mark.usefixtures("container_env")
def test_gpu_example_passes_node_selection_and_pull_secrets_to_the_executor(tmp_path: Path) -> None:
    settings = _load(render("gpu-cluster"), "platform", tmp_path)
    kubernetes = settings.executor.kubernetes
    assert settings.executor.kind == "kubernetes"
    assert settings.scheduler.gpus == 4
    assert kubernetes.gpu_node_selector == {"nvidia.com/gpu.present": "true"}
    assert [(t.key, t.operator, t.effect) for t in kubernetes.gpu_tolerations] == [
        ("nvidia.com/gpu", "Exists", "NoSchedule")]
    assert kubernetes.image_pull_secrets == ["regcred"]
    assert settings.executor.default_timeout == 7200  # from platform.config


@pytest.mark.usefixtures("container_env")
def test_tolerations_are_given_in_the_platforms_spelling(tmp_path: Path) -> None:
    values_file = tmp_path / "tolerations.yaml"
    values_file.write_text(
        "imagePullSecrets: [regcred]\n"
        "platform:\n"
        "  operators:\n"
        "    tolerations: [{key: dedicated, operator: Equal, value: imaging, effect: NoExecute,"
        " tolerationSeconds: 300}]\n"
        "    gpuTolerations: []\n"
        "    imagePullSecrets: [ngc, regcred]\n")
    kubernetes = _platform_settings(tmp_path, "-f", str(values_file)).executor.kubernetes
    (toleration,) = kubernetes.tolerations
    assert toleration.model_dump() == {"key": "dedicated", "operator": "Equal", "value": "imaging",
                                       "effect": "NoExecute", "toleration_seconds": 300}
    assert kubernetes.gpu_tolerations == []
    assert kubernetes.image_pull_secrets == ["regcred", "ngc"]


@pytest.mark.usefixtures("container_env")
def test_config_values_reach_the_file_but_cannot_unwire_the_chart(tmp_path: Path) -> None:
    """platform.config adds any key and replaces the chart's defaults (JSON logs), never its wiring."""
    settings = _platform_settings(
        tmp_path,
        "--set", "platform.config.server.port=1",
        "--set", "platform.config.log.level=DEBUG",
        "--set", "platform.config.log.format=console",
        "--set", "platform.config.executor.kubernetes.service_account=operators",
    )
    assert settings.server.port == 30031
    assert (settings.log.level, settings.log.format) == ("DEBUG", "console")
    assert settings.executor.kubernetes.service_account == "operators"
    assert settings.executor.kubernetes.platform_host == f"{FULLNAME}-platform"


@pytest.mark.usefixtures("container_env")
def test_local_executor_runs_operators_next_to_the_platform(tmp_path: Path) -> None:
    settings = _load(render("local-executor"), "platform", tmp_path)
    assert settings.executor.kind == "local"
    assert settings.executor.kubernetes.volumes == []
    assert settings.payloads_dir == Path("/var/lib/openclara/platform/payloads")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rest_services_accept_the_host_names_of_their_services(scenario: str, tmp_path: Path) -> None:
    """The REST services refuse unknown Host headers (421): in the cluster they are called by Service name."""
    manifests = render(scenario)
    results = _load(manifests, "results", tmp_path)
    adapter = _load(manifests, "dicom-adapter", tmp_path)
    for settings, service in ((results, f"{FULLNAME}-results"), (adapter.api, f"{FULLNAME}-dicom-api")):
        assert {service, f"{service}.{NAMESPACE}", f"{service}.{NAMESPACE}.svc",
                f"{service}.{NAMESPACE}.svc.cluster.local"} <= set(settings.allowed_hosts)
