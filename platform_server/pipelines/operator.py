"""One `operators:` entry of a definition -> OperatorSpec, collecting every problem with file and line."""

from __future__ import annotations

from typing import Any

from platform_server.pipelines.container import (
    SAFE_NAME,
    parse_container,
    parse_parameters,
    parse_variables,
    text,
)
from platform_server.pipelines.imports import Entry, Imports
from platform_server.pipelines.problems import Problems, line_of
from platform_server.pipelines.resources import parse_requests
from platform_server.pipelines.services import parse_services
from platform_server.pipelines.source import LineDict
from platform_server.pipelines.spec import InputSpec, OperatorSpec, OutputSpec
from platform_server.pipelines.typed_io import TYPED_FIELDS, parse_data_type

__all__ = ["API_VERSIONS", "OPERATOR_KEYS", "SAFE_NAME", "parse_operator"]

API_VERSIONS = ("0.3.0", "0.4.0", "0.5.0")
OPERATOR_KEYS = ("name", "description", "api-version", "container", "input", "output", "parameters", "requests",
                 "variables", "models", "services", "timeout")
INPUT_KEYS = ("from", "name", "path", *TYPED_FIELDS)
OUTPUT_KEYS = ("name", "path", *TYPED_FIELDS)
MODEL_KEYS = ("name",)


def parse_operator(entry: Entry, sink: list[str], imports: Imports) -> OperatorSpec | None:
    """Validate one operator; return None (after adding problems to `sink`) when it is invalid."""
    item = entry.item
    problems = Problems(entry.path, item.line, sink, f"operator {str(item.get('name', '?'))!r}")
    problems.keys(item, OPERATOR_KEYS, "operator")
    name = item.get("name")
    if not isinstance(name, str) or not SAFE_NAME.match(name):
        problems.add("`name` is required: letters, digits, '_', '-' or '.', at most 128 characters")
    version = _api_version(item.get("api-version"), entry.api_version, problems)
    image, tag, command = parse_container(item.get("container"), problems)
    spec = OperatorSpec(
        name=str(name),
        command=command,
        image=image,
        tag=tag,
        description=text(item.get("description")),
        inputs=_inputs(item.get("input"), version, problems),
        outputs=_outputs(item.get("output"), version, problems),
        requests=parse_requests(item.get("requests"), problems),
        variables=parse_variables(item.get("variables"), problems),
        models=_models(item.get("models"), problems),
        services=parse_services(item.get("services"), entry.path, problems, imports),
        timeout=_timeout(item.get("timeout"), problems),
        api_version=version,
        parameters=parse_parameters(item.get("parameters"), problems),
        where=problems.where,
    )
    return None if problems.count else spec


def _api_version(value: Any, inherited: str, problems: Problems) -> str:
    """The operator's own api-version, else the document's it was written in."""
    if value is None:
        return inherited
    if str(value) not in API_VERSIONS:
        problems.add(f"unknown api-version {str(value)!r} (supported: {', '.join(API_VERSIONS)})")
        return inherited
    return str(value)


def _entries(value: Any, key: str, problems: Problems) -> list[LineDict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, LineDict) for v in value):
        problems.add(f"`{key}` must be a list of mappings with a `path`")
        return []
    return list(value)


def _path(entry: LineDict, key: str, problems: Problems) -> str | None:
    path = entry.get("path")
    if path is None and "type" in entry:
        problems.add(f"{key} {entry.get('name')!r} has no `path`: shared-memory I/O is not supported, openclara "
                     "passes data through folders (add a `path`)", entry.line)
        return None
    if not isinstance(path, str) or not path.startswith("/"):
        problems.add(f"every `{key}` needs an absolute `path` (got {path!r})", entry.line)
        return None
    return path.rstrip("/") or "/"


def _inputs(value: Any, version: str, problems: Problems) -> tuple[InputSpec, ...]:
    result: list[InputSpec] = []
    for entry in _entries(value, "input", problems):
        problems.keys(entry, INPUT_KEYS, "input")
        path = _path(entry, "input", problems)
        source, name = entry.get("from"), entry.get("name")
        data_type = parse_data_type(entry, version, problems, f"input {path or entry.get('name')!r}")
        if path is not None:
            result.append(InputSpec(path, None if source is None else str(source),
                                    None if name is None else str(name), data_type))
    return tuple(result)


def _outputs(value: Any, version: str, problems: Problems) -> tuple[OutputSpec, ...]:
    result: list[OutputSpec] = []
    for entry in _entries(value, "output", problems):
        problems.keys(entry, OUTPUT_KEYS, "output")
        path = _path(entry, "output", problems)
        name = str(entry.get("name") or "output")
        data_type = parse_data_type(entry, version, problems, f"output {name!r}")
        if not SAFE_NAME.match(name):
            problems.add(f"output name {name!r} must be letters, digits, '_', '-' or '.'", entry.line)
        elif name in {o.name for o in result}:
            problems.add(f"two outputs are named {name!r} (unnamed outputs are called 'output')", entry.line)
        elif path is not None:
            result.append(OutputSpec(path, name, data_type))
    return tuple(result)


def _models(value: Any, problems: Problems) -> tuple[str, ...]:
    if value is None:
        return ()
    names: list[str] = []
    for entry in value if isinstance(value, list) else [value]:
        if isinstance(entry, dict):
            problems.keys(entry, MODEL_KEYS, "models", line_of(entry, problems.line))
        name = entry.get("name") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or not name:
            problems.add("every `models` entry needs a `name`")
        else:
            names.append(name)
    return tuple(names)


def _timeout(value: Any, problems: Problems) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        problems.add(f"`timeout` must be a positive number of seconds (got {value!r})")
        return None
    return float(value)
