"""Pipelines servicer: definition files in (client-streamed), pipeline records and DAGs out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from platform_api._generated.nvidia.clara.platform import pipelines_pb2, pipelines_pb2_grpc
from platform_server.api.edge import identifier, metadata_of, ok, streaming, unary
from platform_server.domain import Pipeline
from platform_server.pipelines.dag import PipelineNode
from platform_server.pipelines.service import PipelineService, require_files

Node = pipelines_pb2.PipelinesDetailsResponse.PipelineDagNode


def _node(node: PipelineNode) -> Any:
    return Node(name=node.name, next=[_node(n) for n in node.next])


async def _collect(requests: AsyncIterator[Any]) -> tuple[list[tuple[str, str]], dict[str, str], str]:
    """(path, content) chunks, metadata and forced id from a client stream (metadata may be in any message)."""
    chunks: list[tuple[str, str]] = []
    metadata: dict[str, str] = {}
    forced = ""
    async for request in requests:
        if request.HasField("definition"):
            chunks.append((request.definition.path, request.definition.content))
        if hasattr(request, "metadata"):
            metadata.update(metadata_of(request))
        forced = forced or request.pipeline_id.value
    require_files(chunks)
    return chunks, metadata, forced


class PipelinesServicer(pipelines_pb2_grpc.PipelinesServicer):
    def __init__(self, service: PipelineService) -> None:
        self._service = service

    @unary(pipelines_pb2.PipelinesCreateResponse)
    async def Create(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
        chunks, metadata, forced = await _collect(request_iterator)
        pipeline = await self._service.create(chunks, metadata, forced)
        return pipelines_pb2.PipelinesCreateResponse(header=ok(), pipeline_id=identifier(pipeline.pipeline_id))

    @unary(pipelines_pb2.PipelinesUpdateResponse)
    async def Update(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
        chunks, _, pipeline_id = await _collect(request_iterator)
        await self._service.update(pipeline_id, chunks)
        return pipelines_pb2.PipelinesUpdateResponse(header=ok())

    @streaming(pipelines_pb2.PipelinesDetailsResponse)
    async def Details(self, request: Any, context: Any) -> AsyncIterator[Any]:
        pipeline, dag = await self._service.details(request.pipeline_id.value)
        # Clara's client builds one definition entry per message: one message per definition file.
        for path, content in pipeline.files:
            yield pipelines_pb2.PipelinesDetailsResponse(
                header=ok(), pipeline_id=identifier(pipeline.pipeline_id), name=pipeline.name,
                definition=pipelines_pb2.PipelineDefinitionFile(path=path, content=content),
                dag=[_node(n) for n in dag], metadata=pipeline.metadata,
            )

    @streaming(pipelines_pb2.PipelinesListResponse)
    async def List(self, request: Any, context: Any) -> AsyncIterator[Any]:
        pipelines = await self._service.all()
        if not pipelines:
            yield pipelines_pb2.PipelinesListResponse(header=ok())
        for pipeline in pipelines:
            yield pipelines_pb2.PipelinesListResponse(header=ok(), details=_details(pipeline))

    @unary(pipelines_pb2.PipelinesRemoveResponse)
    async def Remove(self, request: Any, context: Any) -> Any:
        await self._service.remove(request.pipeline_id.value)
        return pipelines_pb2.PipelinesRemoveResponse(header=ok())

    @unary(pipelines_pb2.PipelinesAddMetadataResponse)
    async def AddMetadata(self, request: Any, context: Any) -> Any:
        merged = await self._service.add_metadata(request.pipeline_id.value, metadata_of(request))
        return pipelines_pb2.PipelinesAddMetadataResponse(header=ok(), pipeline_id=request.pipeline_id,
                                                          metadata=merged)

    @unary(pipelines_pb2.PipelinesRemoveMetadataResponse)
    async def RemoveMetadata(self, request: Any, context: Any) -> Any:
        remaining = await self._service.remove_metadata(request.pipeline_id.value, list(request.keys))
        return pipelines_pb2.PipelinesRemoveMetadataResponse(header=ok(), pipeline_id=request.pipeline_id,
                                                             metadata=remaining)


def _details(pipeline: Pipeline) -> Any:
    return pipelines_pb2.PipelinesListResponse.PipelineDetails(
        pipeline_id=identifier(pipeline.pipeline_id), name=pipeline.name, metadata=pipeline.metadata)
