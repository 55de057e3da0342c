"""The executor `executor.kind` in config/platform-server.yaml asks for, built from its settings."""

from __future__ import annotations

import hashlib

from platform_server.executors.base import Executor
from platform_server.executors.container import ContainerExecutor, ContainerOptions
from platform_server.executors.engine import ContainerEngine
from platform_server.executors.local import LocalExecutor
from platform_server.settings import PlatformSettings


def platform_id(settings: PlatformSettings) -> str:
    """Names this platform's containers: the same data folder is the same platform across restarts."""
    return hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:16]


def make_executor(settings: PlatformSettings) -> Executor:
    s = settings.executor
    if s.kind == "local":
        return LocalExecutor(s.kill_grace, s.log_tail_lines)
    c = s.container
    env = {"CONTAINERS_CONF": str(c.containers_conf)} if c.containers_conf is not None else {}
    options = ContainerOptions(network=c.network_mode, gpu_mode=c.gpu_mode, kill_grace=s.kill_grace,
                               tail_lines=s.log_tail_lines, pull_timeout=c.pull_timeout,
                               pull_secrets=dict(c.pull_secrets), platform_id=platform_id(settings))
    return ContainerExecutor(ContainerEngine(c.engine, env), options)
