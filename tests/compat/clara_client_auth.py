"""NVIDIA's Python client (`nvidia-clara-client` 0.8.1.7), unchanged, against a platform that wants a token.

Run it with the interpreter of the client's virtualenv (see client_venv.py):

    .venv-clara-client/bin/python tests/compat/clara_client_auth.py default|stub HOST:PORT

`default`: the clients as NVIDIA's examples make them (`ClaraClient(host, port)`), which open their own
insecure channel and send no token. `stub`: each client handed a `stub` on a channel of ours that adds
`authorization: Bearer $CLARA_API_TOKEN` to every call; Clara's clients are synchronous, so the channel is a
`grpc.intercept_channel` with synchronous interceptors. Either way it asks for the version and the
pipelines, and prints one JSON line: `{"ok": true, ...}` or `{"ok": false, "exception": ..., "code": ...}`.
"""

from __future__ import annotations

import collections
import json
import os
import sys
from typing import Any

import grpc
from nvidia_clara import ClaraClient, PipelinesClient
from nvidia_clara.grpc import clara_pb2_grpc, pipelines_pb2_grpc

RPC_TIMEOUT = 30.0


class _Details(
    collections.namedtuple(
        "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    """The call's details with other metadata (grpc.ClientCallDetails has no constructor of its own)."""


class TokenInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds the bearer token to the metadata of every call, whatever its shape."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: Any) -> _Details:
        metadata = [*(details.metadata or ()), self._header]
        return _Details(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)


def clients(mode: str, endpoint: str) -> tuple[ClaraClient, PipelinesClient]:
    host, port = endpoint.rsplit(":", 1)
    if mode == "default":
        return ClaraClient(host, port), PipelinesClient(host, port)
    channel = grpc.intercept_channel(grpc.insecure_channel(endpoint), TokenInterceptor(os.environ["CLARA_API_TOKEN"]))
    return (
        ClaraClient(host, port, stub=clara_pb2_grpc.ClaraStub(channel)),
        PipelinesClient(host, port, stub=pipelines_pb2_grpc.PipelinesStub(channel)),
    )


def main(mode: str, endpoint: str) -> int:
    clara, pipelines = clients(mode, endpoint)
    try:
        version = clara.version(timeout=RPC_TIMEOUT)
        listed = pipelines.list_pipelines(timeout=RPC_TIMEOUT)
    except Exception as exc:  # whatever Clara's client lets through, as its user would see it
        code = exc.code().name if isinstance(exc, grpc.RpcError) and hasattr(exc, "code") else None
        details = exc.details() if isinstance(exc, grpc.RpcError) and hasattr(exc, "details") else str(exc)
        print(
            json.dumps(
                {
                    "ok": False,
                    "exception": f"{type(exc).__module__}.{type(exc).__qualname__}",
                    "rpc_error": isinstance(exc, grpc.RpcError),
                    "code": code,
                    "details": details,
                }
            )
        )
        return 1
    print(json.dumps({"ok": True, "version": [version.major, version.minor, version.patch], "pipelines": len(listed)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
