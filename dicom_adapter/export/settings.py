"""Settings of the export agent (`export:` section of config/dicom-adapter.yaml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from openclara.paths import clara_home
from openclara.tls import ClientTlsSettings


class ExportSettings(BaseModel):
    """How the export agent leases result tasks and C-STOREs them to destinations.

    The agent name in the Results Service equals the calling AE title, as in Clara (`dicom>scu>aeTitle`).
    """

    model_config = ConfigDict(extra="forbid")  # a typo must fail, not be ignored

    enabled: bool = True
    ae_title: str = Field(default="ClaraSCU", min_length=1, max_length=16)
    lease_size: int = Field(default=10, ge=1, le=1000)
    # Idle backoff: the poll interval doubles from min to max while no task arrives, so an idle agent
    # costs nothing and a busy one picks the next batch up at once.
    poll_interval_min_seconds: float = Field(default=0.5, gt=0)
    # One lease request a second while idle costs nothing measurable and keeps results from waiting 5 s.
    poll_interval_max_seconds: float = Field(default=1.0, gt=0)
    max_associations_per_destination: int = Field(default=2, ge=1, le=64)
    max_concurrent_tasks: int = Field(default=8, ge=1, le=256)
    # Per-destination backoff after a failed delivery: base * 2**(failures-1), capped at max.
    retry_backoff_base_seconds: float = Field(default=2.0, gt=0)
    retry_backoff_max_seconds: float = Field(default=300.0, gt=0)
    # Deliveries the Results Service has already retried (`retries`) before the agent gives up: Failed.
    max_retries: int = Field(default=10, ge=0)
    transcode_on_refusal: bool = True
    state_dir: Path | None = None  # None = $CLARA_HOME/dicom/export
    # Where result files wait for their delivery; to be linked from the platform (platform.local_files) it
    # must be on the platform's payload file system. None = <state_dir>/spool.
    spool_dir: Path | None = None
    max_pdu_length: int = Field(default=0, ge=0)  # 0 = unlimited, as DCMTK proposes
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    acse_timeout_seconds: float = Field(default=30.0, gt=0)
    dimse_timeout_seconds: float = Field(default=60.0, gt=0)
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    stop_timeout_seconds: float = Field(default=30.0, gt=0)
    # DICOM TLS defaults of every destination: `enabled` for those that do not say, and the CA file and
    # client certificate for those that name none of their own (a site's one PKI, set once).
    tls: ClientTlsSettings = Field(default_factory=ClientTlsSettings)

    @model_validator(mode="after")
    def _ordered_intervals(self) -> ExportSettings:
        if self.poll_interval_max_seconds < self.poll_interval_min_seconds:
            raise ValueError("poll_interval_max_seconds must be >= poll_interval_min_seconds")
        if self.retry_backoff_max_seconds < self.retry_backoff_base_seconds:
            raise ValueError("retry_backoff_max_seconds must be >= retry_backoff_base_seconds")
        if self.tls.server_name is not None:
            # Each PACS has its own name: a shared one would fail every destination but one.
            raise ValueError("export.tls.server_name cannot be shared: set serverName on the destination")
        return self

    def resolved_state_dir(self) -> Path:
        """Where progress (SQLite) lives, and by default the spool of result files."""
        return self.state_dir if self.state_dir is not None else clara_home() / "dicom" / "export"

    def resolved_spool_dir(self) -> Path:
        return self.spool_dir if self.spool_dir is not None else self.resolved_state_dir() / "spool"
