"""Read pipeline YAML keeping line numbers, so every definition error can point at its line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from platform_server.errors import DefinitionError


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
        if not isinstance(document, LineDict):
            problems.append(f"{shown}:1: the top level must be a mapping (api-version, name, operators ...)")
            continue
        parsed.append(SourceFile(shown, document))
    if problems:
        raise DefinitionError(problems)
    return parsed
