"""The console's reading of a real platform's /metrics: over HTTPS with `platform_tls`, and refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.backend import Backend
from console.settings import ConsoleSettings
from openclara.metrics import ScrapeError
from openclara.tls import ClientTlsSettings
from platform_server.app import PlatformServer
from platform_server.settings import PlatformSettings
from tests.pki import Pki, make_pki


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
async def tls_platform(tmp_path: Path, pki: Pki) -> AsyncIterator[PlatformServer]:
    """The platform with server.tls: its /metrics is HTTPS with the gRPC API's certificate."""
    settings = PlatformSettings.model_validate({
        "server": {"port": 0, "tls": {"cert_file": str(pki.server_crt), "key_file": str(pki.server_key)}},
        "storage": {"data_dir": str(tmp_path / "data")}, "scheduler": {"gpus": 0, "max_concurrent_jobs": 3}})
    server = PlatformServer(settings, request_stop=lambda: None)
    await server.start()
    yield server
    await server.stop()


def _console(server: PlatformServer, tls: ClientTlsSettings, **settings: str) -> Backend:
    return Backend(ConsoleSettings(platform_endpoint=f"127.0.0.1:{server.port}", platform_tls=tls,
                                   platform_metrics_url=f"https://127.0.0.1:{server.metrics_port}/metrics",
                                   **settings))


async def test_the_console_reads_the_platforms_https_metrics_with_its_platform_tls(
        tls_platform: PlatformServer, pki: Pki) -> None:
    backend = _console(tls_platform, ClientTlsSettings(enabled=True, ca_file=pki.ca_crt))
    try:
        figures = await backend.platform_figures()
    finally:
        await backend.close()
    assert figures.value("openclara_platform_job_slots") == 3
    assert figures.total("openclara_platform_jobs") == 0


async def test_an_unknown_ca_or_token_is_a_scrape_error_not_a_crash(tls_platform: PlatformServer, pki: Pki) -> None:
    for backend, reason in ((_console(tls_platform, ClientTlsSettings(enabled=True)), "ConnectError"),
                            (_console(tls_platform, ClientTlsSettings(enabled=True, ca_file=pki.ca_crt),
                                      api_token="not-a-token"), "HTTP 401")):
        try:
            with pytest.raises(ScrapeError, match=reason):
                await backend.platform_figures()
        finally:
            await backend.close()
