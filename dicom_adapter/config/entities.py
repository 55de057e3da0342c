"""Clara 0.8's JSON shapes of the configuration entities, their validation and conversion to and from `models`.

One set of rules for both ways in: the REST config API (`api/config_routes.py`) and the `seed:` section.

Wire names are camelCase as in Clara (`aeTitle`, `hostIp`, `processorSettings`); validation errors
name the field as the client spelled it (`processorSettings.timeout`).
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dicom_adapter.errors import InvalidEntity
from dicom_adapter.models import (
    DEFAULT_JOB_RETRY_DELAY_MS,
    ClaraAeTitle,
    DestinationAeTitle,
    DestinationTls,
    JobPriority,
    SourceAeTitle,
)

PIPELINE_PREFIX = "pipeline-"
_CLARA_ID = re.compile(r"[0-9a-fA-F]{32}")
KNOWN_SETTINGS = {"timeout", "groupby", "priority", "jobretrydelay"}
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_WHOLE_NUMBER = re.compile(r"\s*-?[0-9]+\s*")
MAX_JOB_RETRY_DELAY_MS = 86_400_000  # one day; the backoff is capped by platform.retry_backoff_max_seconds anyway
_TAG = re.compile(r"^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$")


def check_ae_title(value: str) -> str:
    """DICOM AE title (PS3.5 VR AE): 1-16 chars of the default repertoire, no backslash or control chars."""
    text = value.strip(" ")
    if not text:
        raise ValueError("must not be empty or only spaces")
    if len(text) > 16:
        raise ValueError(f"must be at most 16 characters (got {len(text)})")
    bad = [c for c in text if not (0x20 <= ord(c) <= 0x7E) or c == "\\"]
    if bad:
        raise ValueError(f"contains characters not allowed in an AE title: {''.join(sorted(set(bad)))!r}")
    return text


def check_host(value: str) -> str:
    """An IP address, a CIDR block or a host name."""
    text = value.strip()
    try:
        ipaddress.ip_network(text, strict=False)
        return text
    except ValueError:
        pass
    if _HOSTNAME.match(text) and not text.replace(".", "").isdigit():
        return text
    raise ValueError(f"{text!r} is neither an IP address, a CIDR block nor a host name")


def normalise_tag(value: str) -> str:
    """'0020,000d', '(0020,000D)' or '0020000D' -> '0020,000D'."""
    match = _TAG.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a DICOM tag like 0020,000D")
    return f"{match.group(1)},{match.group(2)}".upper()


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class SourceBody(_Wire):
    ae_title: str = Field(alias="aeTitle")
    host_ip: str = Field(alias="hostIp")

    @field_validator("ae_title")
    @classmethod
    def _ae(cls, value: str) -> str:
        return check_ae_title(value)

    @field_validator("host_ip")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host(value)

    def to_model(self) -> SourceAeTitle:
        return SourceAeTitle(ae_title=self.ae_title, host_ip=self.host_ip)


class DestinationTlsBody(BaseModel):
    """`tls` of a destination, our optional extension of Clara's body: DICOM TLS towards it.

    Given, it is on unless `enabled` is false (files alone must not leave results going out in the clear);
    `true`/`false` alone are short for it with `export.tls`'s files. Paths are absolute, files must exist.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")  # a misspelt file must not go unnoticed

    enabled: bool = True
    ca_file: str | None = Field(default=None, alias="caFile")
    cert_file: str | None = Field(default=None, alias="certFile")
    key_file: str | None = Field(default=None, alias="keyFile")
    server_name: str | None = Field(default=None, alias="serverName", min_length=1, max_length=253)

    @field_validator("server_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = check_host(value)
        if "/" in text:
            raise ValueError("must be a host name or an IP address, not a network")
        return text

    def to_model(self) -> DestinationTls:
        if (self.cert_file is None) != (self.key_file is None):
            missing = "tls.keyFile" if self.key_file is None else "tls.certFile"
            raise InvalidEntity(missing, "certFile and keyFile go together (a client certificate and its key)")
        tls = DestinationTls(
            enabled=self.enabled,
            ca_file=_tls_file("tls.caFile", self.ca_file),
            cert_file=_tls_file("tls.certFile", self.cert_file),
            key_file=_tls_file("tls.keyFile", self.key_file),
            server_name=self.server_name,
        )
        _check_loadable(tls)
        return tls


def _tls_file(field: str, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_absolute():
        raise InvalidEntity(field, f"{value!r} must be an absolute path (the adapter's working directory is no anchor)")
    if not path.is_file():
        raise InvalidEntity(field, f"no such file on the adapter's host: {value}")
    return path


def _check_loadable(tls: DestinationTls) -> None:
    """PEM that OpenSSL reads, and a key that matches its certificate: refused now, not at the first export."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if tls.ca_file is not None:
            context.load_verify_locations(cafile=str(tls.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidEntity("tls.caFile", f"not a PEM CA certificate file: {exc}") from exc
    try:
        if tls.cert_file is not None and tls.key_file is not None:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidEntity("tls.certFile", f"certificate and key cannot be loaded together: {exc}") from exc


class DestinationBody(_Wire):
    name: str = Field(min_length=1, max_length=64)
    ae_title: str = Field(alias="aeTitle")
    host_ip: str = Field(alias="hostIp")
    port: int = Field(ge=1, le=65535)
    tls: DestinationTlsBody | None = None  # absent: as `export.tls.enabled` says

    @field_validator("tls", mode="before")
    @classmethod
    def _tls_switch(cls, value: object) -> object:
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("ae_title")
    @classmethod
    def _ae(cls, value: str) -> str:
        return check_ae_title(value)

    @field_validator("host_ip")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host(value)

    def to_model(self) -> DestinationAeTitle:
        tls = self.tls.to_model() if self.tls is not None else None
        return DestinationAeTitle(
            name=self.name.strip(), ae_title=self.ae_title, host_ip=self.host_ip, port=self.port, tls=tls
        )


class ClaraAeTitleBody(_Wire):
    name: str | None = Field(default=None, max_length=64)
    ae_title: str = Field(alias="aeTitle")
    overwrite_same_instance: bool = Field(default=False, alias="overwriteSameInstance")
    ignored_sop_classes: list[str] = Field(default_factory=list, alias="ignoredSopClasses")
    allowed_sop_classes: list[str] = Field(default_factory=list, alias="allowedSopClasses")
    processor: str | None = None  # Clara's processor type name: accepted and ignored (one processor here)
    processor_settings: dict[str, Any] = Field(default_factory=dict, alias="processorSettings")

    @field_validator("ae_title")
    @classmethod
    def _ae(cls, value: str) -> str:
        return check_ae_title(value)

    def to_model(self, minimum_timeout: float = 0.5) -> ClaraAeTitle:
        """Validate `processorSettings` (Clara's AeTitleJobProcessorValidator rules, plus ours)."""
        pipelines: dict[str, str] = {}
        options: dict[str, str] = {}
        for key, raw in self.processor_settings.items():
            if key.lower().startswith(PIPELINE_PREFIX):
                pipelines[_pipeline_key(key)] = _pipeline_id(key, raw)
            elif key.lower() in KNOWN_SETTINGS:
                options[key.lower()] = str(raw)
            else:
                raise InvalidEntity(
                    f"processorSettings.{key}",
                    "unknown setting (known: timeout, groupBy, priority, jobRetryDelay, pipeline-<name>)",
                )
        if not pipelines:
            raise InvalidEntity("processorSettings", "at least one 'pipeline-<name>': '<pipeline id>' is required")
        return ClaraAeTitle(
            name=(self.name or self.ae_title).strip(),
            ae_title=self.ae_title,
            pipelines=pipelines,
            group_by=_group_by(options.get("groupby", "0020,000D")),
            timeout_seconds=_timeout(options.get("timeout", "5"), minimum_timeout),
            priority=_priority(options.get("priority", "normal")),
            job_retry_delay_ms=_job_retry_delay(options.get("jobretrydelay", str(DEFAULT_JOB_RETRY_DELAY_MS))),
            overwrite_same_instance=self.overwrite_same_instance,
            ignored_sop_classes=tuple(self.ignored_sop_classes),
            allowed_sop_classes=tuple(self.allowed_sop_classes),
        )


def _pipeline_key(key: str) -> str:
    name = key[len(PIPELINE_PREFIX) :]
    if not name or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise InvalidEntity(
            f"processorSettings.{key}",
            "pipeline key must be 'pipeline-<name>' with a name of letters, digits, '.', '_' or '-'",
        )
    return name


def _pipeline_id(key: str, raw: object) -> str:
    text = str(raw).strip()
    if not text:
        raise InvalidEntity(f"processorSettings.{key}", "pipeline id must not be empty")
    # The platform accepts 32 hex digits, dashes and upper case tolerated (platform_server.domain.parse_id);
    # anything else could never become a job, so it is refused here rather than faulting every payload later.
    if not _CLARA_ID.fullmatch(text.replace("-", "")):
        raise InvalidEntity(
            f"processorSettings.{key}",
            f"pipeline id {text!r} is not a Clara identifier (32 hexadecimal characters, dashes allowed; "
            "see `clara list pipelines`)",
        )
    return text


def _group_by(raw: str) -> str:
    try:
        return normalise_tag(raw)
    except ValueError as exc:
        raise InvalidEntity("processorSettings.groupBy", str(exc)) from exc


def _timeout(raw: str, minimum: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidEntity("processorSettings.timeout", f"{raw!r} is not a number of seconds") from None
    if not minimum <= value <= 86_400:
        raise InvalidEntity("processorSettings.timeout", f"must be between {minimum:g} and 86400 seconds")
    return value


def _priority(raw: str) -> JobPriority:
    try:
        return JobPriority(raw.strip().lower())
    except ValueError:
        choices = ", ".join(p.value for p in JobPriority)
        raise InvalidEntity("processorSettings.priority", f"{raw!r} is not one of: {choices}") from None


def _job_retry_delay(raw: str) -> int:
    # Clara parsed it with int.TryParse: a whole number of milliseconds ("1000" or 1000, not "1.5" or "1s").
    if not _WHOLE_NUMBER.fullmatch(raw):
        raise InvalidEntity(
            "processorSettings.jobRetryDelay", f"{raw!r} is not a whole number of milliseconds (e.g. 5000)"
        )
    value = int(raw)
    if not 0 <= value <= MAX_JOB_RETRY_DELAY_MS:
        raise InvalidEntity(
            "processorSettings.jobRetryDelay", f"must be between 0 and {MAX_JOB_RETRY_DELAY_MS} milliseconds"
        )
    return value


def clara_to_wire(entity: ClaraAeTitle) -> dict[str, Any]:
    settings: dict[str, str] = {
        "timeout": f"{entity.timeout_seconds:g}",
        "groupBy": entity.group_by,
        "priority": entity.priority.value,
        # A string like Clara's Dictionary<string, string>: clients read back what they set.
        "jobRetryDelay": str(entity.job_retry_delay_ms),
    }
    settings.update({f"{PIPELINE_PREFIX}{key}": pid for key, pid in entity.pipelines.items()})
    return {
        "name": entity.name,
        "aeTitle": entity.ae_title,
        "overwriteSameInstance": entity.overwrite_same_instance,
        "ignoredSopClasses": list(entity.ignored_sop_classes),
        "allowedSopClasses": list(entity.allowed_sop_classes),
        "processorSettings": settings,
    }


def source_to_wire(entity: SourceAeTitle) -> dict[str, Any]:
    return {"name": entity.ae_title, "aeTitle": entity.ae_title, "hostIp": entity.host_ip}


def destination_to_wire(entity: DestinationAeTitle) -> dict[str, Any]:
    wire: dict[str, Any] = {"name": entity.name, "aeTitle": entity.ae_title, "hostIp": entity.host_ip,
                            "port": entity.port}
    if entity.tls is not None:  # only then: Clara's clients get Clara's shape
        wire["tls"] = destination_tls_to_wire(entity.tls)
    return wire


def destination_tls_to_wire(tls: DestinationTls) -> dict[str, Any]:
    def text(path: Path | None) -> str | None:
        return None if path is None else str(path)

    return {"enabled": tls.enabled, "caFile": text(tls.ca_file), "certFile": text(tls.cert_file),
            "keyFile": text(tls.key_file), "serverName": tls.server_name}
