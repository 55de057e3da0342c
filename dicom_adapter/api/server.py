"""`ApiServer`: the adapter's REST API on an `HttpListener` in its event loop, with HTTPS and bounded heads."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

from openclara.http_guards import bounded_headers
from openclara.http_listener import HttpListener
from openclara.https import https_certificate
from openclara.tls import ServerTlsSettings


class ApiServer:
    """Serves `app` on host:port (0 = any free port, see `bound_port`); HTTPS when `tls` is configured."""

    def __init__(self, app: FastAPI, host: str, port: int, tls: ServerTlsSettings | None = None) -> None:
        # The request head is bounded too: uvicorn's httptools protocol would hold a header of any length.
        protocol = bounded_headers(import_from_string(HTTP_PROTOCOLS["auto"]))
        # Unusable certificate files raise here (OSError, ssl.SSLError), before anything listens.
        certificate = https_certificate(tls or ServerTlsSettings(), "api")
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="off", http=protocol,
            ssl_context_factory=certificate.context_factory if certificate is not None else None,
        )
        self._listener = HttpListener(config, "api-server", certificate)

    @property
    def bound_port(self) -> int:
        return self._listener.port

    async def start(self) -> None:
        await self._listener.start()

    async def stop(self) -> None:
        await self._listener.stop()
