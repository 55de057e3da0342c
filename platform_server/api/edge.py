"""Shared edge code of the servicers: response headers, ids, timestamps and the one error mapping.

Every application error becomes gRPC status OK with `ResponseHeader.code < 0` and the message in
`ResponseHeader.messages` (what Clara's clients and ours check); unexpected exceptions are logged
with their traceback and reported as code -1. On server-streamed calls the error is the first and
only message.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import structlog

from platform_api._generated.nvidia.clara.platform import common_pb2
from platform_api.types import ResponseCode
from platform_server.domain import to_clara_seconds
from platform_server.errors import PlatformServerError

log = structlog.get_logger()
T = TypeVar("T")
Handler = Callable[..., Awaitable[Any]]
StreamHandler = Callable[..., AsyncIterator[Any]]
# What one error may put into a response header or a log line. Messages quote what the client sent (a
# name, a key): without a bound a 4 MB name came back in the header and went into the log.
MAX_MESSAGE_CHARS = 2000


def _brief(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else f"{text[:MAX_MESSAGE_CHARS]}... [{len(text)} characters]"


def ok() -> Any:
    return common_pb2.ResponseHeader(code=ResponseCode.OK)


def failed(exc: BaseException) -> Any:
    if isinstance(exc, PlatformServerError):
        messages = [_brief(line) for line in str(exc).splitlines()[:200]]
        return common_pb2.ResponseHeader(code=int(exc.code), messages=messages or [type(exc).__name__])
    internal = f"internal error: {type(exc).__name__}: {exc}"
    return common_pb2.ResponseHeader(code=ResponseCode.INTERNAL, messages=[_brief(internal)])


def identifier(value: str | None) -> Any:
    return common_pb2.Identifier(value=value or "")


def timestamp(unix: float | None) -> Any:
    return common_pb2.Timestamp(value=to_clara_seconds(unix))


def _report(rpc: str, exc: Exception) -> None:
    if isinstance(exc, PlatformServerError):
        text = str(exc)
        log.info("api.request.refused", rpc=rpc, code=int(exc.code), error=_brief(text.splitlines()[0]) if text else "")
    else:
        log.exception("api.request.failed", rpc=rpc)


def unary(response: Callable[..., Any]) -> Callable[[Handler], Handler]:
    """Wrap a unary (or client-streaming) handler: domain errors -> `response(header=...)`."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(self: Any, request: Any, context: Any) -> Any:
            try:
                return await handler(self, request, context)
            except Exception as exc:  # noqa: BLE001 - the one boundary where every failure becomes a header
                _report(handler.__qualname__, exc)
                return response(header=failed(exc))

        return guarded

    return wrap


def streaming(response: Callable[..., Any]) -> Callable[[StreamHandler], StreamHandler]:
    """Wrap a server-streaming handler: an error before or during the stream ends it with one error message."""

    def wrap(handler: StreamHandler) -> StreamHandler:
        @functools.wraps(handler)
        async def guarded(self: Any, request: Any, context: Any) -> AsyncIterator[Any]:
            try:
                async for message in handler(self, request, context):
                    yield message
            except Exception as exc:  # noqa: BLE001 - see `unary`
                _report(handler.__qualname__, exc)
                yield response(header=failed(exc))

        return guarded

    return wrap


def metadata_of(message: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in message.metadata.items()}
