"""The configuration files the chart renders load with the services' own settings classes, and fit the pods.

Each service reads its file from a ConfigMap (`<service> serve -f /config/<service>.yaml`); the image's
CLARA_* variables apply on top, as in the container (the container_env fixture, conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from openclara.settings import load_settings
from platform_server.settings import PlatformSettings
from tests.deploy.chart import (
    CHART,
    COMPONENTS,
    CONFIG_FILES,
    FULLNAME,
    HAND_OFF,
    NAMESPACE,
    SCENARIOS,
    helm,
    load_config,
    mounts,
    pod_spec,
    render,
    volume_of,
)


def _platform_settings(tmp_path: Path, *helm_args: str) -> PlatformSettings:
    """Render only the platform's ConfigMap with these helm arguments and load its file."""
    out = helm("template", "clara", str(CHART), "--show-only", "templates/platform-configmap.yaml", *helm_args).stdout
    path = tmp_path / "platform-server.yaml"
    path.write_text(yaml.safe_load(out)["data"]["platform-server.yaml"])
    return load_settings(PlatformSettings, path)


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("component", COMPONENTS)
def test_rendered_config_passes_the_services_settings_validation(scenario: str, component: str,
                                                                 tmp_path: Path) -> None:
    load_config(render(scenario), component, tmp_path)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("component", COMPONENTS)
def test_each_service_reads_the_file_of_its_config_map(scenario: str, component: str) -> None:
    manifests = render(scenario)
    spec = pod_spec(manifests, component)
    (container,) = spec["containers"]
    assert container["args"][-2:] == ["-f", f"/config/{CONFIG_FILES[component]}"]
    config_volume = next(v for v in spec["volumes"] if v["name"] == mounts(manifests, component)["/config"])
    assert config_volume["configMap"]["name"] == f"{FULLNAME}-{component}"


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", ["default", "gpu-cluster", "variants"])
def test_services_find_each_other_by_their_service_names(scenario: str, tmp_path: Path) -> None:
    manifests = render(scenario)
    platform = load_config(manifests, "platform", tmp_path)
    results = load_config(manifests, "results", tmp_path)
    adapter = load_config(manifests, "dicom-adapter", tmp_path)
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
    platform = load_config(manifests, "platform", tmp_path)
    results = load_config(manifests, "results", tmp_path)
    adapter = load_config(manifests, "dicom-adapter", tmp_path)
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
    platform = load_config(manifests, "platform", tmp_path)
    results = load_config(manifests, "results", tmp_path)
    adapter = load_config(manifests, "dicom-adapter", tmp_path)
    shared = "data" if scenario == "local-executor" else "shared"
    assert volume_of(manifests, "platform", platform.data_dir) == "data"
    assert volume_of(manifests, "platform", platform.payloads_dir) == shared
    assert volume_of(manifests, "platform", platform.models_dir) == shared
    assert volume_of(manifests, "results", results.database.path) == "data"
    for path in (adapter.database.path, adapter.export.state_dir):  # SQLite: never on the shared volume
        assert volume_of(manifests, "dicom-adapter", path) == "data"
    spool = "shared" if HAND_OFF[scenario] else "data"  # dicomAdapter.handOff (test_hand_off.py)
    assert volume_of(manifests, "dicom-adapter", adapter.storage.spool_dir) == spool


@pytest.mark.usefixtures("container_env")
@pytest.mark.parametrize("scenario", ["default", "gpu-cluster", "variants"])
def test_operator_pods_share_the_platforms_volume_and_user(scenario: str, tmp_path: Path) -> None:
    manifests = render(scenario)
    kubernetes = load_config(manifests, "platform", tmp_path).executor.kubernetes
    (volume,) = kubernetes.volumes
    spec = pod_spec(manifests, "platform")
    mounted = mounts(manifests, "platform")[str(volume.path)]
    claim = next(v for v in spec["volumes"] if v["name"] == mounted)["persistentVolumeClaim"]["claimName"]
    assert claim == volume.claim
    assert (kubernetes.run_as_user, kubernetes.run_as_group) == (1000, 1000) == (
        spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"])


@pytest.mark.usefixtures("container_env")
def test_gpu_example_passes_node_selection_and_pull_secrets_to_the_executor(tmp_path: Path) -> None:
    settings = load_config(render("gpu-cluster"), "platform", tmp_path)
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
    settings = load_config(render("local-executor"), "platform", tmp_path)
    assert settings.executor.kind == "local"
    assert settings.executor.kubernetes.volumes == []
    assert settings.payloads_dir == Path("/var/lib/openclara/platform/payloads")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_rest_services_accept_the_host_names_of_their_services(scenario: str, tmp_path: Path) -> None:
    """The REST services refuse unknown Host headers (421): in the cluster they are called by Service name."""
    manifests = render(scenario)
    results = load_config(manifests, "results", tmp_path)
    adapter = load_config(manifests, "dicom-adapter", tmp_path)
    for settings, service in ((results, f"{FULLNAME}-results"), (adapter.api, f"{FULLNAME}-dicom-api")):
        assert {service, f"{service}.{NAMESPACE}", f"{service}.{NAMESPACE}.svc",
                f"{service}.{NAMESPACE}.svc.cluster.local"} <= set(settings.allowed_hosts)
