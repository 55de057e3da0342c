"""One `operators:` entry of a definition -> OperatorSpec, collecting every problem with file and line."""

from __future__ import annotations

import re
import shlex
from typing import Any

from platform_server.pipelines.source import LineDict
from platform_server.pipelines.spec import InputSpec, OperatorSpec, OutputSpec, Resources
from platform_server.pipelines.template import scalar

OPERATOR_KEYS = {"name", "description", "container", "input", "output", "requests", "variables", "models",
                 "timeout", "services"}
# Operator and output names become folder names (operators/<operator>/<output>/), so keep them plain.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class _Problems:
    """Prefixes each problem with `file:line: operator 'name':`."""

    def __init__(self, path: str, item: LineDict, sink: list[str]) -> None:
        self.where = f"{path}:{item.line}"
        self.name = str(item.get("name", "?"))
        self.sink = sink
        self.count = 0

    def add(self, problem: str, line: int | None = None) -> None:
        where = self.where if line is None else self.where.rsplit(":", 1)[0] + f":{line}"
        self.sink.append(f"{where}: operator {self.name!r}: {problem}")
        self.count += 1


def parse_operator(path: str, item: LineDict, sink: list[str]) -> OperatorSpec | None:
    """Validate one operator; return None (after adding problems to `sink`) when it is invalid."""
    problems = _Problems(path, item, sink)
    for key in item:
        if key not in OPERATOR_KEYS:
            problems.add(f"unknown key {key!r} (known: {', '.join(sorted(OPERATOR_KEYS))})")
    name = item.get("name")
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        problems.add("`name` is required: letters, digits, '_', '-' or '.', at most 128 characters")
    image, tag, command = _container(item.get("container"), problems)
    spec = OperatorSpec(
        name=str(name),
        command=command,
        image=image,
        tag=tag,
        description=str(item.get("description") or ""),
        inputs=_inputs(item.get("input"), problems),
        outputs=_outputs(item.get("output"), problems),
        requests=_requests(item.get("requests"), problems),
        variables=_variables(item.get("variables"), problems),
        models=_models(item.get("models"), problems),
        timeout=_timeout(item.get("timeout"), problems),
        where=problems.where,
    )
    return None if problems.count else spec


def _container(value: Any, problems: _Problems) -> tuple[str, str, tuple[str, ...]]:
    if not isinstance(value, dict):
        problems.add("`container` with a `command` is required")
        return "", "", ()
    raw = value.get("command")
    if isinstance(raw, str):
        command = tuple(shlex.split(raw))
    elif isinstance(raw, list):
        command = tuple(scalar(arg) for arg in raw)
    else:
        command = ()
    if not command:
        problems.add("container.command is missing or empty (the local executor runs this command)",
                     getattr(value, "line", None))
    return str(value.get("image") or ""), scalar(value.get("tag") or ""), command


def _entries(value: Any, key: str, problems: _Problems) -> list[LineDict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, LineDict) for v in value):
        problems.add(f"`{key}` must be a list of mappings with a `path`")
        return []
    return list(value)


def _path(entry: LineDict, key: str, problems: _Problems) -> str | None:
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        problems.add(f"every `{key}` needs an absolute `path` (got {path!r})", entry.line)
        return None
    return path.rstrip("/") or "/"


def _inputs(value: Any, problems: _Problems) -> tuple[InputSpec, ...]:
    result: list[InputSpec] = []
    for entry in _entries(value, "input", problems):
        path = _path(entry, "input", problems)
        source, name = entry.get("from"), entry.get("name")
        if path is not None:
            result.append(InputSpec(path, None if source is None else str(source), None if name is None else str(name)))
    return tuple(result)


def _outputs(value: Any, problems: _Problems) -> tuple[OutputSpec, ...]:
    result: list[OutputSpec] = []
    for entry in _entries(value, "output", problems):
        path = _path(entry, "output", problems)
        name = str(entry.get("name") or "output")
        if not SAFE_NAME.match(name):
            problems.add(f"output name {name!r} must be letters, digits, '_', '-' or '.'", entry.line)
        elif name in {o.name for o in result}:
            problems.add(f"two outputs are named {name!r} (unnamed outputs are called 'output')", entry.line)
        elif path is not None:
            result.append(OutputSpec(path, name))
    return tuple(result)


def _requests(value: Any, problems: _Problems) -> Resources:
    if value is None:
        return Resources()
    if not isinstance(value, dict):
        problems.add("`requests` must be a mapping of cpu, gpu, memory")
        return Resources()
    try:
        gpu = int(value.get("gpu") or 0)
        cpu = float(value.get("cpu") or 0)
        memory = int(value.get("memory") or 0)
    except (TypeError, ValueError):
        problems.add(f"`requests` values must be numbers (got {dict(value)!r})")
        return Resources()
    if gpu < 0 or cpu < 0 or memory < 0:
        problems.add("`requests` values must not be negative")
    return Resources(cpu=cpu, gpu=gpu, memory=memory)


def _variables(value: Any, problems: _Problems) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add("`variables` must map environment variable names to values")
        return {}
    return {str(k): scalar(v) for k, v in value.items() if v is not None}


def _models(value: Any, problems: _Problems) -> tuple[str, ...]:
    if value is None:
        return ()
    names: list[str] = []
    for entry in value if isinstance(value, list) else [value]:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or not name:
            problems.add("every `models` entry needs a `name`")
        else:
            names.append(name)
    return tuple(names)


def _timeout(value: Any, problems: _Problems) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        problems.add(f"`timeout` must be a positive number of seconds (got {value!r})")
        return None
    return float(value)
