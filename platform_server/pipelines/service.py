"""PipelineService: create, update, describe and remove pipelines; definitions are validated on the way in."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from platform_server import metadata as md
from platform_server.domain import Pipeline, new_id, parse_id
from platform_server.errors import Conflict, InvalidArgument
from platform_server.pipelines.dag import PipelineNode
from platform_server.pipelines.definition import parse
from platform_server.pipelines.source import join_chunks
from platform_server.pipelines.store import PipelineRepository

log = structlog.get_logger()


class PipelineService:
    def __init__(self, pipelines: PipelineRepository) -> None:
        self._pipelines = pipelines

    async def create(self, chunks: Sequence[tuple[str, str]], metadata: dict[str, str],
                     forced_id: str = "") -> Pipeline:
        files = join_chunks(chunks)
        definition = parse(files)
        pipeline_id = parse_id(forced_id, "pipeline") if forced_id else new_id()
        if forced_id and await self._pipelines.exists(pipeline_id):
            raise Conflict(f"pipeline {pipeline_id} already exists")
        pipeline = Pipeline(pipeline_id, definition.name, files, md.validate(metadata))
        await self._pipelines.add(pipeline)
        log.info("pipeline.created", pipeline_id=pipeline_id, name=definition.name,
                 operators=len(definition.operators))
        return pipeline

    async def update(self, pipeline_id: str, chunks: Sequence[tuple[str, str]]) -> Pipeline:
        """Replace the definition; jobs already created keep the definition they were created with."""
        pipeline = await self.get(pipeline_id)
        files = join_chunks(chunks)
        pipeline.name, pipeline.files = parse(files).name, files
        await self._pipelines.update(pipeline)
        log.info("pipeline.updated", pipeline_id=pipeline.pipeline_id)
        return pipeline

    async def get(self, pipeline_id: str) -> Pipeline:
        return await self._pipelines.get(parse_id(pipeline_id, "pipeline"))

    async def details(self, pipeline_id: str) -> tuple[Pipeline, list[PipelineNode]]:
        pipeline = await self.get(pipeline_id)
        return pipeline, parse(pipeline.files).dag.pipeline_nodes()

    async def all(self) -> list[Pipeline]:
        return await self._pipelines.list()

    async def remove(self, pipeline_id: str) -> None:
        await self._pipelines.remove(parse_id(pipeline_id, "pipeline"))
        log.info("pipeline.removed", pipeline_id=pipeline_id)

    async def add_metadata(self, pipeline_id: str, added: dict[str, str]) -> dict[str, str]:
        pipeline = await self.get(pipeline_id)
        pipeline.metadata = md.merge(pipeline.metadata, added)
        await self._pipelines.update(pipeline)
        return pipeline.metadata

    async def remove_metadata(self, pipeline_id: str, keys: list[str]) -> dict[str, str]:
        pipeline = await self.get(pipeline_id)
        pipeline.metadata = md.remove(pipeline.metadata, keys)
        await self._pipelines.update(pipeline)
        return pipeline.metadata


def require_files(chunks: Sequence[tuple[str, str]]) -> None:
    if not chunks:
        raise InvalidArgument("no definition received: send at least one PipelineDefinitionFile")
