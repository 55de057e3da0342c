"""Backend: the console's clients of the three services, opened once and shared by every request.

The console calls them with the stack's admin token (`settings.api_token`, else the credentials file),
whatever the browser's session: the session's role is checked by the console's own routes first.
"""

from __future__ import annotations

import httpx

from console.settings import ConsoleSettings
from openclara.auth.credentials import client_token
from platform_api.client import PlatformClient


class Backend:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        token = settings.api_token or client_token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.platform = PlatformClient(settings.platform_endpoint, token=token or "", tls=settings.platform_tls,
                                       timeout=10.0)
        self.results = httpx.AsyncClient(base_url=settings.results_url, headers=headers, timeout=10.0)
        self.adapter = httpx.AsyncClient(base_url=settings.dicom_api_url, headers=headers, timeout=10.0)

    async def start(self) -> None:
        """Nothing to connect eagerly: every client connects on its first call (a service may start later)."""

    async def close(self) -> None:
        await self.platform.close()
        await self.results.aclose()
        await self.adapter.aclose()
