"""ResponseHeader codes and gRPC statuses map onto one PlatformError tree."""

from __future__ import annotations

import grpc
import pytest

from platform_api.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PlatformProtocolError,
    PlatformRequestError,
    PlatformTimeout,
    PlatformUnavailable,
    ResourceExhausted,
    check_header,
    map_grpc_errors,
)


def _rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (-1, PlatformRequestError),
        (-2, InvalidArgument),
        (-3, NotFound),
        (-4, Conflict),
        (-5, ResourceExhausted),
        (-99, PlatformRequestError),
    ],
)
def test_negative_codes_map_to_typed_errors(code: int, kind: type[PlatformRequestError]) -> None:
    with pytest.raises(kind) as caught:
        check_header(code, ["first", "second"], "Jobs.Start")
    assert type(caught.value) is kind
    assert str(caught.value) == "first; second"
    assert (caught.value.code, caught.value.rpc) == (code, "Jobs.Start")


def test_zero_and_positive_codes_are_success() -> None:
    check_header(0, [], "")
    check_header(7, ["seven items"], "")


def test_error_without_messages_still_says_something() -> None:
    with pytest.raises(PlatformRequestError, match="request failed with code -1"):
        check_header(-1, [], "")


@pytest.mark.parametrize(
    ("status", "kind", "text"),
    [
        (grpc.StatusCode.UNAVAILABLE, PlatformUnavailable, "cannot reach the platform at h:1: connection refused"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, PlatformTimeout, "cannot reach the platform at h:1: no answer to X.Y"),
        (grpc.StatusCode.NOT_FOUND, NotFound, "connection refused"),
        (grpc.StatusCode.UNIMPLEMENTED, PlatformProtocolError, "does not implement X.Y"),
        (grpc.StatusCode.INTERNAL, PlatformRequestError, "INTERNAL: connection refused"),
    ],
)
def test_grpc_errors_are_mapped_once(status: grpc.StatusCode, kind: type[Exception], text: str) -> None:
    with pytest.raises(kind, match=text) as caught, map_grpc_errors("h:1", "X.Y"):
        raise _rpc_error(status, "connection refused")
    assert isinstance(caught.value.__cause__, grpc.aio.AioRpcError)
