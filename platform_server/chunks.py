"""Files as chunk streams: what Upload writes (temp file, fsync, atomic rename) and Download reads."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path

# 1 MiB per message keeps every Download response well under the gRPC message limit (settings: max_message_mb).
CHUNK_SIZE = 1024 * 1024


async def read_chunks(path: Path) -> AsyncIterator[bytes]:
    """The file's content in CHUNK_SIZE pieces; an empty file yields nothing."""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk


async def write_chunks(chunks: AsyncIterable[bytes], temp: Path, target: Path) -> int:
    """Stream into `temp`, fsync, rename over `target`; the byte count. `temp` never survives, even on failure.

    A reader never sees a half-written `target`, and a retried upload simply replaces it.
    """
    size = 0
    try:
        with temp.open("wb") as out:
            async for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
            await asyncio.to_thread(os.fsync, out.fileno())
        temp.replace(target)
    finally:
        temp.unlink(missing_ok=True)
    return size
