"""Settings of the console: `config/console.yaml` overridden by `CLARA_CONSOLE__*` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from openclara.auth.settings import AuthSettings
from openclara.http_guards import check_allowed_hosts
from openclara.metrics import PATH as METRICS_PATH
from openclara.ports import CONSOLE_PORT, DICOM_API_URL, LOOPBACK, PLATFORM_ENDPOINT, PLATFORM_PORT, RESULTS_URL
from openclara.tls import ClientTlsSettings


class ConsoleSettings(BaseSettings):
    """Where the console listens and where it finds the three services it shows."""

    model_config = SettingsConfigDict(env_prefix="CLARA_CONSOLE__", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(CONSOLE_PORT, ge=0, le=65535)  # 0: any free port
    platform_endpoint: str = PLATFORM_ENDPOINT
    platform_tls: ClientTlsSettings = Field(default_factory=ClientTlsSettings)
    results_url: str = RESULTS_URL
    dicom_api_url: str = DICOM_API_URL
    # The platform's Prometheus /metrics, read by the overview; None: the platform endpoint's host on the port
    # after its own, https when platform_tls is enabled (the platform's own default, metrics.port).
    platform_metrics_url: str | None = None
    # The token the console sends to the services (an admin's): None takes the credentials file's admin entry.
    api_token: str | None = None
    # Seconds a browser session lasts after the login; the login asks for the token again after that.
    session_seconds: int = Field(12 * 3600, ge=60)
    # The browser is told to send the session cookie only over HTTPS (set when a TLS proxy fronts the console).
    secure_cookie: bool = False
    allowed_hosts: list[str] = Field(default_factory=list)
    # Seconds a list of every job (one Platform API call) is reused by the pages before it is listed again.
    job_list_max_age_seconds: float = Field(2.0, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @field_validator("platform_metrics_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL (the platform's /metrics)")
        return value

    @property
    def metrics_url(self) -> str:
        """Where the platform's /metrics is: as set, else beside `platform_endpoint` as the platform defaults it."""
        if self.platform_metrics_url is not None:
            return self.platform_metrics_url
        host, _, port = self.platform_endpoint.rpartition(":")
        if not port.isdigit():  # no port in the endpoint: the platform's default one
            host, port = self.platform_endpoint, str(PLATFORM_PORT)
        scheme = "https" if self.platform_tls.enabled else "http"
        return f"{scheme}://{host or LOOPBACK}:{int(port) + 1}{METRICS_PATH}"

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: list[str]) -> list[str]:
        return check_allowed_hosts(value)
