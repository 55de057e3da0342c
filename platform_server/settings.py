"""Platform server settings: `config/platform-server.yaml` overridden by `CLARA_PLATFORM_*` env vars.

Nested keys use `__` in the environment, e.g. `CLARA_PLATFORM_SCHEDULER__MAX_CONCURRENT_JOBS=4`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from openclara.auth.settings import AuthSettings
from openclara.http_guards import check_allowed_hosts
from openclara.paths import clara_home
from openclara.ports import PLATFORM_PORT, RESULTS_URL
from openclara.tls import ServerTlsSettings

# GPUs the platform may ask a cluster for at once when `scheduler.gpus` is auto: more than any one
# platform's jobs hold, so the cluster's scheduler, not this count, decides.
CLUSTER_GPUS = 256


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(PLATFORM_PORT, ge=0, le=65535)
    max_message_mb: int = Field(8, ge=1, le=64, description="gRPC message size limit (chunks are 1 MiB)")
    # Set cert_file/key_file: the one port serves TLS only (no plain port beside it); client_ca_file: mutual TLS.
    tls: ServerTlsSettings = Field(default_factory=ServerTlsSettings)


class MetricsSettings(_Section):
    """Prometheus `GET /metrics` over HTTP (the API is gRPC only), with a read-only token (docs/monitoring.md)."""

    enabled: bool = True
    host: str | None = Field(None, description="default: server.host (127.0.0.1)")
    port: int | None = Field(None, ge=0, le=65535, description="default: server.port + 1 (30032); 0 = any free "
                             "port, and the default when server.port is 0")
    allowed_hosts: list[str] = Field(default_factory=list, description="further Host names to answer (DNS rebinding)")

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return check_allowed_hosts(value)


class PlatformStorageSettings(_Section):
    """Where the platform keeps its database, payloads and models (YAML `storage:`)."""

    data_dir: Path | None = Field(None, description="default: $CLARA_HOME/platform")
    # On Kubernetes these two live on a ReadWriteMany volume that operator pods mount too, while the
    # SQLite database stays on the platform's own volume (one writer, no network file system locks).
    payloads_dir: Path | None = Field(None, description="default: <data_dir>/payloads")
    models_dir: Path | None = Field(None, description="default: <data_dir>/models")


class SchedulerSettings(_Section):
    max_concurrent_jobs: int = Field(2, ge=1)
    gpus: int | Literal["auto"] = "auto"


class ContainerSettings(_Section):
    engine: str = Field("podman", description="podman or docker (a name on PATH or a full path)")
    containers_conf: Path | None = Field(None, description="CONTAINERS_CONF for Podman (restricted machines)")
    network: Literal["pod", "host"] | None = Field(None, description="default: pod for Podman, host for Docker")
    gpu_devices: Literal["cdi", "gpus"] | None = Field(None, description="default: cdi for Podman, gpus for Docker")
    pull_timeout: float = Field(1800.0, gt=0)
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


class SharedVolume(_Section):
    """A ReadWriteMany claim the platform has mounted at `path`: operator pods mount it with subPaths."""

    claim: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
    path: Path


class Toleration(_Section):
    key: str | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(None, ge=0)

    def manifest(self) -> dict[str, str | int]:
        """As the Pod API spells it (camelCase, unset fields left out)."""
        names = {"toleration_seconds": "tolerationSeconds"}
        return {names.get(key, key): value for key, value in self.model_dump(exclude_none=True).items()}


class KubernetesSettings(_Section):
    kubeconfig: Path | None = Field(None, description="null: in-cluster service account, else $KUBECONFIG")
    namespace: str | None = Field(None, description="null: the platform pod's namespace, else the kubeconfig's")
    volumes: list[SharedVolume] = Field(default_factory=list)
    platform_host: str | None = Field(None, description="how operators reach the Platform API (its Service)")
    node_selector: dict[str, str] = Field(default_factory=dict)
    gpu_node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    gpu_tolerations: list[Toleration] = Field(
        default_factory=lambda: [Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")])
    image_pull_secrets: list[str] = Field(default_factory=list)
    image_pull_policy: Literal["IfNotPresent", "Always", "Never"] = "IfNotPresent"
    run_as_user: int | None = Field(None, ge=0)
    run_as_group: int | None = Field(None, ge=0)
    service_account: str | None = None
    schedule_timeout: float = Field(600.0, gt=0, description="seconds a pod may wait for a node")

    @model_validator(mode="after")
    def _check(self) -> KubernetesSettings:
        if self.kubeconfig is not None and not self.kubeconfig.is_file():
            raise ValueError(f"kubeconfig {self.kubeconfig} does not exist")
        relative = [str(v.path) for v in self.volumes if not v.path.is_absolute()]
        if relative:
            raise ValueError(f"volumes: path must be absolute: {', '.join(relative)}")
        return self


class ExecutorSettings(_Section):
    kind: Literal["local", "container", "kubernetes"] = Field(
        "local", description="local processes, containers, or pods on a Kubernetes cluster")
    default_timeout: float = Field(3600.0, gt=0, description="seconds an operator may run without its own timeout")
    kill_grace: float = Field(1.0, gt=0, le=30, description="seconds between SIGTERM and SIGKILL")
    log_tail_lines: int = Field(20, ge=1, le=1000)
    service_ready_timeout: float = Field(300.0, gt=0, description="seconds a service may take to answer")
    container: ContainerSettings = ContainerSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()

    @model_validator(mode="after")
    def _check(self) -> ExecutorSettings:
        if self.kind == "kubernetes" and not self.kubernetes.volumes:
            raise ValueError("executor.kind: kubernetes needs executor.kubernetes.volumes: the ReadWriteMany "
                             "claim(s) holding storage.payloads_dir and storage.models_dir")
        return self


class LocalFilesSettings(_Section):
    """Zero-copy hand-off with services on the same file system (openclara's `LocalFiles` API extension).

    `Adopt` hard-links files from `directories` into a payload instead of receiving them over gRPC;
    `Locate` tells a caller where a payload's files are so it can link them out. Both only for the
    token names in `callers`; anyone else, another file system or another machine uploads as before.
    """

    enabled: bool = True
    directories: list[Path] | None = Field(
        None, description="where Adopt may take files from; default: $CLARA_HOME/dicom/spool (the adapter's spool)")
    callers: list[str] = Field(default_factory=lambda: ["services"], description="token names allowed to call it")

    @field_validator("directories")
    @classmethod
    def _absolute(cls, value: list[Path] | None) -> list[Path] | None:
        relative = [str(p) for p in value or [] if not p.is_absolute()]
        if relative:
            raise ValueError(f"local_files.directories must be absolute: {', '.join(relative)}")
        return value

    @property
    def sources(self) -> list[Path]:
        return self.directories if self.directories is not None else [clara_home() / "dicom" / "spool"]


class JobSettings(_Section):
    requeue_running_on_restart: bool = False


class ResultsServiceSettings(_Section):
    url: str = RESULTS_URL
    # For an https url: the CA that signs the results service's certificate, handed to operators as
    # CLARA_TLS_CA_FILE (mounted read-only into containers); None = the operators' system trust store.
    ca_file: Path | None = None

    @model_validator(mode="after")
    def _ca_file_exists(self) -> ResultsServiceSettings:
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ValueError(f"TLS files are missing: ca_file ({self.ca_file})")
        return self


class ShutdownSettings(_Section):
    drain_timeout: float = Field(30.0, ge=0)


class LogSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["console", "json"] = "console"


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLARA_PLATFORM_", env_nested_delimiter="__", extra="forbid")

    server: ServerSettings = ServerSettings()
    metrics: MetricsSettings = MetricsSettings()
    storage: PlatformStorageSettings = PlatformStorageSettings()
    local_files: LocalFilesSettings = LocalFilesSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    executor: ExecutorSettings = ExecutorSettings()
    jobs: JobSettings = JobSettings()
    results_service: ResultsServiceSettings = ResultsServiceSettings()
    shutdown: ShutdownSettings = ShutdownSettings()
    log: LogSettings = LogSettings()
    auth: AuthSettings = AuthSettings()

    @model_validator(mode="after")
    def _shared_folders(self) -> PlatformSettings:
        """On Kubernetes, operator pods can only see what lies on a shared claim: check it now, not per job."""
        if self.executor.kind != "kubernetes":
            return self
        roots = [v.path for v in self.executor.kubernetes.volumes]
        outside = [f"storage.{name} ({folder})" for name, folder in
                   (("payloads_dir", self.payloads_dir), ("models_dir", self.models_dir))
                   if not any(folder == root or root in folder.parents for root in roots)]
        if outside:
            raise ValueError(f"{' and '.join(outside)} must lie on a volume of executor.kubernetes.volumes "
                             f"({', '.join(str(r) for r in roots)}): operator pods mount only those")
        return self

    @model_validator(mode="after")
    def _metrics_port(self) -> PlatformSettings:
        if self.metrics.enabled and self.metrics.port is None and self.server.port == 65535:
            raise ValueError("metrics.port: server.port is 65535, so the default (server.port + 1) does not exist")
        return self

    @property
    def metrics_host(self) -> str:
        return self.metrics.host or self.server.host

    @property
    def metrics_port(self) -> int:
        """metrics.port, else the port after the API's (0 stays 0: tests and side-by-side stacks)."""
        if self.metrics.port is not None:
            return self.metrics.port
        return 0 if self.server.port == 0 else self.server.port + 1

    @property
    def data_dir(self) -> Path:
        return self.storage.data_dir or clara_home() / "platform"

    @property
    def payloads_dir(self) -> Path:
        return self.storage.payloads_dir or self.data_dir / "payloads"

    @property
    def models_dir(self) -> Path:
        return self.storage.models_dir or self.data_dir / "models"

    @property
    def endpoint(self) -> str:
        return f"{self.server.host}:{self.server.port}"

    def gpu_count(self) -> int:
        """The configured GPU count, or the number `nvidia-smi -L` lists when set to `auto`."""
        if self.scheduler.gpus != "auto":
            return self.scheduler.gpus
        if self.executor.kind == "kubernetes":
            return CLUSTER_GPUS  # the cluster's scheduler and device plugin decide; set a number to cap it
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
