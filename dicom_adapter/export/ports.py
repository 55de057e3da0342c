"""What the export agent needs from the rest of the adapter: the configured destinations."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from dicom_adapter.models import DestinationAeTitle


class DestinationLookup(Protocol):
    """Live view of the configured DICOM destinations (the core's registry implements it)."""

    async def destination(self, name: str) -> DestinationAeTitle | None:
        """The destination called `name` (case-insensitive), or None when none is configured."""
        ...


class PayloadSource(Protocol):
    """Streams one file of a job payload to disk (platform_api.PlatformClient implements it)."""

    async def download(self, payload_id: str, name: str, dest: Path, /) -> object:
        """Write the file `name` of `payload_id` to `dest` (complete, or not at all)."""
        ...
