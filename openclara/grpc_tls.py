"""gRPC TLS for the Platform API: server credentials that take renewed certificates, channel credentials.

grpc does not use `ssl.SSLContext`: it takes PEM bytes (the files and their checks are `openclara.tls`'s).
The server's credentials are dynamic: before each new connection's handshake grpc asks
`CertificateSource` whether the certificate changed, so a renewal is served without a restart. Open
connections keep what they negotiated; a half-written pair (key before certificate) is not handed to
grpc, which keeps serving the old one until the files are whole.

Clients without settings of their own (the `clara` CLI, scripts) read `CLARA_PLATFORM_TLS*` variables:
see `client_tls_from_env`.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import grpc
import structlog

from openclara.tls import CertificateFiles, ClientTlsSettings, ServerTlsSettings, read_pem, server_context

log = structlog.get_logger()

# Environment of clients that have no settings file section for TLS (see docs/cli.md).
ENV_TLS = "CLARA_PLATFORM_TLS"  # "true": TLS with grpc's default roots (implied by the CA or a certificate)
ENV_CA = "CLARA_PLATFORM_TLS_CA"
ENV_CERT = "CLARA_PLATFORM_TLS_CERT"
ENV_KEY = "CLARA_PLATFORM_TLS_KEY"
ENV_SERVER_NAME = "CLARA_PLATFORM_TLS_SERVER_NAME"
_TRUE = frozenset({"1", "true", "yes", "on"})


class CertificateSource:
    """grpc's certificate configuration fetcher: a new configuration once the files changed, else None.

    grpc calls it before every handshake (on its own threads); the files are looked at no more often
    than every `reload_interval` seconds. `name` prefixes the log events (`<name>.tls.reloaded`)."""

    def __init__(self, settings: ServerTlsSettings, name: str) -> None:
        self._settings = settings
        self._name = name
        self._files = CertificateFiles(settings.cert_file, settings.key_file, settings.client_ca_file)
        self._next_look = time.monotonic() + settings.reload_interval
        self._lock = threading.Lock()

    def initial(self) -> grpc.ServerCertificateConfiguration:
        """The configuration to start with; raises (OSError, ssl.SSLError) when the files are unusable."""
        configuration = certificate_configuration(self._settings)
        self._files.accept()
        return configuration

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            now = time.monotonic()
            if now < self._next_look:
                return None
            self._next_look = now + self._settings.reload_interval
            if not self._files.changed():
                return None
            try:
                configuration = certificate_configuration(self._settings)
            except (OSError, ssl.SSLError, ValueError) as exc:
                log.warning(f"{self._name}.tls.reload_failed", error=str(exc))
                return None
            self._files.accept()
        log.info(f"{self._name}.tls.reloaded", cert_file=str(self._settings.cert_file))
        return configuration


def certificate_configuration(settings: ServerTlsSettings) -> grpc.ServerCertificateConfiguration:
    """The files as grpc takes them, checked first: a key that does not match its certificate raises."""
    assert settings.cert_file is not None and settings.key_file is not None  # checked by the settings
    before = _read_all(settings)
    # The same checks as every other TLS listener: the pair matches, the client CAs parse.
    server_context(settings)
    chain, key, client_cas = before
    if _read_all(settings) != before:  # a renewal was being written while we read: the next round takes it
        raise ValueError(f"{settings.cert_file} changed while it was read")
    return grpc.ssl_server_certificate_configuration([(key, chain)], root_certificates=client_cas)


def _read_all(settings: ServerTlsSettings) -> tuple[bytes, bytes, bytes | None]:
    chain, key = read_pem(settings.cert_file), read_pem(settings.key_file)
    assert chain is not None and key is not None
    return chain, key, read_pem(settings.client_ca_file)


def server_credentials(settings: ServerTlsSettings, name: str) -> grpc.ServerCredentials:
    """Credentials for `add_secure_port`: renewals taken without a restart, client certificates required
    (mutual TLS) when `client_ca_file` is set."""
    source = CertificateSource(settings, name)
    return grpc.dynamic_ssl_server_credentials(
        source.initial(), source, require_client_authentication=settings.client_ca_file is not None)


def channel_credentials(settings: ClientTlsSettings) -> grpc.ChannelCredentials:
    """The server is verified against `ca_file` (None: grpc's default roots); the client's own
    certificate is presented when set (mutual TLS)."""
    return grpc.ssl_channel_credentials(root_certificates=read_pem(settings.ca_file),
                                        private_key=read_pem(settings.key_file),
                                        certificate_chain=read_pem(settings.cert_file))


def channel_options(settings: ClientTlsSettings) -> list[tuple[str, str]]:
    """`server_name`: the name the server's certificate must carry when it is not the host dialled."""
    return [("grpc.ssl_target_name_override", settings.server_name)] if settings.server_name else []


def client_tls_from_env(environ: Mapping[str, str] | None = None) -> ClientTlsSettings | None:
    """TLS settings from `CLARA_PLATFORM_TLS*`, or None when none is set (a plain channel).

    Raises ValueError (naming the missing file) when a variable names a file that does not exist."""
    env = os.environ if environ is None else environ
    files = {key: Path(env[var]) for key, var in (("ca_file", ENV_CA), ("cert_file", ENV_CERT),
                                                   ("key_file", ENV_KEY)) if env.get(var)}
    server_name = env.get(ENV_SERVER_NAME) or None
    if not files and not server_name and env.get(ENV_TLS, "").strip().lower() not in _TRUE:
        return None
    return ClientTlsSettings(enabled=True, server_name=server_name, **files)
