"""Chunked transfers over the Payloads and Models streams, with bounded memory and progress callbacks.

Uploads read the source chunk by chunk; downloads stream into `<dest>.part` and rename it into place
only when the stream ended cleanly, so an interrupted download never leaves a truncated file behind.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, TypeVar

from platform_api import _convert
from platform_api._generated.nvidia.clara.platform import models_pb2, payloads_pb2
from platform_api.errors import InvalidArgument, PlatformProtocolError, check_header
from platform_api.types import ModelDetails, ModelType, PayloadFileDetails

Progress = Callable[[int], None]
"""Called with the number of bytes just transferred."""
_Details = TypeVar("_Details")

DEFAULT_CHUNK_SIZE = 1024 * 1024
# gRPC's default message limit is 4 MiB; leave room for the rest of the message (as Clara does).
MAX_CHUNK_SIZE = 4 * 1024 * 1024 - 512
ARCHIVE_KEY = "openclara.archive"


def check_payload_name(name: str) -> str:
    """A payload file name must be relative, '/'-separated and stay inside the payload."""
    problem = ""
    if not name or name.strip() != name:
        problem = "is empty or has surrounding blanks"
    elif name.startswith("/"):
        problem = "is absolute (payload names are relative, e.g. 'series1/1.dcm')"
    elif "\\" in name or "\x00" in name:
        problem = "contains a backslash or NUL"
    elif any(part in ("..", ".", "") for part in name.split("/")):
        problem = "contains '.', '..' or an empty segment"
    if problem:
        raise InvalidArgument(0, [f"payload file name {name!r} {problem}"])
    return name


def check_chunk_size(chunk_size: int) -> int:
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise InvalidArgument(0, [f"chunk size must be between 1 and {MAX_CHUNK_SIZE} bytes, not {chunk_size}"])
    return chunk_size


@contextlib.contextmanager
def _open_source(source: Path | bytes) -> Iterator[tuple[BinaryIO, int, int]]:
    """(stream, size, mode) for a local file or an in-memory blob."""
    if isinstance(source, bytes):
        yield io.BytesIO(source), len(source), 0o644
        return
    try:
        stream = source.open("rb")
    except OSError as exc:
        raise InvalidArgument(0, [f"cannot read {source}: {exc.strerror}"]) from exc
    with stream:
        stat = source.stat()
        yield stream, stat.st_size, stat.st_mode & 0o777


async def _chunks(stream: BinaryIO, chunk_size: int) -> AsyncIterator[bytes]:
    """The stream's content in chunks; an empty source still yields one (empty) chunk."""
    data = stream.read(chunk_size)
    yield data
    while data := stream.read(chunk_size):
        yield data


async def upload_payload_file(
    stub: Any,
    header: Any,
    payload_id: str,
    name: str,
    source: Path | bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> PayloadFileDetails:
    """`Payloads.Upload` of one file; every chunk repeats payload_id and details (as Clara's client does)."""
    check_payload_name(name)
    check_chunk_size(chunk_size)
    with _open_source(source) as (stream, size, mode):
        details = payloads_pb2.PayloadFileDetails(name=name, size=size, mode=mode)
        pid = _convert.identifier(payload_id)

        async def requests() -> AsyncIterator[Any]:
            async for data in _chunks(stream, chunk_size):
                yield payloads_pb2.PayloadsUploadRequest(header=header, payload_id=pid, details=details, data=data)
                if progress is not None:
                    progress(len(data))

        response = await stub.Upload(requests(), timeout=timeout)
    check_header(response.header.code, response.header.messages, "Payloads.Upload")
    return _convert.file_details(response.details)


async def download_payload_file(
    stub: Any,
    header: Any,
    payload_id: str,
    name: str,
    dest: Path,
    *,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> PayloadFileDetails:
    """`Payloads.Download` of one file into `dest`, streamed to disk."""
    request = payloads_pb2.PayloadsDownloadRequest(header=header, payload_id=_convert.identifier(payload_id), name=name)
    responses = stub.Download(request, timeout=timeout)
    what = f"payload file {name!r}"
    details = await _receive(responses, dest, _convert.file_details, "Payloads.Download", what, progress)
    return PayloadFileDetails(name=details.name or name, size=details.size, mode=details.mode)


async def _receive(
    responses: AsyncIterator[Any],
    dest: Path,
    convert: Callable[[Any], _Details],
    method: str,
    what: str,
    progress: Progress | None = None,
) -> _Details:
    """A download stream into `dest` (via `<dest>.part`); the first message's details, converted."""
    details: _Details | None = None
    with _partial(dest) as out:
        async for response in responses:
            check_header(response.header.code, response.header.messages, method)
            if details is None:
                details = convert(response.details)
            out.write(response.data)
            if progress is not None:
                progress(len(response.data))
        if details is None:
            raise PlatformProtocolError(f"the platform sent nothing for {what}")
    return details


@contextlib.contextmanager
def _partial(dest: Path) -> Iterator[BinaryIO]:
    """Write to `<dest>.part`; rename to `dest` on success, delete on any failure."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with part.open("wb") as out:
            yield out
        part.replace(dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _model_source(source: Path) -> Iterator[tuple[BinaryIO, bool]]:
    """(stream, is_archive): a file as is, a folder as an uncompressed tar spooled to a temp file."""
    if source.is_file():
        with _open_source(source) as (stream, _size, _mode):
            yield stream, False
        return
    if not source.is_dir():
        raise InvalidArgument(0, [f"model source {source} is neither a file nor a folder"])
    # A temp file on disk, not memory: models can be gigabytes.
    with tempfile.TemporaryFile() as spool:
        with tarfile.open(fileobj=spool, mode="w") as tar:
            for path in sorted(source.rglob("*")):
                tar.add(path, arcname=path.relative_to(source).as_posix(), recursive=False)
        spool.seek(0)
        yield spool, True


async def upload_model(
    stub: Any,
    header: Any,
    source: Path,
    name: str,
    model_type: ModelType,
    metadata: Mapping[str, str],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> ModelDetails:
    """`Models.UploadModel`: the first message carries the details, every message carries data."""
    check_chunk_size(chunk_size)
    with _model_source(source) as (stream, is_archive):
        meta = {**metadata, **({ARCHIVE_KEY: "tar"} if is_archive else {})}
        details = _convert.model_details_pb(name, model_type, meta)

        async def requests() -> AsyncIterator[Any]:
            first = True
            async for data in _chunks(stream, chunk_size):
                message = models_pb2.ModelsUploadModelRequest(header=header, data=data)
                if first:
                    message.details.CopyFrom(details)
                    first = False
                yield message
                if progress is not None:
                    progress(len(data))

        response = await stub.UploadModel(requests(), timeout=timeout)
    check_header(response.header.code, response.header.messages, "Models.UploadModel")
    return _convert.model_details(response.details)


async def download_model(
    stub: Any, header: Any, model_id: str, dest: Path, *, timeout: float | None = None
) -> ModelDetails:
    """`Models.DownloadModel` into `dest`: a file, or a folder when the model was uploaded as one."""
    request = models_pb2.ModelsDownloadModelRequest(header=header, model_id=_convert.identifier(model_id))
    archive = dest.with_name(dest.name + ".tar")
    responses = stub.DownloadModel(request, timeout=timeout)
    details = await _receive(responses, archive, _convert.model_details, "Models.DownloadModel", f"model {model_id}")
    if details.metadata.get(ARCHIVE_KEY) == "tar":
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
        archive.unlink()
    else:
        archive.replace(dest)
    return details


def relative_name(path: Path, root: Path) -> str:
    """The payload name of `path` below `root` ('a/b.dcm')."""
    return PurePosixPath(*path.relative_to(root).parts).as_posix()
