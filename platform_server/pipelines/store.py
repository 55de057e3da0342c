"""PipelineRepository: stored pipelines (definition files verbatim, parsed name, metadata) in SQLite."""

from __future__ import annotations

import json

import aiosqlite

from platform_server.db import PlatformDatabase
from platform_server.domain import Pipeline
from platform_server.errors import NotFound


class PipelineRepository:
    def __init__(self, db: PlatformDatabase) -> None:
        self._db = db

    async def add(self, pipeline: Pipeline) -> None:
        await self._db.write(
            "INSERT INTO pipelines (pipeline_id, name, files, metadata, created) VALUES (?, ?, ?, ?, ?)",
            (pipeline.pipeline_id, pipeline.name, json.dumps(pipeline.files), json.dumps(pipeline.metadata),
             pipeline.created),
        )

    async def get(self, pipeline_id: str) -> Pipeline:
        row = await self._db.one("SELECT * FROM pipelines WHERE pipeline_id = ?", (pipeline_id,))
        if row is None:
            raise NotFound(f"pipeline {pipeline_id} does not exist")
        return _pipeline(row)

    async def exists(self, pipeline_id: str) -> bool:
        return await self._db.one("SELECT 1 FROM pipelines WHERE pipeline_id = ?", (pipeline_id,)) is not None

    async def list(self) -> list[Pipeline]:
        return [_pipeline(r) for r in await self._db.all("SELECT * FROM pipelines ORDER BY created")]

    async def update(self, pipeline: Pipeline) -> None:
        await self._db.write(
            "UPDATE pipelines SET name = ?, files = ?, metadata = ? WHERE pipeline_id = ?",
            (pipeline.name, json.dumps(pipeline.files), json.dumps(pipeline.metadata), pipeline.pipeline_id),
        )

    async def remove(self, pipeline_id: str) -> None:
        if not await self._db.write("DELETE FROM pipelines WHERE pipeline_id = ?", (pipeline_id,)):
            raise NotFound(f"pipeline {pipeline_id} does not exist")


def _pipeline(row: aiosqlite.Row) -> Pipeline:
    return Pipeline(
        pipeline_id=row["pipeline_id"],
        name=row["name"],
        files=[(p, c) for p, c in json.loads(row["files"])],
        metadata=json.loads(row["metadata"]),
        created=row["created"],
    )
