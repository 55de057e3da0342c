"""`import: {path, args}`: operators and services defined in other files of the same Create call.

As Clara documents it, an import object stands in an `operators` list (or an operator's `services`
list) in place of a declaration:

    operators:
    - import: {path: operators/reader.yaml, args: {TAG: "1.2"}}
      name: reader-2          # optional overrides: replace the imported property's whole value

- `path` is relative to the importing file. The `clara` CLI sends files by their base name, so when
  the relative path names no file sent, a file with the same base name is used (if only one has it).
- The imported file is an operator document (`name`, `container`, `input` ... at its top level, plus
  optionally `api-version`, `description`, `parameters`), or a pipeline-shaped document whose
  `operators` are all inserted. Its `${{NAME}}` placeholders are resolved at Create from `args` over
  its own `parameters` defaults; an `args` name that is not one of its parameters, a placeholder
  that is not declared, or a parameter left without a value is an error. Values from `args` may
  themselves hold placeholders of the importing pipeline, resolved at job start as usual.
- Service files are not templates (Clara ignores `args` for them); keys beside `import` override.
- A file imported by another is not itself part of the pipeline: only the files nobody imports
  contribute `operators` and the top-level keys. Missing files and import cycles are errors.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from platform_server.pipelines import template
from platform_server.pipelines.problems import Problems, line_of
from platform_server.pipelines.source import LineDict, SourceFile

IMPORT_KEYS = ("path", "args")
# Keys of an imported operator document that describe the document, not the operator.
DOCUMENT_ONLY_KEYS = ("parameters",)


@dataclass(frozen=True)
class Entry:
    """One operator (or service) mapping, the file it comes from and the api-version it was written for."""

    path: str
    item: LineDict
    api_version: str


def _walk(tree: Any) -> Iterator[LineDict]:
    if isinstance(tree, LineDict):
        yield tree
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _walk(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _walk(value)


class Imports:
    """The files of one Create call, by path, and the import relations between them."""

    def __init__(self, sources: list[SourceFile]) -> None:
        self.sources = {s.path: s for s in sources}
        self.imported: set[str] = set()
        for source in sources:
            for mapping in _walk(source.document):
                target = mapping.get("import")
                if isinstance(target, dict) and isinstance(target.get("path"), str):
                    found = self.find(source.path, target["path"])
                    if found is not None and found.path != source.path:
                        self.imported.add(found.path)

    def roots(self) -> list[SourceFile]:
        """The files that form the pipeline: those no other file imports."""
        return [s for s in self.sources.values() if s.path not in self.imported]

    def find(self, importer: str, path: str) -> SourceFile | None:
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(importer), path))
        for candidate in (joined, posixpath.normpath(path)):
            if candidate in self.sources:
                return self.sources[candidate]
        same_name = [s for p, s in self.sources.items() if posixpath.basename(p) == posixpath.basename(path)]
        return same_name[0] if len(same_name) == 1 else None

    def operators(self, entry: Entry, sink: list[str], chain: tuple[str, ...] = ()) -> list[Entry]:
        """The operator declarations an `operators` entry stands for: itself, or what it imports."""
        if "import" not in entry.item:
            return [entry]
        problems = Problems(entry.path, entry.item.line, sink)
        target = self._target(entry, problems, chain)
        if target is None:
            return []
        document = _resolve_template(target, entry.item["import"].get("args"), problems)
        if document is None:
            return []
        overrides = {k: v for k, v in entry.item.items() if k != "import"}
        version = str(document.get("api-version") or entry.api_version)
        if "operators" not in document:
            body = LineDict({k: v for k, v in document.items() if k not in DOCUMENT_ONLY_KEYS})
            body.update(overrides)
            body.line = document.line
            return self.operators(Entry(target.path, body, version), sink, (*chain, entry.path))
        items = document.get("operators")
        if not isinstance(items, list) or not all(isinstance(i, LineDict) for i in items):
            problems.add(f"`operators` of imported file {target.path} must be a list of mappings")
            return []
        if overrides:
            problems.add(f"cannot override {', '.join(sorted(overrides))} when importing several operators "
                         f"from {target.path}")
        found: list[Entry] = []
        for item in items:
            found += self.operators(Entry(target.path, item, version), sink, (*chain, entry.path))
        return found

    def service(self, path: str, item: LineDict, problems: Problems) -> tuple[str, LineDict] | None:
        """A `services` entry with its import (if any) replaced by the imported service mapping."""
        if "import" not in item:
            return path, item
        target = self._target(Entry(path, item, ""), problems, ())
        if target is None:
            return None
        merged = LineDict(target.document)
        merged.update({k: v for k, v in item.items() if k != "import"})
        merged.line = target.document.line
        return target.path, merged

    def _target(self, entry: Entry, problems: Problems, chain: tuple[str, ...]) -> SourceFile | None:
        spec = entry.item["import"]
        line = line_of(spec, entry.item.line)
        if not isinstance(spec, dict):
            problems.add("`import` must be a mapping with a `path` (and optional `args`)", line)
            return None
        problems.keys(spec, IMPORT_KEYS, "import", line)
        path, args = spec.get("path"), spec.get("args")
        if args is not None and not isinstance(args, dict):
            problems.add("import `args` must map parameter names to values", line)
        if not isinstance(path, str) or not path:
            problems.add("`import` needs a `path` to another file sent with the definition", line)
            return None
        target = self.find(entry.path, path)
        if target is None:
            sent = ", ".join(sorted(self.sources))
            problems.add(f"imports {path!r}, which is not among the files sent (files: {sent})", line)
            return None
        walk = (*chain, entry.path)
        if target.path in walk:
            cycle = " -> ".join((*walk[walk.index(target.path):], target.path))
            problems.add(f"import cycle: {cycle}", line)
            return None
        return target


def _resolve_template(target: SourceFile, args: Any, problems: Problems) -> LineDict | None:
    """The imported document with its placeholders resolved from `args` over its parameters' defaults."""
    document = target.document
    declared = document.get("parameters") or {}
    if not isinstance(declared, dict):
        problems.add(f"`parameters` of {target.path} must map names to default values")
        return None
    given = {str(k): template.scalar(v) for k, v in (args or {}).items()} if isinstance(args, dict) else {}
    known = ", ".join(sorted(declared)) or "none"
    for name in sorted(set(given) - set(declared)):
        problems.add(f"import of {target.path}: argument {name!r} is not one of its parameters ({known})")
    body = {k: v for k, v in document.items() if k != "parameters"}
    for name in sorted(template.tree_placeholders(body) - set(declared)):
        problems.add(f"{target.path}: placeholder ${{{{{name}}}}} is not a declared parameter (parameters: {known})")
    values = {**{str(k): template.scalar(v) for k, v in declared.items() if v is not None}, **given}
    for name in sorted(set(declared) - set(values)):
        problems.add(f"import of {target.path}: parameter {name!r} has no default: give it in `args`")
    return template.substitute_tree(document, values) if problems.count == 0 else None
