"""The executor `executor.kind` in config/platform-server.yaml asks for, built from its settings."""

from __future__ import annotations

import hashlib
import os
from pathlib import PurePosixPath

from platform_server.executors.base import Executor
from platform_server.executors.container import ContainerExecutor, ContainerOptions
from platform_server.executors.engine import ContainerEngine
from platform_server.executors.kubeclient import connect
from platform_server.executors.kubernetes import KubernetesExecutor, KubernetesOptions
from platform_server.executors.local import LocalExecutor
from platform_server.executors.pods import PodOptions, SharedClaim
from platform_server.settings import PlatformSettings


def platform_id(settings: PlatformSettings) -> str:
    """Names this platform's containers and pods: the same data folder is the same platform across restarts.

    On Kubernetes every release's platform has the same data folder inside its pod, so the namespace and
    the platform's Service name (what tells two releases apart) are part of it too.
    """
    identity = str(settings.data_dir.resolve())
    if settings.executor.kind == "kubernetes":
        k = settings.executor.kubernetes
        identity += f"|{k.namespace or ''}|{k.platform_host or ''}"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def make_executor(settings: PlatformSettings) -> Executor:
    s = settings.executor
    if s.kind == "local":
        return LocalExecutor(s.kill_grace, s.log_tail_lines)
    if s.kind == "kubernetes":
        return kubernetes_executor(settings)
    c = s.container
    env = {"CONTAINERS_CONF": str(c.containers_conf)} if c.containers_conf is not None else {}
    options = ContainerOptions(network=c.network_mode, gpu_mode=c.gpu_mode, kill_grace=s.kill_grace,
                               tail_lines=s.log_tail_lines, pull_timeout=c.pull_timeout,
                               pull_secrets=dict(c.pull_secrets), platform_id=platform_id(settings))
    return ContainerExecutor(ContainerEngine(c.engine, env), options)


def kubernetes_executor(settings: PlatformSettings) -> KubernetesExecutor:
    k = settings.executor.kubernetes
    pods = PodOptions(
        namespace=k.namespace or "default",  # the connection's namespace replaces it at start when unset
        platform_id=platform_id(settings),
        claims=tuple(SharedClaim(v.claim, PurePosixPath(v.path)) for v in k.volumes),
        node_selector=k.node_selector, gpu_node_selector=k.gpu_node_selector,
        tolerations=tuple(t.manifest() for t in k.tolerations),
        gpu_tolerations=tuple(t.manifest() for t in k.gpu_tolerations),
        image_pull_secrets=tuple(k.image_pull_secrets), image_pull_policy=k.image_pull_policy,
        # Unset: the platform's own user, so operators can write the output folders the platform made and
        # the platform can read and delete what they wrote (with no capabilities, even root could not).
        run_as_user=os.getuid() if k.run_as_user is None else k.run_as_user,
        run_as_group=os.getgid() if k.run_as_group is None else k.run_as_group,
        service_account=k.service_account,
        kill_grace=settings.executor.kill_grace,
    )
    options = KubernetesOptions(pods=pods, platform_host=k.platform_host, schedule_timeout=k.schedule_timeout,
                                tail_lines=settings.executor.log_tail_lines)
    return KubernetesExecutor(lambda: connect(k.kubeconfig, k.namespace), options)
