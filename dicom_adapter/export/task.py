"""An export task as the results service hands it out, and its destination names.

`parameters` is JSON text as in Clara: a JSON string (`"\"MYPACS\""`) naming one destination; we also
accept a JSON list of names to deliver the same files to each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dicom_adapter.export.errors import InvalidParametersError


@dataclass(frozen=True)
class ExportTask:
    """One leased task: deliver `uris` (payload-relative) of `payload_id` to the destinations in `parameters`."""

    task_id: str
    job_id: str
    pipeline_id: str
    payload_id: str
    agent: str
    parameters: str
    retries: int
    uris: tuple[str, ...]
    lease_id: str | None = None
    lease_expires: float | None = None


def task_from_json(data: dict[str, Any]) -> ExportTask:
    """Convert the results service's camelCase JSON; unknown fields are ignored."""
    return ExportTask(
        task_id=str(data["taskId"]),
        job_id=str(data.get("jobId") or ""),
        pipeline_id=str(data.get("pipelineId") or ""),
        payload_id=str(data.get("payloadId") or ""),
        agent=str(data.get("agent") or ""),
        parameters=str(data.get("parameters") or ""),
        retries=int(data.get("retries") or 0),
        uris=tuple(str(uri) for uri in data.get("uris") or ()),
        lease_id=data.get("leaseId"),
        lease_expires=_float_or_none(data.get("leaseExpires")),
    )


def _float_or_none(value: object) -> float | None:
    """POSIX seconds from a number or an ISO 8601 timestamp (the results service sends ISO, UTC)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def destination_names(parameters: str) -> list[str]:
    """Destination names from `parameters`; InvalidParametersError with the reason otherwise.

    Accepts `"MYPACS"` (JSON string, as Clara) and `["A", "B"]` (JSON list); a bare word is also accepted,
    since a hand-registered task often forgets the quotes. Duplicates (any case) are delivered once.
    """
    text = parameters.strip()
    if not text:
        raise InvalidParametersError("task parameters are empty: expected a destination name such as '\"MYPACS\"'")
    try:
        value: object = json.loads(text)
    except json.JSONDecodeError:
        value = text if text.replace("-", "").replace("_", "").replace(".", "").isalnum() else None
        if value is None:
            raise InvalidParametersError(f"task parameters are not JSON: {text[:80]!r}") from None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise InvalidParametersError(
            f"task parameters must be a destination name or a list of names, got {text[:80]!r}"
        )
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.strip().lower(), name.strip())
    return list(unique.values())
