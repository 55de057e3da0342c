"""Platform server settings: `config/platform-server.yaml` overridden by `CLARA_PLATFORM_*` env vars.

Nested keys use `__` in the environment, e.g. `CLARA_PLATFORM_SCHEDULER__MAX_CONCURRENT_JOBS=4`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from openclara.paths import clara_home


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(30031, ge=0, le=65535)
    max_message_mb: int = Field(8, ge=1, le=64, description="gRPC message size limit (chunks are 1 MiB)")


class StorageSettings(_Section):
    data_dir: Path | None = Field(None, description="default: $CLARA_HOME/platform")


class SchedulerSettings(_Section):
    max_concurrent_jobs: int = Field(2, ge=1)
    gpus: int | Literal["auto"] = "auto"


class ContainerSettings(_Section):
    engine: str = Field("podman", description="podman or docker (a name on PATH or a full path)")
    containers_conf: Path | None = Field(None, description="CONTAINERS_CONF for Podman (restricted machines)")
    network: Literal["pod", "host"] | None = Field(None, description="default: pod for Podman, host for Docker")
    gpu_devices: Literal["cdi", "gpus"] | None = Field(None, description="default: cdi for Podman, gpus for Docker")
    pull_timeout: float = Field(1800.0, gt=0)
    service_ready_timeout: float = Field(300.0, gt=0)
    pull_secrets: dict[str, Path] = Field(default_factory=dict, description="pull-secret name -> auth file")

    @property
    def is_podman(self) -> bool:
        return "podman" in Path(self.engine).name

    @model_validator(mode="after")
    def _check(self) -> ContainerSettings:
        if self.network == "pod" and not self.is_podman:
            raise ValueError("network: pod needs Podman (Docker has no pods): use network: host with Docker")
        missing = [f"{name} -> {path}" for name, path in self.pull_secrets.items() if not path.is_file()]
        if missing:
            raise ValueError(f"pull_secrets auth files do not exist: {', '.join(missing)}")
        return self

    @property
    def network_mode(self) -> Literal["pod", "host"]:
        return self.network or ("pod" if self.is_podman else "host")

    @property
    def gpu_mode(self) -> Literal["cdi", "gpus"]:
        return self.gpu_devices or ("cdi" if self.is_podman else "gpus")


class ExecutorSettings(_Section):
    kind: Literal["local", "container"] = Field("local", description="local processes or containers")
    default_timeout: float = Field(3600.0, gt=0, description="seconds an operator may run without its own timeout")
    kill_grace: float = Field(1.0, gt=0, le=30, description="seconds between SIGTERM and SIGKILL")
    log_tail_lines: int = Field(20, ge=1, le=1000)
    container: ContainerSettings = ContainerSettings()


class JobSettings(_Section):
    requeue_running_on_restart: bool = False


class ResultsServiceSettings(_Section):
    url: str = "http://127.0.0.1:8088"


class ShutdownSettings(_Section):
    drain_timeout: float = Field(30.0, ge=0)


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["console", "json"] = "console"


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLARA_PLATFORM_", env_nested_delimiter="__", extra="forbid")

    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    executor: ExecutorSettings = ExecutorSettings()
    jobs: JobSettings = JobSettings()
    results_service: ResultsServiceSettings = ResultsServiceSettings()
    shutdown: ShutdownSettings = ShutdownSettings()
    log: LogSettings = LogSettings()

    @property
    def data_dir(self) -> Path:
        return self.storage.data_dir or clara_home() / "platform"

    @property
    def endpoint(self) -> str:
        return f"{self.server.host}:{self.server.port}"

    def gpu_count(self) -> int:
        """The configured GPU count, or the number `nvidia-smi -L` lists when set to `auto`."""
        if self.scheduler.gpus != "auto":
            return self.scheduler.gpus
        return detect_gpus()


def detect_gpus() -> int:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))
