"""Settings of the results service: `config/results-service.yaml` overridden by `CLARA_RESULTS_*` env vars."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from openclara.auth.settings import AuthSettings
from openclara.http_guards import DEFAULT_MAX_BODY_BYTES, check_allowed_hosts
from openclara.paths import clara_home
from openclara.ports import PLATFORM_ENDPOINT, RESULTS_PORT
from openclara.tls import ClientTlsSettings, ServerTlsSettings


def _default_database() -> Path:
    return clara_home() / "results" / "results.db"


class DatabaseSettings(BaseModel):
    """Where tasks live and how hard SQLite syncs them."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(default_factory=_default_database)
    # NORMAL in WAL mode survives a crash or kill -9 of the service; FULL also survives power loss.
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"


class LeaseSettings(BaseModel):
    """How long an agent holds a task before it goes back to Pending."""

    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(300.0, gt=0)
    # A task whose lease keeps running out (an agent that crashes on it) is Failed after this many; 0 = never.
    # Off by default: agents cannot renew a lease, so a delivery slower than `seconds` also expires it.
    max_expiries: int = Field(0, ge=0)
    sweep_interval_seconds: float = Field(1.0, gt=0)
    max_batch: int = Field(100, ge=1, le=10_000)


class RetrySettings(BaseModel):
    """Failure with retryLater: exponential backoff, then Failed after `max_retries`."""

    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(3, ge=0)
    backoff_base_seconds: float = Field(5.0, ge=0)
    backoff_max_seconds: float = Field(600.0, ge=0)

    @model_validator(mode="after")
    def _max_not_below_base(self) -> RetrySettings:
        if self.backoff_max_seconds < self.backoff_base_seconds:
            raise ValueError("backoff_max_seconds must be >= backoff_base_seconds")
        return self


class CleanupSettings(BaseModel):
    """Clara's `Cleanup` section: delete a finished job's payload after a retention time."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    retain_data_for_minutes: float = Field(480.0, ge=0)
    interval_seconds: float = Field(60.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _clara_spelling(cls, data: Any) -> Any:
        """YAML uses Clara's `retainDataForMinutes`; an env override arrives snake_case and wins."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        spellings = ("retain_data_for_minutes", "retaindataforminutes", "retainDataForMinutes")
        values = [data.pop(key) for key in spellings if key in data]
        if values:
            data["retain_data_for_minutes"] = values[0]
        return data


class ResultsSettings(BaseSettings):
    """Everything the results service reads at start-up (validated once, all errors reported together)."""

    model_config = SettingsConfigDict(env_prefix="CLARA_RESULTS_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(RESULTS_PORT, ge=0, le=65535)
    # HTTPS on `port` (no plain HTTP beside it) when cert_file/key_file are set; client_ca_file: mutual TLS.
    tls: ServerTlsSettings = Field(default_factory=ServerTlsSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    lease: LeaseSettings = Field(default_factory=LeaseSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    cleanup: CleanupSettings = Field(default_factory=CleanupSettings)
    platform_endpoint: str = PLATFORM_ENDPOINT
    # A platform that serves TLS (its server.tls): the CA to trust and, for mutual TLS, our certificate.
    platform_tls: ClientTlsSettings = Field(default_factory=ClientTlsSettings)
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1024)
    # Host names clients use besides the loopback names, IP addresses and `host` (DNS rebinding guard);
    # "*.example.org" takes its sub-domains, "*" any name.
    allowed_hosts: list[str] = Field(default_factory=list)
    drain_timeout_seconds: float = Field(10.0, ge=0)
    # uvicorn's HTTP/1.1 parser: "auto" takes httptools (C, about a third cheaper per request) when it is
    # installed, else h11 (pure Python).
    http_parser: Literal["auto", "h11", "httptools"] = "auto"
    # "auto" runs on uvloop when it is installed, else on asyncio's own loop.
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        return check_allowed_hosts(value)
