"""executor.kind: kubernetes in config/platform-server.yaml: refused at start when pods could not see the data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from platform_server.executors.factory import make_executor, platform_id
from platform_server.executors.kubernetes import KubernetesExecutor
from platform_server.settings import CLUSTER_GPUS, PlatformSettings


def settings(**kubernetes: Any) -> PlatformSettings:
    k = {"volumes": [{"claim": "oc-shared", "path": "/shared"}], **kubernetes}
    return PlatformSettings(storage={"data_dir": "/var/lib/openclara", "payloads_dir": "/shared/payloads",
                                     "models_dir": "/shared/models"},
                            executor={"kind": "kubernetes", "kubernetes": k})


def test_kubernetes_needs_a_shared_volume() -> None:
    with pytest.raises(ValidationError, match="needs executor.kubernetes.volumes"):
        PlatformSettings(executor={"kind": "kubernetes"})


def test_payloads_and_models_must_lie_on_a_shared_volume() -> None:
    with pytest.raises(ValidationError, match=r"storage.payloads_dir \(/data/payloads\) and storage.models_dir"):
        volumes = [{"claim": "c", "path": "/shared"}]
        executor = {"kind": "kubernetes", "kubernetes": {"volumes": volumes}}
        PlatformSettings(storage={"data_dir": "/data"}, executor=executor)


def test_bad_claim_names_and_relative_paths_are_refused() -> None:
    with pytest.raises(ValidationError, match="claim"):
        settings(volumes=[{"claim": "Not_A_Name", "path": "/shared"}])
    with pytest.raises(ValidationError, match="must be absolute"):
        settings(volumes=[{"claim": "c", "path": "shared"}])


def test_gpu_auto_leaves_it_to_the_cluster() -> None:
    assert settings().gpu_count() == CLUSTER_GPUS
    assert PlatformSettings(scheduler={"gpus": 4}, **settings().model_dump(exclude={"scheduler"})).gpu_count() == 4


def test_two_releases_in_one_namespace_do_not_share_a_platform_label() -> None:
    assert platform_id(settings(platform_host="a-platform")) != platform_id(settings(platform_host="b-platform"))
    assert platform_id(settings(platform_host="a-platform")) == platform_id(settings(platform_host="a-platform"))


def test_the_factory_builds_the_executor_with_the_settings(tmp_path: Path) -> None:
    s = settings(node_selector={"pool": "ai"}, tolerations=[{"key": "dedicated", "operator": "Exists",
                                                              "toleration_seconds": 30}], run_as_user=1000)
    executor = make_executor(s)
    assert isinstance(executor, KubernetesExecutor)
    pods = executor.options.pods
    assert pods.node_selector == {"pool": "ai"}
    assert pods.tolerations == ({"key": "dedicated", "operator": "Exists", "tolerationSeconds": 30},)
    assert pods.gpu_tolerations == ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
    assert (pods.run_as_user, str(pods.claims[0].path)) == (1000, "/shared")
