"""LocalFiles servicer: openclara's hand-off extension (`openclara.platform.LocalFiles`), not part of Clara's API.

Beyond the method's role (access.py), only the token names in `local_files.callers` may call it: it
reads and reveals paths on the platform's disk, which an operator's token must not (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from openclara.auth.grpc_server import caller
from platform_api._generated.openclara.platform import local_files_pb2, local_files_pb2_grpc
from platform_server.api.edge import ok, unary
from platform_server.domain import parse_id
from platform_server.metrics import PlatformMetrics
from platform_server.payloads.local_files import LocalFile, LocalFiles


def _wire(files: Sequence[LocalFile]) -> list[Any]:
    return [local_files_pb2.LocalFile(name=f.name, path=str(f.path), size=f.size) for f in files]


class LocalFilesServicer(local_files_pb2_grpc.LocalFilesServicer):
    def __init__(self, files: LocalFiles, callers: Sequence[str], metrics: PlatformMetrics,
                 authenticated: bool = True) -> None:
        """`authenticated` False: the platform runs without tokens, so there is no caller to check."""
        self._files = files
        self._callers = frozenset(callers)
        self._metrics = metrics
        self._authenticated = authenticated

    async def _admit(self, context: Any) -> None:
        if not self._authenticated:
            return
        principal = caller()
        if principal is None or principal.name not in self._callers:
            who = principal.name if principal is not None else "an unknown caller"
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"LocalFiles is only for {', '.join(sorted(self._callers)) or 'nobody'} "
                                f"(local_files.callers), not {who}: upload and download instead")

    # The caller check aborts with PERMISSION_DENIED (as the role check does) before the domain code,
    # whose errors `unary` turns into response headers.
    async def Adopt(self, request: Any, context: Any) -> Any:
        await self._admit(context)
        return await self._adopt(request, context)

    async def Locate(self, request: Any, context: Any) -> Any:
        await self._admit(context)
        return await self._locate(request, context)

    @unary(local_files_pb2.LocalFilesAdoptResponse)
    async def _adopt(self, request: Any, context: Any) -> Any:
        payload_id = parse_id(request.payload_id.value, "payload")
        adopted = await self._files.adopt(payload_id, [(f.name, f.path) for f in request.files])
        self._metrics.payload_bytes_moved("linked", sum(f.size for f in adopted))
        return local_files_pb2.LocalFilesAdoptResponse(header=ok(), files=_wire(adopted))

    @unary(local_files_pb2.LocalFilesLocateResponse)
    async def _locate(self, request: Any, context: Any) -> Any:
        found = await self._files.locate(parse_id(request.payload_id.value, "payload"), list(request.names))
        return local_files_pb2.LocalFilesLocateResponse(header=ok(), files=_wire(found))
