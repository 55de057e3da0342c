"""TLS for every listener and client of the stack: settings, SSL contexts (BCP 195), certificate reload.

One implementation for the three transports that carry TLS:
- DICOM TLS (the adapter's SCP, and the export SCU per destination),
- HTTPS (the results service and the adapter's REST API, and their clients),
- gRPC (the Platform API; grpc builds its own credentials from the same files, see `read_pem`).

A renewed certificate (an ACME or hospital-PKI renewal writes new files) is taken without a restart:
`CertificateFiles` notices that the files changed; `CertificateReloader` then loads the new chain into
the same `ssl.SSLContext`, which every later handshake uses. Open connections keep what they
negotiated, and a half-written pair (key before certificate) keeps the old one until the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator

log = structlog.get_logger()


class ServerTlsSettings(BaseModel):
    """A listener's certificate, and optionally the CAs whose client certificates it accepts (mutual TLS).

    TLS is on when `cert_file` is set; both files must then exist (checked at start, with the others)."""

    model_config = ConfigDict(extra="forbid")

    cert_file: Path | None = None  # PEM certificate chain of this server
    key_file: Path | None = None  # PEM private key (keep it 0600)
    # Set: every client must present a certificate signed by one of these CAs (mutual TLS).
    client_ca_file: Path | None = None
    reload_interval: float = Field(default=30.0, gt=0)  # seconds between checks for renewed files

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    def missing_files(self) -> list[str]:
        """What a TLS listener would need but is absent, worded for the error message."""
        named = (("cert_file", self.cert_file), ("key_file", self.key_file), ("client_ca_file", self.client_ca_file))
        return [f"{name} ({path})" for name, path in named
                if (path is None and name != "client_ca_file") or (path is not None and not path.is_file())]

    @model_validator(mode="after")
    def _pair(self) -> ServerTlsSettings:
        if (self.cert_file is None) != (self.key_file is None) or (self.client_ca_file and not self.enabled):
            raise ValueError("TLS needs cert_file and key_file together (client_ca_file only with them)")
        if self.enabled and (missing := self.missing_files()):
            raise ValueError(f"TLS files are missing: {', '.join(missing)}")
        return self


class ClientTlsSettings(BaseModel):
    """How a client reaches a TLS server: which CAs it trusts, and its own certificate for mutual TLS."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    ca_file: Path | None = None  # CAs that sign the server's certificate; None = the system's trust store
    cert_file: Path | None = None  # this client's certificate, for servers that require mutual TLS
    key_file: Path | None = None
    # The name checked against the server's certificate when it is not the host dialled (an IP, say).
    server_name: str | None = None

    @model_validator(mode="after")
    def _files(self) -> ClientTlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs cert_file and key_file together")
        missing = [f"{name} ({path})" for name, path in
                   (("ca_file", self.ca_file), ("cert_file", self.cert_file), ("key_file", self.key_file))
                   if path is not None and not path.is_file()]
        if missing:
            raise ValueError(f"TLS files are missing: {', '.join(missing)}")
        return self


def server_context(settings: ServerTlsSettings) -> ssl.SSLContext:
    """A server context: TLS 1.2 or newer, the certificate loaded, client certificates required if asked."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, settings.cert_file, settings.key_file)
    if settings.client_ca_file is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(settings.client_ca_file))
    return context


def client_context(settings: ClientTlsSettings) -> ssl.SSLContext:
    """A client context that verifies the server's certificate and name (never turned off)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                         cafile=str(settings.ca_file) if settings.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.cert_file is not None:
        _load_chain(context, settings.cert_file, settings.key_file)
    return context


def read_pem(path: Path | None) -> bytes | None:
    """A PEM file's bytes (for grpc's credentials, which take bytes rather than paths)."""
    return None if path is None else path.read_bytes()


def _load_chain(context: ssl.SSLContext, cert_file: Path | None, key_file: Path | None) -> None:
    assert cert_file is not None and key_file is not None  # checked by the settings
    context.load_cert_chain(str(cert_file), str(key_file))


class CertificateFiles:
    """Notices when certificate files change (by modification time and size)."""

    def __init__(self, *paths: Path | None) -> None:
        self._paths = [p for p in paths if p is not None]
        self._seen = self._stamp()

    def changed(self) -> bool:
        return self._stamp() != self._seen

    def accept(self) -> None:
        """The current files are in use now."""
        self._seen = self._stamp()

    def _stamp(self) -> tuple[tuple[float, int], ...]:
        stamps = []
        for path in self._paths:
            try:
                stat = path.stat()
                stamps.append((stat.st_mtime, stat.st_size))
            except OSError:
                stamps.append((0.0, -1))
        return tuple(stamps)


class CertificateReloader:
    """Reloads a server's certificate chain into its `context` when the files change.

    `name` prefixes the log events (`<name>.tls.reloaded`), e.g. "scp", "results.api"."""

    def __init__(self, context: ssl.SSLContext, settings: ServerTlsSettings, name: str) -> None:
        self._context = context
        self._settings = settings
        self._name = name
        self._files = CertificateFiles(settings.cert_file, settings.key_file)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def check(self) -> bool:
        """Load the files again if they changed; True when a new certificate is in use."""
        if not self._files.changed():
            return False
        try:
            _load_chain(self._context, self._settings.cert_file, self._settings.key_file)
        except (OSError, ssl.SSLError) as exc:  # e.g. the key written before the certificate: next round
            log.warning(f"{self._name}.tls.reload_failed", error=str(exc))
            return False
        self._files.accept()
        log.info(f"{self._name}.tls.reloaded", cert_file=str(self._settings.cert_file))
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._settings.reload_interval)
            self.check()
