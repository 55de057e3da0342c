"""`requests: {cpu, gpu, memory}` of operators and services -> `Resources` (memory in MiB).

- `cpu`: a number of cores (`2`, `0.5`) or Kubernetes millicores (`"500m"`).
- `gpu`: a whole number of GPUs.
- `memory`: an integer is MiB (Clara's samples: `memory: 4096`); a string takes a Kubernetes unit,
  binary (`Ki`, `Mi`, `Gi`, `Ti`) or decimal (`K`/`k`, `M`, `G`, `T`): `"512Mi"`, `"2Gi"`, `"1G"`, `"256M"`.
  A unit-less string is MiB too. The result is rounded up to a whole MiB.
"""

from __future__ import annotations

import math
import re
from typing import Any

from platform_server.pipelines.problems import Problems, line_of
from platform_server.pipelines.spec import Resources

REQUEST_KEYS = ("cpu", "gpu", "memory")
_MIB = 1024 * 1024
_UNITS = {
    "": _MIB, "Ki": 1024, "Mi": _MIB, "Gi": 1024 * _MIB, "Ti": 1024 * 1024 * _MIB,
    "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
}
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_requests(value: Any, problems: Problems, what: str = "requests") -> Resources:
    """Validate a `requests` mapping; every bad value is reported, valid ones are kept."""
    if value is None:
        return Resources()
    if not isinstance(value, dict):
        problems.add(f"`{what}` must be a mapping of {', '.join(REQUEST_KEYS)}")
        return Resources()
    problems.keys(value, REQUEST_KEYS, what)
    line = line_of(value, problems.line)
    return Resources(
        cpu=_cpu(value.get("cpu"), problems, line, what),
        gpu=_gpu(value.get("gpu"), problems, line, what),
        memory=_memory(value.get("memory"), problems, line, what),
    )


def memory_mib(value: Any) -> int | None:
    """MiB for an int (already MiB) or a quantity string; None when the value cannot be read."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return math.ceil(value) if value >= 0 else None
    match = _QUANTITY.match(str(value))
    if match is None or match.group(2) not in _UNITS:
        return None
    return math.ceil(float(match.group(1)) * _UNITS[match.group(2)] / _MIB)


def _cpu(value: Any, problems: Problems, line: int, what: str) -> float:
    if value is None:
        return 0.0
    text = str(value).strip()
    try:
        cores = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        cores = -1.0
    if isinstance(value, bool) or cores < 0 or math.isnan(cores):
        problems.add(f"`{what}.cpu` must be a number of cores (2, 0.5) or millicores ('500m'), got {value!r}", line)
        return 0.0
    return cores


def _gpu(value: Any, problems: Problems, line: int, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.add(f"`{what}.gpu` must be a whole number of GPUs, got {value!r}", line)
        return 0
    return value


def _memory(value: Any, problems: Problems, line: int, what: str) -> int:
    if value is None:
        return 0
    mib = memory_mib(value)
    if mib is None:
        problems.add(f"`{what}.memory` must be MiB (4096) or a quantity like '512Mi', '2Gi', '1G', '256M', "
                     f"got {value!r}", line)
        return 0
    return mib
