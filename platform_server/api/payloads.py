"""Payloads servicer: reusable payloads, client-streamed uploads, streamed downloads and file listings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from platform_api._generated.nvidia.clara.platform import payloads_pb2, payloads_pb2_grpc
from platform_server.api.edge import identifier, metadata_of, ok, streaming, unary
from platform_server.domain import PayloadType, parse_id
from platform_server.errors import InvalidArgument
from platform_server.metrics import PlatformMetrics
from platform_server.payloads import names
from platform_server.payloads.store import PayloadStore


def _type(kind: PayloadType) -> payloads_pb2.PayloadType.ValueType:
    return payloads_pb2.PayloadType.ValueType(int(kind))


class _UploadStream:
    """Reads the first message for payload id and name, then yields every message's `data` in order."""

    def __init__(self, requests: AsyncIterator[Any]) -> None:
        self._requests = requests
        self.payload_id = ""
        self.name = ""
        self.mode = 0
        self._first: bytes = b""

    async def open(self) -> None:
        try:
            first = await anext(self._requests)
        except StopAsyncIteration:
            raise InvalidArgument("empty upload: the first message must carry payload_id and details.name") from None
        self.payload_id = parse_id(first.payload_id.value, "payload")
        self.name, self.mode, self._first = first.details.name, first.details.mode, first.data

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._first:
            yield self._first
        async for request in self._requests:
            if request.data:
                yield request.data


class PayloadsServicer(payloads_pb2_grpc.PayloadsServicer):
    def __init__(self, store: PayloadStore, metrics: PlatformMetrics | None = None) -> None:
        self._store = store
        self._metrics = metrics or PlatformMetrics()

    @unary(payloads_pb2.PayloadsCreateResponse)
    async def Create(self, request: Any, context: Any) -> Any:
        payload = await self._store.create(PayloadType.REUSABLE, metadata=metadata_of(request))
        return payloads_pb2.PayloadsCreateResponse(
            header=ok(), payload_id=identifier(payload.payload_id), type=_type(payload.type)
        )

    @unary(payloads_pb2.PayloadsDeleteResponse)
    async def Delete(self, request: Any, context: Any) -> Any:
        await self._store.delete(parse_id(request.payload_id.value, "payload"))
        return payloads_pb2.PayloadsDeleteResponse(header=ok())

    @streaming(payloads_pb2.PayloadsDetailsResponse)
    async def Details(self, request: Any, context: Any) -> AsyncIterator[Any]:
        payload = await self._store.get(parse_id(request.payload_id.value, "payload"))
        common = {
            "header": ok(),
            "payload_id": identifier(payload.payload_id),
            "type": _type(payload.type),
            "job_id": identifier(payload.job_id),
            "metadata": payload.metadata,
        }
        files = await self._store.files(payload.payload_id)
        if not files:
            yield payloads_pb2.PayloadsDetailsResponse(**common)
        for item in files:
            details = payloads_pb2.PayloadFileDetails(name=names.listed(item.name), size=item.size, mode=item.mode)
            yield payloads_pb2.PayloadsDetailsResponse(file=details, **common)

    @streaming(payloads_pb2.PayloadsDownloadResponse)
    async def Download(self, request: Any, context: Any) -> AsyncIterator[Any]:
        name = names.from_reference(request.name)
        details, chunks = await self._store.download(parse_id(request.payload_id.value, "payload"), name)
        first = payloads_pb2.PayloadFileDetails(name=details.name, size=details.size, mode=details.mode)
        sent = False
        async for data in chunks:
            self._metrics.payload_bytes_moved("download", len(data))
            if sent:
                yield payloads_pb2.PayloadsDownloadResponse(data=data)
            else:
                yield payloads_pb2.PayloadsDownloadResponse(header=ok(), details=first, data=data)
                sent = True
        if not sent:  # an empty file still answers with its details
            yield payloads_pb2.PayloadsDownloadResponse(header=ok(), details=first)

    @unary(payloads_pb2.PayloadsUploadResponse)
    async def Upload(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
        stream = _UploadStream(request_iterator)
        await stream.open()
        stored = await self._store.upload(stream.payload_id, stream.name, stream.chunks())
        self._metrics.payload_bytes_moved("upload", stored.size)
        details = payloads_pb2.PayloadFileDetails(name=stream.name, size=stored.size, mode=stream.mode)
        return payloads_pb2.PayloadsUploadResponse(header=ok(), details=details)

    @unary(payloads_pb2.PayloadsRemoveResponse)
    async def Remove(self, request: Any, context: Any) -> Any:
        await self._store.remove(parse_id(request.payload_id.value, "payload"), names.from_reference(request.name))
        return payloads_pb2.PayloadsRemoveResponse(header=ok())

    @unary(payloads_pb2.PayloadsAddMetadataResponse)
    async def AddMetadata(self, request: Any, context: Any) -> Any:
        merged = await self._store.add_metadata(parse_id(request.payload_id.value, "payload"), metadata_of(request))
        return payloads_pb2.PayloadsAddMetadataResponse(header=ok(), payload_id=request.payload_id, metadata=merged)

    @unary(payloads_pb2.PayloadsRemoveMetadataResponse)
    async def RemoveMetadata(self, request: Any, context: Any) -> Any:
        payload_id = parse_id(request.payload_id.value, "payload")
        remaining = await self._store.remove_metadata(payload_id, list(request.keys))
        return payloads_pb2.PayloadsRemoveMetadataResponse(
            header=ok(), payload_id=request.payload_id, metadata=remaining
        )
