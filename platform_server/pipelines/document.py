"""The top level of a pipeline document: name, api-version, description, orchestrator, pull-secrets,
parameters and variables, gathered from every file of the pipeline (the files no other file imports).

`name`, `api-version` and `orchestrator` must agree between the files that give them; `parameters`
and `variables` are merged (one name with two different values is an error); `pull-secrets` are
collected in order; the first `description` is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from platform_server.pipelines import template
from platform_server.pipelines.container import parse_parameters, parse_variables, text
from platform_server.pipelines.operator import API_VERSIONS
from platform_server.pipelines.problems import Problems, line_of
from platform_server.pipelines.source import SourceFile

TOP_LEVEL_KEYS = ("api-version", "name", "description", "orchestrator", "pull-secrets", "parameters", "variables",
                  "operators")


@dataclass
class DocumentHeader:
    """The pipeline's top-level keys (every key but `operators`), gathered from all its files."""

    name: str = ""
    api_version: str = ""
    description: str = ""
    orchestrator: str = ""
    pull_secrets: list[str] = field(default_factory=list)
    parameters: dict[str, str | None] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)


def parse_header(sources: list[SourceFile], sink: list[str]) -> DocumentHeader:
    first = Problems(sources[0].path, 1, sink)
    header = DocumentHeader(
        name=_agreed(sources, "name", sink) or "",
        api_version=_agreed(sources, "api-version", sink) or "",
        orchestrator=_agreed(sources, "orchestrator", sink) or "",
        description=next((text(s.document["description"]) for s in sources if s.document.get("description")), ""),
    )
    if not header.name:
        first.add("the pipeline has no `name`")
    if not header.api_version:
        first.add(f"missing `api-version` (supported: {', '.join(API_VERSIONS)})")
    elif header.api_version not in API_VERSIONS:
        sink.append(f"{_where(sources, 'api-version')}: unknown api-version {header.api_version!r} "
                    f"(supported: {', '.join(API_VERSIONS)})")
        header.api_version = ""
    for source in sources:
        problems = Problems(source.path, source.document.line, sink)
        problems.keys(source.document, TOP_LEVEL_KEYS, "the pipeline document")
        _merge(header.parameters, parse_parameters(source.document.get("parameters"), problems), "parameter",
               problems)
        _merge(header.variables, parse_variables(source.document.get("variables"), problems), "variable", problems)
        header.pull_secrets += [s for s in _pull_secrets(source.document.get("pull-secrets"), problems)
                                if s not in header.pull_secrets]
    _check_placeholders(sources, header, sink)
    return header


def _check_placeholders(sources: list[SourceFile], header: DocumentHeader, sink: list[str]) -> None:
    """Pipeline `variables` may use the pipeline's parameters (operators' own parameters are theirs alone)."""
    declared = ", ".join(sorted(header.parameters)) or "none"
    for source in sources:
        variables = source.document.get("variables")
        if not isinstance(variables, dict):
            continue
        used = {n for value in variables.values() if isinstance(value, str) for n in template.found_in(value)}
        for name in sorted(used - set(header.parameters)):
            sink.append(f"{source.path}:{line_of(variables, source.document.line)}: pipeline `variables`: "
                        f"placeholder ${{{{{name}}}}} is not a declared parameter (parameters: {declared})")


def _agreed(sources: list[SourceFile], key: str, sink: list[str]) -> str | None:
    values = {text(s.document[key]) for s in sources if s.document.get(key) is not None}
    if len(values) > 1:
        sink.append(f"{_where(sources, key)}: the files disagree on `{key}`: {', '.join(sorted(values))}")
    return next(iter(values), None) if len(values) == 1 else None


def _where(sources: list[SourceFile], key: str) -> str:
    source = next(s for s in sources if key in s.document)
    return f"{source.path}:{source.document.line}"


def _merge(into: dict[str, Any], new: dict[str, Any], what: str, problems: Problems) -> None:
    for key, value in new.items():
        if key in into and into[key] != value:
            problems.add(f"{what} {key!r} is declared twice with different values")
        into[key] = value


def _pull_secrets(value: Any, problems: Problems) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        problems.add(f"`pull-secrets` must be a list of registry secret names, got {value!r}")
        return []
    return list(value)
