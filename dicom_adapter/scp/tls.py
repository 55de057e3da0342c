"""DICOM TLS for the SCP: the server's SSL context (BCP 195: TLS 1.2 or newer) and its certificate reload.

A renewed certificate (an ACME or hospital-PKI renewal writes new files) is taken without a restart:
`CertificateReloader` watches the files' modification times and loads the new chain into the same
context, which every later handshake uses; open associations keep the one they negotiated.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

import structlog

from dicom_adapter.scp.config import ScpTlsSettings

log = structlog.get_logger()


def server_context(settings: ScpTlsSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load(context, settings)
    if settings.client_ca_file is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(settings.client_ca_file))
    return context


def _load(context: ssl.SSLContext, settings: ScpTlsSettings) -> None:
    assert settings.cert_file is not None and settings.key_file is not None  # checked by the settings
    context.load_cert_chain(str(settings.cert_file), str(settings.key_file))


def _stamp(paths: list[Path]) -> tuple[float, ...]:
    stamps = []
    for path in paths:
        try:
            stamps.append(path.stat().st_mtime)
        except OSError:
            stamps.append(0.0)
    return tuple(stamps)


class CertificateReloader:
    """Reloads the certificate chain into `context` when its files change; a bad new pair keeps the old one."""

    def __init__(self, context: ssl.SSLContext, settings: ScpTlsSettings) -> None:
        self._context = context
        self._settings = settings
        self._files = [p for p in (settings.cert_file, settings.key_file) if p is not None]
        self._seen = _stamp(self._files)
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
        stamp = _stamp(self._files)
        if stamp == self._seen:
            return False
        try:
            _load(self._context, self._settings)
        except (OSError, ssl.SSLError) as exc:  # e.g. the key written before the certificate: next round
            log.warning("scp.tls.reload_failed", error=str(exc))
            return False
        self._seen = stamp
        log.info("scp.tls.reloaded", cert_file=str(self._settings.cert_file))
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._settings.reload_interval)
            self.check()
