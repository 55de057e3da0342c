"""How the CLI verifies the HTTPS services (results service, DICOM adapter API): `CLARA_TLS_*` variables.

`CLARA_TLS_CA_FILE` names the CA that signs their certificates (else the system's CAs are trusted);
`CLARA_TLS_CERT_FILE`/`CLARA_TLS_KEY_FILE` are the CLI's certificate for services that require one. The
Platform API (gRPC) has variables of its own (`CLARA_PLATFORM_TLS_*`, docs/cli.md).
"""

from __future__ import annotations

import ssl

from clara_cli.errors import CliError
from openclara.https import client_tls_from_env
from openclara.tls import client_context


def verify() -> ssl.SSLContext | bool:
    """httpx's `verify` for every CLI request: our context when a variable is set, else httpx's default."""
    try:
        tls = client_tls_from_env()
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return client_context(tls) if tls.enabled else True
