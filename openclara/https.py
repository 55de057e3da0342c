"""HTTPS for the two REST services (uvicorn) and their httpx clients, on the contexts of `openclara.tls`.

Servers: `HttpsCertificate` hands uvicorn our own `ssl.SSLContext` through its `ssl_context_factory`
(given file paths, uvicorn would build a context of its own that nothing renews), so the
`CertificateReloader` loads a renewed certificate into the context that later handshakes use.
Clients: `verify_for` is what httpx verifies a URL with; clients without a settings file (the `clara`
CLI, pipeline operators) read `CLARA_TLS_*` variables through `client_tls_from_env`.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import httpx
import uvicorn

from openclara.tls import CertificateReloader, ClientTlsSettings, ServerTlsSettings, client_context, server_context

# The environment of HTTPS clients that have no settings file: the CA that signs the servers' certificates,
# and this client's own certificate for servers that require one (mutual TLS).
ENV_CA_FILE = "CLARA_TLS_CA_FILE"
ENV_CERT_FILE = "CLARA_TLS_CERT_FILE"
ENV_KEY_FILE = "CLARA_TLS_KEY_FILE"


class HttpsCertificate:
    """A REST service's certificate: the context uvicorn serves with, renewed in place while it runs.

    `name` prefixes the reload events (`<name>.tls.reloaded`)."""

    def __init__(self, settings: ServerTlsSettings, name: str) -> None:
        self.context = server_context(settings)
        self._reloader = CertificateReloader(self.context, settings, name)

    def context_factory(self, config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        """uvicorn's `ssl_context_factory`: our context rather than one built from file paths."""
        return self.context

    def start(self) -> None:
        self._reloader.start()

    async def stop(self) -> None:
        await self._reloader.stop()


def https_certificate(settings: ServerTlsSettings, name: str) -> HttpsCertificate | None:
    """The certificate of a listener whose TLS is configured; None serves plain HTTP."""
    return HttpsCertificate(settings, name) if settings.enabled else None


def verify_for(url: str, tls: ClientTlsSettings | None) -> ssl.SSLContext | bool:
    """What httpx verifies `url` with: for https, our context (the configured CA, or the system's trust
    store, and the client certificate if set); plain http has nothing to verify."""
    if not url.startswith("https://"):
        return True
    return client_context(tls or ClientTlsSettings(enabled=True))


def server_name_hook(name: str) -> Callable[[httpx.Request], None]:
    """An httpx request hook: check the server's certificate for `name` rather than the host dialled (an
    address another machine's certificate cannot carry, e.g. a container's route to its host)."""

    def set_name(request: httpx.Request) -> None:
        request.extensions["sni_hostname"] = name

    return set_name


def async_server_name_hook(name: str) -> Callable[[httpx.Request], Awaitable[None]]:
    """`server_name_hook` for httpx.AsyncClient, whose hooks are coroutines."""
    set_name = server_name_hook(name)

    async def set_name_async(request: httpx.Request) -> None:
        set_name(request)

    return set_name_async


def client_tls_from_env(
    environ: Mapping[str, str] | None = None, server_name_key: str | None = None
) -> ClientTlsSettings:
    """HTTPS client settings from `CLARA_TLS_CA_FILE`, `CLARA_TLS_CERT_FILE`, `CLARA_TLS_KEY_FILE` (and the
    server name from `server_name_key`, when given and set); none set means the system's trust store.

    Raises ValueError naming the variable when it names a file that does not exist."""
    env = os.environ if environ is None else environ
    files: dict[str, Path] = {}
    for field, key in (("ca_file", ENV_CA_FILE), ("cert_file", ENV_CERT_FILE), ("key_file", ENV_KEY_FILE)):
        value = env.get(key, "").strip()
        if not value:
            continue
        if not Path(value).is_file():
            raise ValueError(f"{key} names a file that does not exist: {value}")
        files[field] = Path(value)
    if ("cert_file" in files) != ("key_file" in files):
        raise ValueError(f"a client certificate needs {ENV_CERT_FILE} and {ENV_KEY_FILE} together")
    server_name = (env.get(server_name_key, "").strip() or None) if server_name_key else None
    return ClientTlsSettings(enabled=bool(files), ca_file=files.get("ca_file"), cert_file=files.get("cert_file"),
                             key_file=files.get("key_file"), server_name=server_name)
