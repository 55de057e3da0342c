"""PlatformPayloadDeleter: the cleanup's `PayloadDeleter` over the Platform API (gRPC `Payloads.Delete`)."""

from __future__ import annotations

import platform_api
from openclara.auth.credentials import SERVICES, client_token
from openclara.tls import ClientTlsSettings
from results_service.cleanup import PayloadAlreadyGone


class PlatformPayloadDeleter:
    """Deletes payloads through `platform_api.PlatformClient`; the channel opens on first use."""

    def __init__(self, endpoint: str, timeout: float = 30.0, tls: ClientTlsSettings | None = None) -> None:
        """`tls`: the settings' `platform_tls`; None = plain."""
        self._client = platform_api.PlatformClient(endpoint, timeout=timeout, token=client_token(SERVICES),
                                                   tls=tls or ClientTlsSettings())

    async def delete_payload(self, payload_id: str) -> None:
        try:
            await self._client.delete_payload(payload_id)
        except platform_api.NotFound as exc:
            raise PayloadAlreadyGone(payload_id) from exc

    async def close(self) -> None:
        await self._client.close()
