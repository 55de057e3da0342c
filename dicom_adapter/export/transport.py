"""DICOM TLS towards destinations (PS3.15 B.9, BCP 195): the settings in force, SSL contexts, failure reasons.

A destination's own `tls` wins over `export.tls` file by file (the client certificate as a pair). Contexts are
built once per set of files and again when one of them changes, so a renewed certificate needs no restart.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import structlog
from pydantic import ValidationError

from dicom_adapter.export.errors import DestinationTlsError
from dicom_adapter.models import DestinationAeTitle
from openclara.tls import CertificateFiles, ClientTlsSettings, client_context

log = structlog.get_logger()

# OpenSSL reasons an operator cannot read, and what they mean for a DICOM destination.
_HINTS = (
    ("CERTIFICATE_REQUIRED", "the destination requires a client certificate (set certFile and keyFile)"),
    ("UNKNOWN_CA", "the destination does not trust our client certificate"),
    ("BAD_CERTIFICATE", "the destination refused our client certificate"),
    ("WRONG_VERSION_NUMBER", "the destination does not speak TLS on this port"),
    ("UNSUPPORTED_PROTOCOL", "the destination offers no TLS version we accept (1.2 or newer)"),
    ("PROTOCOL_VERSION", "the destination offers no TLS version we accept (1.2 or newer)"),
)


@dataclass(frozen=True)
class TlsTarget:
    """What an association over TLS needs: the context, and the name the certificate must carry."""

    context: ssl.SSLContext
    server_hostname: str


def destination_tls(destination: DestinationAeTitle, defaults: ClientTlsSettings) -> ClientTlsSettings | None:
    """The TLS settings in force for `destination`, None for plain TCP; ValidationError when files are missing."""
    own = destination.tls
    if own is None:
        return defaults if defaults.enabled else None
    if not own.enabled:
        return None
    # The client certificate is the adapter's identity, usually one for the site: the destination's own pair
    # replaces it whole, never half.
    cert, key = (own.cert_file, own.key_file) if own.cert_file is not None else (defaults.cert_file, defaults.key_file)
    return ClientTlsSettings(
        enabled=True,
        ca_file=own.ca_file or defaults.ca_file,
        cert_file=cert,
        key_file=key,
        server_name=own.server_name,
    )


class TlsTargets:
    """Turns a destination into its `TlsTarget` (None: plain TCP), reusing SSL contexts while files stay."""

    def __init__(self, defaults: ClientTlsSettings) -> None:
        self._defaults = defaults
        self._contexts: dict[tuple[Path | None, ...], tuple[CertificateFiles, ssl.SSLContext]] = {}

    def target(self, destination: DestinationAeTitle) -> TlsTarget | None:
        """DestinationTlsError when the TLS files are missing or cannot be loaded."""
        try:
            settings = destination_tls(destination, self._defaults)
        except ValidationError as exc:
            reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            raise DestinationTlsError(f"{destination.name}: {reasons}") from exc
        if settings is None:
            return None
        context = self._context(destination.name, settings)
        return TlsTarget(context, settings.server_name or destination.host_ip)

    def _context(self, name: str, settings: ClientTlsSettings) -> ssl.SSLContext:
        key = (settings.ca_file, settings.cert_file, settings.key_file)
        cached = self._contexts.get(key)
        if cached is not None and not cached[0].changed():
            return cached[1]
        files = CertificateFiles(*key)  # stamped before loading: a change while loading reloads next time
        try:
            context = client_context(settings)
        except (OSError, ssl.SSLError) as exc:
            raise DestinationTlsError(f"{name}: cannot load the TLS files: {exc}") from exc
        self._contexts[key] = (files, context)
        log.info("export.tls.context_loaded", destination=name, ca_file=str(settings.ca_file),
                 cert_file=str(settings.cert_file))
        return context


def tls_reason(exc: ssl.SSLError) -> str:
    """An operator's reading of a failed TLS session."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the destination's certificate is not trusted: {exc.verify_message}"
    reason = str(exc.reason or exc)
    hint = next((text for marker, text in _HINTS if marker in reason.upper()), None)
    return f"{hint} ({reason})" if hint else f"TLS failed: {reason}"

