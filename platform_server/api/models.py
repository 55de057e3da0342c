"""Models servicer: upload, list, download, delete and metadata of the file-system model repository.

Clara's catalog and instance RPCs (Triton model sets) are not implemented; they answer code -2 with
a message saying so, instead of gRPC UNIMPLEMENTED, so Clara's client shows the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from platform_api._generated.nvidia.clara.platform import models_pb2, models_pb2_grpc
from platform_server import metadata as md
from platform_server.api.edge import identifier, metadata_of, ok, streaming, unary
from platform_server.domain import parse_id
from platform_server.errors import InvalidArgument
from platform_server.models.repository import Model, ModelRepository

UNSUPPORTED = "model catalogs and instances are not supported by openclara: use UploadModel / ListModels"


def _details(model: Model) -> Any:
    kind = models_pb2.ModelType.ValueType(model.type)
    return models_pb2.ModelDetails(model_id=identifier(model.model_id), name=model.name, type=kind,
                                   metadata=model.metadata)


async def _data(first: bytes, rest: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for request in rest:
        if request.data:
            yield request.data


class ModelsServicer(models_pb2_grpc.ModelsServicer):
    def __init__(self, repository: ModelRepository) -> None:
        self._models = repository

    @unary(models_pb2.ModelsUploadModelResponse)
    async def UploadModel(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
        try:
            first = await anext(request_iterator)
        except StopAsyncIteration:
            raise InvalidArgument("empty upload: the first message must carry details.name") from None
        meta = metadata_of(first.details)
        model = await self._models.upload(first.details.name, int(first.details.type), first.details.name, meta,
                                          _data(first.data, request_iterator))
        return models_pb2.ModelsUploadModelResponse(header=ok(), details=_details(model))

    @streaming(models_pb2.ModelsListModelsResponse)
    async def ListModels(self, request: Any, context: Any) -> AsyncIterator[Any]:
        models = await self._models.list()
        yield models_pb2.ModelsListModelsResponse(header=ok(), models=[_details(m) for m in models])

    @streaming(models_pb2.ModelsDownloadModelResponse)
    async def DownloadModel(self, request: Any, context: Any) -> AsyncIterator[Any]:
        model, chunks = await self._models.download(parse_id(request.model_id.value, "model"))
        sent = False
        async for data in chunks:
            yield models_pb2.ModelsDownloadModelResponse(header=ok(), details=_details(model), data=data)
            sent = True
        if not sent:
            yield models_pb2.ModelsDownloadModelResponse(header=ok(), details=_details(model))

    @unary(models_pb2.ModelsDeleteModelResponse)
    async def DeleteModel(self, request: Any, context: Any) -> Any:
        model_id = parse_id(request.model_id.value, "model")
        await self._models.delete(model_id)
        return models_pb2.ModelsDeleteModelResponse(header=ok(), model_id=identifier(model_id))

    @unary(models_pb2.ModelsAddMetadataResponse)
    async def AddMetadata(self, request: Any, context: Any) -> Any:
        model = await self._models.get(parse_id(request.model_id.value, "model"))
        merged = md.merge(model.metadata, metadata_of(request))
        await self._models.set_metadata(model.model_id, merged)
        return models_pb2.ModelsAddMetadataResponse(header=ok(), model_id=request.model_id, metadata=merged)

    @unary(models_pb2.ModelsRemoveMetadataResponse)
    async def RemoveMetadata(self, request: Any, context: Any) -> Any:
        model = await self._models.get(parse_id(request.model_id.value, "model"))
        remaining = md.remove(model.metadata, list(request.keys))
        await self._models.set_metadata(model.model_id, remaining)
        return models_pb2.ModelsRemoveMetadataResponse(header=ok(), model_id=request.model_id, metadata=remaining)

    @unary(models_pb2.ModelsCreateCatalogResponse)
    async def CreateCatalog(self, request: Any, context: Any) -> Any:
        raise InvalidArgument(UNSUPPORTED)

    @unary(models_pb2.ModelsCreateInstanceResponse)
    async def CreateInstance(self, request: Any, context: Any) -> Any:
        raise InvalidArgument(UNSUPPORTED)

    @unary(models_pb2.ModelsDeleteCatalogResponse)
    async def DeleteCatalog(self, request: Any, context: Any) -> Any:
        raise InvalidArgument(UNSUPPORTED)

    @unary(models_pb2.ModelsDeleteInstanceResponse)
    async def DeleteInstance(self, request: Any, context: Any) -> Any:
        raise InvalidArgument(UNSUPPORTED)

    @streaming(models_pb2.ModelsListCatalogsResponse)
    async def ListCatalogs(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield models_pb2.ModelsListCatalogsResponse(header=ok())

    @streaming(models_pb2.ModelsListInstancesResponse)
    async def ListInstances(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield models_pb2.ModelsListInstancesResponse(header=ok())

    @streaming(models_pb2.ModelsReadCatalogResponse)
    async def ReadCatalog(self, request: Any, context: Any) -> AsyncIterator[Any]:
        raise InvalidArgument(UNSUPPORTED)
        yield  # pragma: no cover - makes this an async generator

    @streaming(models_pb2.ModelsReadInstanceResponse)
    async def ReadInstance(self, request: Any, context: Any) -> AsyncIterator[Any]:
        raise InvalidArgument(UNSUPPORTED)
        yield  # pragma: no cover - makes this an async generator

    @unary(models_pb2.ModelsUpdateCatalogResponse)
    async def UpdateCatalog(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
        raise InvalidArgument(UNSUPPORTED)

    @unary(models_pb2.ModelsUpdateInstanceResponse)
    async def UpdateInstance(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
        raise InvalidArgument(UNSUPPORTED)
