"""The servicers' error edge: each server error reaches the wire, and the log, as the plain code Clara's
clients check, and the client maps that code back to the matching error (one table: ResponseCode)."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

import platform_api
from platform_api._generated.nvidia.clara.platform import common_pb2
from platform_api.errors import request_error
from platform_server.api.edge import failed, unary
from platform_server.errors import (
    Conflict,
    DefinitionError,
    InvalidArgument,
    NotFound,
    PlatformServerError,
    ResourceExhausted,
)

WIRE_CODES = [
    (PlatformServerError("broken"), -1, platform_api.PlatformRequestError),
    (InvalidArgument("bad id"), -2, platform_api.InvalidArgument),
    (DefinitionError(["p.yaml:1: no operators"]), -2, platform_api.InvalidArgument),
    (NotFound("no such job"), -3, platform_api.NotFound),
    (Conflict("already started"), -4, platform_api.Conflict),
    (ResourceExhausted("4 GPUs of 2"), -5, platform_api.ResourceExhausted),
    (ValueError("a bug"), -1, platform_api.PlatformRequestError),
]


@pytest.mark.parametrize(("error", "code", "client_error"), WIRE_CODES)
def test_each_error_has_its_wire_code_and_the_client_reads_it_back(
    error: Exception, code: int, client_error: type[platform_api.PlatformRequestError]
) -> None:
    header = failed(error)
    literal = common_pb2.ResponseHeader(code=code, messages=list(header.messages))
    assert header.SerializeToString() == literal.SerializeToString()
    assert type(request_error(header.code, header.messages)) is client_error


async def test_a_refusal_is_logged_with_the_code_as_a_number() -> None:
    class Servicer:
        @unary(dict)
        async def GetJob(self, request: object, context: object) -> object:
            raise NotFound("no such job")

    with capture_logs() as logs:
        response = await Servicer().GetJob(None, None)
    assert response["header"].code == -3
    [refused] = logs
    assert refused["event"] == "api.request.refused" and refused["code"] == -3 and type(refused["code"]) is int
