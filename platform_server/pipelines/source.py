"""Read pipeline YAML keeping line numbers, so every definition error can point at its line.

Bounded: YAML aliases share one object however often they are used, and every later walk of the tree
(imports, placeholders, validation) visits each use. A 400-byte "billion laughs" document of nested
aliases would cost hours of CPU there, so a file whose tree, aliases expanded, holds more than
`MAX_VALUES` values or nests deeper than `MAX_DEPTH` is refused here, before any walk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from platform_server.errors import DefinitionError

MAX_VALUES = 100_000  # values of one file, aliases expanded; Clara's own pipelines hold a few hundred
MAX_DEPTH = 64  # mappings and lists inside each other; pipelines nest 6 or 7 deep


class LineDict(dict[str, Any]):
    """A YAML mapping that remembers the 1-based line it starts on."""

    line: int = 0


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
    mapping = LineDict({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class SourceFile:
    """One definition file: its path as the client sent it and the parsed top-level mapping."""

    path: str
    document: LineDict


def join_chunks(chunks: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Concatenate chunks that share a path, keeping the order in which paths first appeared."""
    files: dict[str, str] = {}
    for path, content in chunks:
        files[path] = files.get(path, "") + content
    return list(files.items())


def load(files: Sequence[tuple[str, str]]) -> list[SourceFile]:
    """Parse every file; raise DefinitionError naming each file and line that is not valid YAML."""
    problems: list[str] = []
    parsed: list[SourceFile] = []
    if not files:
        raise DefinitionError(["the pipeline definition is empty: send at least one definition file"])
    for path, content in files:
        shown = path or "(unnamed file)"
        try:
            document = yaml.load(content, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            problems.append(f"{shown}{where}: invalid YAML: {problem}")
            continue
        except RecursionError:  # PyYAML composes nodes recursively: a few hundred levels exhaust the stack
            problems.append(f"{shown}: invalid YAML: nested deeper than {MAX_DEPTH} levels")
            continue
        if not isinstance(document, LineDict):
            problems.append(f"{shown}:1: the top level must be a mapping (api-version, name, operators ...)")
            continue
        values, depth = _size(document, 0, {})
        if values > MAX_VALUES or depth > MAX_DEPTH:
            problems.append(f"{shown}:1: the document is too large: over {MAX_VALUES} values (YAML aliases "
                            f"expanded) or nested deeper than {MAX_DEPTH} levels")
            continue
        parsed.append(SourceFile(shown, document))
    if problems:
        raise DefinitionError(problems)
    return parsed


def _size(value: Any, level: int, known: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(values, depth) of a parsed tree, each alias counted at every use; `known` memoizes shared
    nodes by id, so the cost is that of the tree as written. Stops descending past MAX_DEPTH."""
    if not isinstance(value, dict | list):
        return 1, 0
    if id(value) in known:
        return known[id(value)]
    if level > MAX_DEPTH:
        return 1, MAX_DEPTH + 1
    values, depth = 1, 0
    for child in value.values() if isinstance(value, dict) else value:
        child_values, child_depth = _size(child, level + 1, known)
        values, depth = values + child_values, max(depth, child_depth + 1)
    known[id(value)] = (values, depth)
    return values, depth
