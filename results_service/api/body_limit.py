"""ASGI middleware refusing request bodies above `max_body_bytes` with 413 before any handler parses them."""

from __future__ import annotations

from http import HTTPStatus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from results_service.api.problems import problem
from results_service.errors import BodyTooLarge


class BodyLimit:
    """Buffers the body (it is small by construction) and replays it, or answers 413 problem+json."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, replay(b"".join(chunks), receive), send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(BodyTooLarge(self.max_bytes)), scope["path"])
        await response(scope, receive, send)


def replay(body: bytes, downstream: Receive) -> Receive:
    """A `receive` that hands `body` (already read) to the next app, then defers to the real one."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # Later reads wait for the real disconnect, as an unwrapped app would.
        return await downstream()

    return receive
