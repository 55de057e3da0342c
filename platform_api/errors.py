"""Errors raised by `PlatformClient`; gRPC and `ResponseHeader` failures are mapped here, once.

Hierarchy::

    PlatformError
    ├── PlatformUnavailable        server down, connection refused
    │   └── PlatformTimeout        no answer within the call's deadline
    ├── PlatformProtocolError      the server answered something that breaks the contract
    └── PlatformRequestError       ResponseHeader.code < 0 (carries code + messages)
        ├── InvalidArgument        code -2, or gRPC INVALID_ARGUMENT
        ├── NotFound               code -3, or gRPC NOT_FOUND
        ├── Conflict               code -4, or gRPC FAILED_PRECONDITION / ALREADY_EXISTS
        └── ResourceExhausted      code -5, or gRPC RESOURCE_EXHAUSTED (e.g. more GPUs than exist)

Client-side input problems (a missing local file, a bad glob) raise `InvalidArgument` with
`code = 0`: nothing was sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import grpc

from platform_api.types import ResponseCode


class PlatformError(Exception):
    """Base of every error the platform client raises."""


class PlatformUnavailable(PlatformError):
    """The platform could not be reached at `endpoint`."""

    def __init__(self, endpoint: str, detail: str = "") -> None:
        self.endpoint = endpoint
        self.detail = detail
        text = f"cannot reach the platform at {endpoint}"
        super().__init__(f"{text}: {detail}" if detail else text)


class PlatformTimeout(PlatformUnavailable):
    """The platform did not answer within the deadline."""


class PlatformProtocolError(PlatformError):
    """The server's answer does not follow the contract (missing stream message, bad gRPC status)."""


class PlatformRequestError(PlatformError):
    """The platform refused the request: `code` < 0 with the server's `messages`."""

    def __init__(self, code: int, messages: Sequence[str], rpc: str = "") -> None:
        self.code = code
        self.messages = tuple(messages)
        self.rpc = rpc
        text = "; ".join(m for m in self.messages if m) or f"request failed with code {code}"
        super().__init__(text)


class InvalidArgument(PlatformRequestError):
    """The request was malformed or broke a limit."""


class NotFound(PlatformRequestError):
    """An id, file or operator does not exist."""


class Conflict(PlatformRequestError):
    """The request does not fit the current state (e.g. starting a running job)."""


class ResourceExhausted(PlatformRequestError):
    """The platform can never satisfy the request as configured (e.g. an operator asks for 4 GPUs of 2)."""


class Unauthenticated(PlatformRequestError):
    """The call carried no valid API token (see CLARA_API_TOKEN and $CLARA_HOME/credentials.yaml)."""


class PermissionDenied(PlatformRequestError):
    """The token is valid but its role may not make this call."""


_BY_CODE: dict[int, type[PlatformRequestError]] = {
    ResponseCode.INVALID_ARGUMENT: InvalidArgument,
    ResponseCode.NOT_FOUND: NotFound,
    ResponseCode.CONFLICT: Conflict,
    ResponseCode.RESOURCE_EXHAUSTED: ResourceExhausted,
}

_BY_STATUS: dict[grpc.StatusCode, type[PlatformRequestError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: Conflict,
    grpc.StatusCode.ALREADY_EXISTS: Conflict,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}


def request_error(code: int, messages: Sequence[str], rpc: str = "") -> PlatformRequestError:
    """The typed error for a negative `ResponseHeader.code`."""
    return _BY_CODE.get(code, PlatformRequestError)(code, messages, rpc)


def check_header(code: int, messages: Sequence[str], rpc: str = "") -> None:
    """Raise when a response header reports failure (code < 0); positive codes are successes."""
    if code < 0:
        raise request_error(code, messages, rpc)


def _from_rpc_error(exc: grpc.aio.AioRpcError, endpoint: str, rpc: str) -> PlatformError:
    status = exc.code()
    details = exc.details() or ""
    if status == grpc.StatusCode.UNAVAILABLE:
        return PlatformUnavailable(endpoint, details or status.name)
    if status == grpc.StatusCode.DEADLINE_EXCEEDED:
        return PlatformTimeout(endpoint, f"no answer to {rpc or 'the call'} within the deadline")
    kind = _BY_STATUS.get(status)
    if kind is not None:
        return kind(ResponseCode.INTERNAL, [details or status.name], rpc)
    if status == grpc.StatusCode.UNIMPLEMENTED:
        return PlatformProtocolError(f"the platform at {endpoint} does not implement {rpc or 'this call'}")
    return PlatformRequestError(ResponseCode.INTERNAL, [f"{status.name}: {details}" if details else status.name], rpc)


@contextmanager
def map_grpc_errors(endpoint: str, rpc: str = "") -> Iterator[None]:
    """Translate `grpc.aio.AioRpcError` raised inside the block into our `PlatformError` tree."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        raise _from_rpc_error(exc, endpoint, rpc) from exc


__all__ = [
    "Conflict",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "PlatformError",
    "PlatformProtocolError",
    "PlatformRequestError",
    "PlatformTimeout",
    "PlatformUnavailable",
    "ResourceExhausted",
    "ResponseCode",
    "Unauthenticated",
    "check_header",
    "map_grpc_errors",
    "request_error",
]
