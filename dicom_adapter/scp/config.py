"""Settings of the asyncio SCP (`scp:` section); the spool's are `storage/settings.py`.

Plain pydantic models: the adapter's `settings.py` embeds them in its `BaseSettings`, so the YAML keys
and the `CLARA_DICOM_SCP__*` environment overrides come from there.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dicom_adapter.dicom.uids import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from openclara.ports import DICOM_SCP_PORT
from openclara.tls import ServerTlsSettings


class ScpTlsSettings(ServerTlsSettings):
    """DICOM TLS (PS3.15 B.9 / BCP 195: TLS 1.2 or newer) on a port of its own, beside or instead of plain TCP."""

    port: int | None = Field(default=None, ge=0, le=65535)  # e.g. 2762 (DICOM TLS); null = no TLS listener
    required: bool = False  # true: no plain listener at all, only the TLS port

    @model_validator(mode="after")
    def _files(self) -> ScpTlsSettings:
        if self.port is None:
            if self.required:
                raise ValueError("scp.tls.required needs scp.tls.port: there would be no listener at all")
            return self
        if missing := self.missing_files():
            raise ValueError(f"scp.tls.port is set but these files are missing: {', '.join(missing)}")
        return self


class ScpSettings(BaseModel):
    """The listening DICOM port and the limits that apply to every Clara AE title."""

    model_config = ConfigDict(extra="forbid")  # a typo must fail, not be ignored

    host: str = "127.0.0.1"
    port: int = Field(default=DICOM_SCP_PORT, ge=0, le=65535)  # 0 = any free port (tests)
    maximum_associations: int = Field(default=25, ge=1)  # beyond this: transient A-ASSOCIATE-RJ
    # Connections with no association (A-ASSOCIATE-RQ not yet received, or rejected and lingering) do not
    # count above; beyond this many the oldest is closed, so idle sockets cannot lock a PACS out.
    max_pending_connections: int = Field(default=32, ge=1)
    association_request_timeout: float = Field(default=5.0, gt=0)  # a new connection's wait for its A-ASSOCIATE-RQ
    # Offered in the A-ASSOCIATE-AC; large PDUs mean fewer headers and syscalls per instance.
    max_pdu_length: int = Field(default=4_194_304, ge=4096, le=0xFFFFFFFF)
    acse_timeout: float = Field(default=30.0, gt=0)  # ARTIM; the A-ASSOCIATE-RQ wait is the smaller of the two
    dimse_timeout: float = Field(default=60.0, gt=0)  # between PDUs of one DIMSE message
    network_timeout: float = Field(default=300.0, gt=0)  # idle association between messages
    verification_enabled: bool = True  # accept C-ECHO (Verification SOP Class)
    reject_unknown_sources: bool = True  # only configured calling AE titles / hosts may associate
    stop_timeout: float = Field(default=30.0, ge=0)  # stop(): let associations finish, then abort
    implementation_class_uid: str = IMPLEMENTATION_CLASS_UID
    implementation_version_name: str = IMPLEMENTATION_VERSION_NAME
    tls: ScpTlsSettings = Field(default_factory=ScpTlsSettings)
