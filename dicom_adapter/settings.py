"""`AdapterSettings`: every section of `config/dicom-adapter.yaml`, with `CLARA_DICOM_*` env overrides.

Section `scp:` belongs to the SCP (`scp/config.py`), `storage:` to the spool (`storage/settings.py`),
`export:` to the export agent (`export/settings.py`); the rest is the core's. Clara's Kubernetes service
variables (CLARA_SERVICE_HOST/CLARA_SERVICE_PORT_API, CLARA_RESULTSSERVICE_SERVICE_HOST/PORT) override
the platform and results endpoints, as in Clara's `Program.cs`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dicom_adapter.config.seed import seed_problems
from dicom_adapter.export.settings import ExportSettings
from dicom_adapter.scp.config import ScpSettings
from dicom_adapter.storage.settings import StorageSettings
from openclara.auth.settings import AuthSettings
from openclara.http_guards import DEFAULT_MAX_BODY_BYTES, check_allowed_hosts
from openclara.paths import clara_home
from openclara.ports import DICOM_API_PORT, PLATFORM_ENDPOINT, RESULTS_URL
from openclara.tls import ClientTlsSettings, ServerTlsSettings


class ApiSettings(BaseModel):
    """The REST config API (Clara: fixed port 5000)."""

    model_config = ConfigDict(extra="forbid")  # a typo must fail, not be ignored

    host: str = "127.0.0.1"
    port: int = Field(default=DICOM_API_PORT, ge=0, le=65535)
    # Larger request bodies get 413 before they are read: this process also receives DICOM.
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    # Host names clients use besides the loopback names, IP addresses and `host` (DNS rebinding guard);
    # "*.example.org" takes its sub-domains, "*" any name.
    allowed_hosts: list[str] = Field(default_factory=list)
    # HTTPS on `port` (no plain HTTP beside it) when cert_file/key_file are set; client_ca_file: mutual TLS.
    tls: ServerTlsSettings = Field(default_factory=ServerTlsSettings)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        return check_allowed_hosts(value)


class PlatformClientSettings(BaseModel):
    """How payloads become jobs on the Platform API (gRPC)."""

    model_config = ConfigDict(extra="forbid")  # a typo must fail, not be ignored

    endpoint: str = Field(default=PLATFORM_ENDPOINT, min_length=3)
    parallel_uploads: int = Field(default=4, ge=1, le=64)
    concurrent_payloads: int = Field(default=2, ge=1, le=64)  # payloads submitted at the same time
    # Transient failures (platform down): wait base * 2**attempt, capped at max, then retry forever. The base
    # is the AE title's jobRetryDelay; this one only serves payloads whose AE title was deleted meanwhile.
    retry_backoff_base_seconds: float = Field(default=1.0, gt=0)
    retry_backoff_max_seconds: float = Field(default=60.0, gt=0)
    upload_metadata: bool = False  # add the tags below to the job metadata (Clara 0.8 uploadMetadata)
    metadata_dicom_source: list[str] = Field(
        default_factory=lambda: ["0008,0020", "0008,0060", "0008,1030", "0008,103E", "0020,000D"]
    )
    call_timeout_seconds: float = Field(default=30.0, gt=0)
    # A platform that serves TLS (its server.tls): the CA to trust and, for mutual TLS, our certificate.
    tls: ClientTlsSettings = Field(default_factory=ClientTlsSettings)
    # Zero-copy hand-off with a platform on this file system (its local_files section): spool files are
    # hard-linked into jobs and results linked out of its payloads instead of sent over gRPC; anything it
    # refuses is uploaded or downloaded as before. payloads_dir: the platform's payload folder as this
    # process sees it (results are linked only from there); null = $CLARA_HOME/platform/payloads.
    local_files: bool = True
    payloads_dir: Path | None = None

    @property
    def link_from(self) -> list[Path]:
        """Folders results may be linked from; none when local_files is off."""
        if not self.local_files:
            return []
        return [self.payloads_dir if self.payloads_dir is not None else clara_home() / "platform" / "payloads"]

    @model_validator(mode="after")
    def _ordered_backoff(self) -> PlatformClientSettings:
        if self.retry_backoff_max_seconds < self.retry_backoff_base_seconds:
            raise ValueError("retry_backoff_max_seconds must be >= retry_backoff_base_seconds")
        return self


class ResultsClientSettings(BaseModel):
    """The Results Service the export agent leases tasks from."""

    model_config = ConfigDict(extra="forbid")  # a typo must fail, not be ignored

    endpoint: str = RESULTS_URL
    # An https:// endpoint is verified against tls.ca_file (else the system's CAs), with tls.cert_file/key_file
    # as this client's certificate; enabled: true asks for https (also for CLARA_RESULTSSERVICE_SERVICE_*).
    tls: ClientTlsSettings = Field(default_factory=ClientTlsSettings)

    @field_validator("endpoint")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _scheme_agrees(self) -> ResultsClientSettings:
        if self.tls.enabled and not self.endpoint.startswith("https://"):
            raise ValueError(f"tls.enabled needs an https:// endpoint, not {self.endpoint}")
        return self


class DatabaseSettings(BaseModel):
    """SQLite file holding the live configuration and the durable payload state."""

    model_config = ConfigDict(extra="forbid")  # a typo must fail, not be ignored

    path: Path | None = None  # None = $CLARA_HOME/dicom/adapter.db

    def resolved_path(self) -> Path:
        return self.path if self.path is not None else clara_home() / "dicom" / "adapter.db"


class GroupingSettings(BaseModel):
    """Limits of the grouping step."""

    model_config = ConfigDict(extra="forbid")  # a typo must fail, not be ignored

    minimum_timeout_seconds: float = Field(default=0.5, gt=0)  # Clara forced >= 5 s; we allow down to this


class SeedSettings(BaseModel):
    """Entities inserted at start when no entity of that name exists (the database holds the live config)."""

    model_config = ConfigDict(extra="forbid")  # a typo must fail, not be ignored

    ae_titles: list[dict[str, object]] = Field(default_factory=list)  # ClaraAeTitle JSON shapes
    sources: list[dict[str, object]] = Field(default_factory=list)  # {aeTitle, hostIp}
    destinations: list[dict[str, object]] = Field(default_factory=list)  # {name, aeTitle, hostIp, port, tls?}


class LoggingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo must fail, not be ignored

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["console", "json"] = "console"


class AdapterSettings(BaseSettings):
    """The DICOM adapter's whole configuration."""

    model_config = SettingsConfigDict(env_prefix="CLARA_DICOM_", env_nested_delimiter="__", extra="forbid")

    scp: ScpSettings = Field(default_factory=ScpSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    platform: PlatformClientSettings = Field(default_factory=PlatformClientSettings)
    results: ResultsClientSettings = Field(default_factory=ResultsClientSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    grouping: GroupingSettings = Field(default_factory=GroupingSettings)
    seed: SeedSettings = Field(default_factory=SeedSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    shutdown_timeout_seconds: float = Field(default=30.0, ge=0)
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @field_validator("seed")
    @classmethod
    def _valid_seed(cls, seed: SeedSettings) -> SeedSettings:
        # Validated with the other sections so `config validate` reports seed errors together with them.
        problems = seed_problems(seed, GroupingSettings().minimum_timeout_seconds)
        if problems:
            raise ValueError("; ".join(problems))
        return seed


def apply_clara_environment(settings: AdapterSettings, environ: Mapping[str, str] | None = None) -> AdapterSettings:
    """Clara's Kubernetes service variables win over the file, like Clara's post-configure step."""
    env = os.environ if environ is None else environ
    platform = settings.platform
    results = settings.results
    if env.get("CLARA_SERVICE_HOST") and env.get("CLARA_SERVICE_PORT_API"):
        platform = platform.model_copy(
            update={"endpoint": f"{env['CLARA_SERVICE_HOST']}:{env['CLARA_SERVICE_PORT_API']}"}
        )
    if env.get("CLARA_RESULTSSERVICE_SERVICE_HOST") and env.get("CLARA_RESULTSSERVICE_SERVICE_PORT"):
        scheme = "https" if results.tls.enabled or results.endpoint.startswith("https://") else "http"
        endpoint = f"{scheme}://{env['CLARA_RESULTSSERVICE_SERVICE_HOST']}:{env['CLARA_RESULTSSERVICE_SERVICE_PORT']}"
        results = results.model_copy(update={"endpoint": endpoint})
    return settings.model_copy(update={"platform": platform, "results": results})
