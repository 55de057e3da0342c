"""Reply: an HTTP answer as data (status, JSON content, media type), sent by either path of the task API.

The request handlers return a Reply; FastAPI routes turn it into a Starlette `Response`, the fast path
sends it as two ASGI messages. Both render the body here, so both send the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import Send

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    content: Any
    media_type: str = JSON
    headers: Mapping[str, str] | None = None

    def body(self) -> bytes:
        # Starlette's JSONResponse rendering, byte for byte.
        return json.dumps(
            self.content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode()

    def response(self) -> Response:
        return Response(self.body(), self.status, dict(self.headers or {}), self.media_type)

    async def send(self, send: Send) -> None:
        """Send as a Starlette `Response` would: the same headers in the same order, without building one."""
        body = self.body()
        extra = (self.headers or {}).items()
        headers = [(key.lower().encode("latin-1"), value.encode("latin-1")) for key, value in extra]
        headers += [(b"content-length", str(len(body)).encode()), (b"content-type", self.media_type.encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
