"""PayloadStore: payload rows in SQLite and their folders under `<data_dir>/payloads/<payload_id>/`.

A PIPELINE payload (one per job) holds `input/` (what the client uploaded; names in Upload are
relative to it) and `operators/<operator>/<output>/` (written by the executor). A REUSABLE payload's
files sit directly in its folder. Details, Download and Remove use names relative to the payload
folder (`input/1.dcm`, `operators/seg/output/seg.dcm`). Once its job starts, a payload is sealed:
Upload and Remove fail with Conflict.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

import aiosqlite

from platform_server import metadata as md
from platform_server.chunks import read_chunks, write_chunks
from platform_server.db import PlatformDatabase
from platform_server.domain import FileDetails, JobState, Payload, PayloadType, new_id
from platform_server.errors import Conflict, InvalidArgument, NotFound
from platform_server.payloads import names

INPUT = "input"
OPERATORS = "operators"


class PayloadStore:
    def __init__(self, db: PlatformDatabase, root: Path) -> None:
        self._db = db
        self.root = root

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, payload_id: str) -> Path:
        return self.root / payload_id

    def input_dir(self, payload_id: str) -> Path:
        return self.folder(payload_id) / INPUT

    def output_dir(self, payload_id: str, operator: str, output: str) -> Path:
        return self.folder(payload_id) / OPERATORS / operator / output

    async def create(self, kind: PayloadType, job_id: str | None = None,
                     metadata: dict[str, str] | None = None) -> Payload:
        payload = Payload(new_id(), kind, job_id, md.validate(metadata or {}))
        folder = self.input_dir(payload.payload_id) if kind == PayloadType.PIPELINE else self.folder(payload.payload_id)
        folder.mkdir(parents=True, exist_ok=True)
        await self._db.write(
            "INSERT INTO payloads (payload_id, type, job_id, metadata, created) VALUES (?, ?, ?, ?, ?)",
            (payload.payload_id, int(kind), job_id, json.dumps(payload.metadata), payload.created),
        )
        return payload

    async def get(self, payload_id: str) -> Payload:
        row = await self._row(payload_id)
        return Payload(row["payload_id"], PayloadType(row["type"]), row["job_id"], json.loads(row["metadata"]),
                       row["created"])

    async def _row(self, payload_id: str) -> aiosqlite.Row:
        row = await self._db.one("SELECT * FROM payloads WHERE payload_id = ?", (payload_id,))
        if row is None:
            raise NotFound(f"payload {payload_id} does not exist")
        return row

    async def seal(self, payload_id: str) -> None:
        """Make the payload's input read-only for clients (called when its job starts)."""
        await self._db.write("UPDATE payloads SET sealed = 1 WHERE payload_id = ?", (payload_id,))

    async def _writable(self, payload_id: str) -> Payload:
        row = await self._row(payload_id)
        if row["sealed"]:
            raise Conflict(f"payload {payload_id} belongs to job {row['job_id']}, which has started: "
                           "its input is read-only")
        return await self.get(payload_id)

    async def delete(self, payload_id: str) -> None:
        row = await self._row(payload_id)
        if row["job_id"] is not None:
            # Its operators read and write this folder: deleting it under them would fault the job
            # with confusing file errors.
            job = await self._db.one("SELECT state FROM jobs WHERE job_id = ?", (row["job_id"],))
            if job is not None and job["state"] == JobState.RUNNING:
                raise Conflict(f"payload {payload_id} belongs to job {row['job_id']}, which is running: "
                               "cancel the job or wait until it stops, then delete the payload")
        await self._db.write("DELETE FROM payloads WHERE payload_id = ?", (payload_id,))
        await asyncio.to_thread(shutil.rmtree, self.folder(payload_id), True)

    async def set_metadata(self, payload_id: str, metadata: dict[str, str]) -> None:
        await self._row(payload_id)
        sql = "UPDATE payloads SET metadata = ? WHERE payload_id = ?"
        await self._db.write(sql, (json.dumps(metadata), payload_id))

    async def add_metadata(self, payload_id: str, added: dict[str, str]) -> dict[str, str]:
        merged = md.merge((await self.get(payload_id)).metadata, added)
        await self.set_metadata(payload_id, merged)
        return merged

    async def remove_metadata(self, payload_id: str, keys: list[str]) -> dict[str, str]:
        remaining = md.remove((await self.get(payload_id)).metadata, keys)
        await self.set_metadata(payload_id, remaining)
        return remaining

    async def upload_base(self, payload_id: str) -> Path:
        """The folder Upload (and LocalFiles.Adopt) writes names under; Conflict once the payload is sealed."""
        return self._upload_base(await self._writable(payload_id))

    def _upload_base(self, payload: Payload) -> Path:
        folder = self.folder(payload.payload_id)
        return folder / INPUT if payload.type == PayloadType.PIPELINE else folder

    async def upload(self, payload_id: str, name: str, chunks: AsyncIterable[bytes]) -> FileDetails:
        """Write streamed chunks to a temp file, fsync, then rename over `name` (a retry replaces it)."""
        names.check(name)  # before anything else: a hostile name costs no database or file-system work
        payload = await self._writable(payload_id)
        base = self._upload_base(payload)
        target = names.inside(base, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        size = await write_chunks(chunks, target.parent / f".upload-{uuid.uuid4().hex}", target)
        return FileDetails(target.relative_to(self.folder(payload_id)).as_posix(), size, 0)

    def locate(self, payload: Payload, name: str) -> Path:
        """The file for a Details name; for PIPELINE payloads an input-relative name also works."""
        folder = self.folder(payload.payload_id)
        path = names.inside(folder, name)
        if not path.is_file() and payload.type == PayloadType.PIPELINE:
            path = names.inside(folder / INPUT, name)
        if not path.is_file():
            raise NotFound(f"payload {payload.payload_id} has no file {name!r}")
        return path

    async def download(self, payload_id: str, name: str) -> tuple[FileDetails, AsyncIterator[bytes]]:
        payload = await self.get(payload_id)
        path = self.locate(payload, name)
        details = FileDetails(path.relative_to(self.folder(payload_id)).as_posix(), path.stat().st_size, 0)
        return details, read_chunks(path)

    async def remove(self, payload_id: str, name: str) -> None:
        payload = await self._writable(payload_id)
        path = self.locate(payload, name)
        path.unlink()
        # Leave no empty folders behind (an operator listing its input would trip over them).
        base = self.folder(payload_id)
        for parent in path.parents:
            if parent in (base, base / INPUT) or not parent.is_relative_to(base) or any(parent.iterdir()):
                break
            parent.rmdir()

    async def files(self, payload_id: str) -> list[FileDetails]:
        await self._row(payload_id)
        return await asyncio.to_thread(list_files, self.folder(payload_id))

    async def copy_inputs(self, sources: list[str], payload_id: str) -> None:
        """Copy reusable payloads into a job's input in order; a name present twice is an error."""
        target = self.input_dir(payload_id)
        plan: dict[Path, Path] = {}
        for source in sources:
            if (await self.get(source)).type != PayloadType.REUSABLE:
                raise InvalidArgument(f"input payload {source} is not a reusable payload")
            for item in await asyncio.to_thread(list_files, self.folder(source)):
                dest = target / item.name
                if dest in plan or dest.exists():
                    raise Conflict(f"input payloads collide on file {item.name!r} (from payload {source})")
                plan[dest] = self.folder(source) / item.name
        await asyncio.to_thread(_copy_all, plan)


def list_files(folder: Path) -> list[FileDetails]:
    if not folder.is_dir():
        return []
    found: list[FileDetails] = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith(".upload-"):
            stat = path.stat()
            found.append(FileDetails(path.relative_to(folder).as_posix(), stat.st_size, stat.st_mode & 0o777))
    return found


def _copy_all(plan: dict[Path, Path]) -> None:
    for dest, source in plan.items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)

