"""ModelRepository: uploaded models under `<data_dir>/models/<name>/`, described in SQLite.

An upload is one file. A tar or zip archive is unpacked into the model's folder (our client sends
model folders as tar, Triton-style repositories are often zipped); any other file is stored as is. Download returns the
file exactly as uploaded (kept as `<data_dir>/models/.archives/<model_id>`). Operators get the
repository root in NVIDIA_CLARA_MODEL_REPOSITORY and each model they list in NVIDIA_CLARA_MODELS.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tarfile
import uuid
import zipfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite

from platform_server import metadata as md
from platform_server.chunks import read_chunks, write_chunks
from platform_server.db import PlatformDatabase
from platform_server.domain import new_id, now
from platform_server.errors import Conflict, InvalidArgument, NotFound
from platform_server.pipelines.container import SAFE_NAME


@dataclass
class Model:
    model_id: str
    name: str
    type: int
    file_name: str
    size: int
    metadata: dict[str, str] = field(default_factory=dict)
    created: float = field(default_factory=now)


class ModelRepository:
    def __init__(self, db: PlatformDatabase, root: Path) -> None:
        self._db = db
        self.root = root
        self._archives = root / ".archives"

    async def start(self) -> None:
        self._archives.mkdir(parents=True, exist_ok=True)

    def folder(self, name: str) -> Path:
        return self.root / name

    async def upload(self, name: str, model_type: int, file_name: str, metadata: dict[str, str],
                     chunks: AsyncIterable[bytes]) -> Model:
        if not SAFE_NAME.match(name):
            raise InvalidArgument(f"model name {name!r} must be letters, digits, '_', '-' or '.'")
        if await self._db.one("SELECT 1 FROM models WHERE name = ?", (name,)) is not None:
            raise Conflict(f"a model named {name!r} already exists: delete it first")
        model = Model(new_id(), name, model_type, Path(file_name or name).name, 0, md.validate(metadata))
        archive = self._archives / model.model_id
        model.size = await write_chunks(chunks, self._archives / f".upload-{uuid.uuid4().hex}", archive)
        await asyncio.to_thread(_unpack, archive, self.folder(name), model.file_name)
        await self._db.write(
            "INSERT INTO models (model_id, name, type, file_name, size, metadata, created) VALUES (?,?,?,?,?,?,?)",
            (model.model_id, name, model_type, model.file_name, model.size, json.dumps(model.metadata), model.created),
        )
        return model

    async def get(self, model_id: str) -> Model:
        row = await self._db.one("SELECT * FROM models WHERE model_id = ?", (model_id,))
        if row is None:
            raise NotFound(f"model {model_id} does not exist")
        return _model(row)

    async def by_name(self, name: str) -> Model:
        row = await self._db.one("SELECT * FROM models WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"model {name!r} is not in the model repository")
        return _model(row)

    async def list(self) -> list[Model]:
        return [_model(r) for r in await self._db.all("SELECT * FROM models ORDER BY name")]

    async def delete(self, model_id: str) -> None:
        model = await self.get(model_id)
        await self._db.write("DELETE FROM models WHERE model_id = ?", (model_id,))
        (self._archives / model_id).unlink(missing_ok=True)
        await asyncio.to_thread(shutil.rmtree, self.folder(model.name), True)

    async def download(self, model_id: str) -> tuple[Model, AsyncIterator[bytes]]:
        model = await self.get(model_id)
        return model, read_chunks(self._archives / model_id)

    async def set_metadata(self, model_id: str, metadata: dict[str, str]) -> None:
        await self._db.write("UPDATE models SET metadata = ? WHERE model_id = ?", (json.dumps(metadata), model_id))


def _unpack(archive: Path, folder: Path, file_name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tarred:
            # The "data" filter refuses absolute names, '..', links out of the folder and device files.
            tarred.extractall(folder, filter="data")
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                # zipfile already strips '..' and absolute prefixes; double-check before writing.
                if not (folder / member).resolve().is_relative_to(folder.resolve()):
                    raise InvalidArgument(f"model archive member {member!r} would leave the model folder")
            zipped.extractall(folder)
    else:
        shutil.copyfile(archive, folder / file_name)



def _model(row: aiosqlite.Row) -> Model:
    return Model(row["model_id"], row["name"], row["type"], row["file_name"], row["size"],
                 json.loads(row["metadata"]), row["created"])
