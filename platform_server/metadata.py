"""Clara's metadata rules for jobs, payloads, pipelines and models (clara-compat §3.3).

Keys are unique regardless of case, a key is at most 128 bytes and a value at most 256 bytes
(UTF-8), and one object's metadata is at most 4 MB in total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from platform_server.errors import InvalidArgument

MAX_KEY_BYTES = 128
MAX_VALUE_BYTES = 256
MAX_TOTAL_BYTES = 4 * 1024 * 1024


def validate(metadata: Mapping[str, str]) -> dict[str, str]:
    """Check one request's metadata; raise InvalidArgument listing every problem."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for key, value in metadata.items():
        if not key.strip():
            problems.append("metadata keys must not be empty")
        if (folded := key.casefold()) in seen:
            problems.append(f"metadata key {key!r} duplicates {seen[folded]!r} (keys are case-insensitive)")
        seen[folded] = key
        if len(key.encode()) > MAX_KEY_BYTES:
            problems.append(f"metadata key {key[:40]!r}... is longer than {MAX_KEY_BYTES} bytes")
        if len(value.encode()) > MAX_VALUE_BYTES:
            problems.append(f"metadata value of {key!r} is longer than {MAX_VALUE_BYTES} bytes")
    if problems:
        raise InvalidArgument("; ".join(problems))
    return dict(metadata)


def merge(current: Mapping[str, str], added: Mapping[str, str]) -> dict[str, str]:
    """Add or replace keys (matching case-insensitively), enforcing the 4 MB total."""
    validate(added)
    merged = {k: v for k, v in current.items() if k.casefold() not in {a.casefold() for a in added}}
    merged.update(added)
    total = sum(len(k.encode()) + len(v.encode()) for k, v in merged.items())
    if total > MAX_TOTAL_BYTES:
        raise InvalidArgument(f"metadata would be {total} bytes, more than the {MAX_TOTAL_BYTES} bytes allowed")
    return merged


def remove(current: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """Drop keys (case-insensitively); unknown keys are ignored, as removing is idempotent."""
    folded = {k.casefold() for k in keys}
    return {k: v for k, v in current.items() if k.casefold() not in folded}
