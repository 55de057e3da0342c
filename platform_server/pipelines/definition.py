"""Clara pipeline definitions (api-version 0.4.0 / 0.5.0 subset) parsed into frozen, validated specs.

Several files form one pipeline: top-level `name`, `api-version` and `parameters` may appear in any
of them (they must agree), `operators` are concatenated in file order. Every problem names the file,
the line, the operator and what is wrong; all problems are reported together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from platform_server.errors import DefinitionError
from platform_server.pipelines import template
from platform_server.pipelines.operator import parse_operator
from platform_server.pipelines.source import LineDict, SourceFile, load
from platform_server.pipelines.spec import InputSpec, OperatorSpec, OutputSpec, PipelineDefinition, Resources

__all__ = ["InputSpec", "OperatorSpec", "OutputSpec", "PipelineDefinition", "Resources", "parse", "resolve"]

API_VERSIONS = ("0.4.0", "0.5.0")
TOP_LEVEL_KEYS = {"api-version", "name", "operators", "parameters", "orchestrator", "pull-secrets", "description"}
# Accepted for compatibility with Clara's samples, but meaningless for a local executor.
IGNORED_TOP_LEVEL_KEYS = {"orchestrator", "pull-secrets", "description"}


def parse(files: Sequence[tuple[str, str]]) -> PipelineDefinition:
    """Validate definition files; placeholders stay unresolved until `resolve` at job start."""
    sources = load(files)
    problems: list[str] = []
    header = _parse_header(sources, problems)
    operators: list[OperatorSpec] = []
    declared: set[str] = set()
    for source in sources:
        for item in _operator_items(source, problems):
            declared.add(str(item.get("name")))
            spec = parse_operator(source.path, item, problems)
            if spec is not None:
                operators.append(spec)
    if not operators and not problems:
        problems.append(f"{sources[0].path}:1: the pipeline has no operators")
    _check_names(operators, problems)
    _check_links(operators, declared, problems)
    _check_placeholders(operators, header[2], problems)
    if problems:
        raise DefinitionError(problems)
    definition = PipelineDefinition(header[0], header[1], tuple(operators), header[2])
    _check_cycles(definition, problems)
    if problems:
        raise DefinitionError(problems)
    return definition


def resolve(definition: PipelineDefinition, variables: Mapping[str, str]) -> PipelineDefinition:
    """Substitute `${{NAME}}` placeholders from job-start variables over the parameters' defaults."""
    values = template.values(definition.parameters, variables)
    ops = tuple(template.substitute_operator(op, values) for op in definition.operators)
    return PipelineDefinition(definition.name, definition.api_version, ops, definition.parameters)


def _parse_header(sources: list[SourceFile], problems: list[str]) -> tuple[str, str, dict[str, str | None]]:
    name = _agreed(sources, "name", problems)
    version = _agreed(sources, "api-version", problems)
    first = sources[0].path
    if name is None:
        problems.append(f"{first}:1: the pipeline has no `name`")
    if version is None:
        problems.append(f"{first}:1: missing `api-version` (supported: {', '.join(API_VERSIONS)})")
    elif version not in API_VERSIONS:
        problems.append(f"{_where(sources, 'api-version')}: unknown api-version {version!r} "
                        f"(supported: {', '.join(API_VERSIONS)})")
    for source in sources:
        for key in source.document:
            if key not in TOP_LEVEL_KEYS:
                problems.append(f"{source.path}:{source.document.line}: unknown top-level key {key!r} "
                                f"(known: {', '.join(sorted(TOP_LEVEL_KEYS))})")
    return name or "", version or "", _parameters(sources, problems)


def _agreed(sources: list[SourceFile], key: str, problems: list[str]) -> str | None:
    values = {str(s.document[key]) for s in sources if s.document.get(key) is not None}
    if len(values) > 1:
        problems.append(f"{_where(sources, key)}: the files disagree on `{key}`: {', '.join(sorted(values))}")
    return next(iter(values), None) if len(values) == 1 else None


def _where(sources: list[SourceFile], key: str) -> str:
    source = next(s for s in sources if key in s.document)
    return f"{source.path}:{source.document.line}"


def _parameters(sources: list[SourceFile], problems: list[str]) -> dict[str, str | None]:
    parameters: dict[str, str | None] = {}
    for source in sources:
        section = source.document.get("parameters")
        if section is None:
            continue
        if not isinstance(section, dict):
            problems.append(f"{source.path}:{source.document.line}: `parameters` must map names to default values")
            continue
        for key, default in section.items():
            value = None if default is None else template.scalar(default)
            if key in parameters and parameters[key] != value:
                problems.append(f"{source.path}: parameter {key!r} is declared twice with different defaults")
            parameters[str(key)] = value
    return parameters


def _operator_items(source: SourceFile, problems: list[str]) -> list[LineDict]:
    items: Any = source.document.get("operators", [])
    if not isinstance(items, list):
        problems.append(f"{source.path}:{source.document.line}: `operators` must be a list")
        return []
    good = [item for item in items if isinstance(item, LineDict)]
    if len(good) != len(items):
        problems.append(f"{source.path}: every entry of `operators` must be a mapping with a name")
    return good


def _check_names(operators: list[OperatorSpec], problems: list[str]) -> None:
    seen: dict[str, str] = {}
    for op in operators:
        if op.name in seen:
            first = seen[op.name]
            problems.append(f"{op.where}: operator {op.name!r}: duplicate operator name (first defined at {first})")
        else:
            seen[op.name] = op.where


def _check_links(operators: list[OperatorSpec], declared: set[str], problems: list[str]) -> None:
    by_name = {op.name: op for op in operators}
    for op in operators:
        for item in op.inputs:
            if item.source is None or (item.source in declared and item.source not in by_name):
                continue  # no link, or a link to an operator already reported as invalid
            upstream = by_name.get(item.source)
            prefix = f"{op.where}: operator {op.name!r}: input {item.path!r}"
            if upstream is None:
                known = ", ".join(sorted(declared)) or "none"
                problems.append(f"{prefix} reads from unknown operator {item.source!r} (operators: {known})")
            elif item.source == op.name:
                problems.append(f"{prefix} reads from the operator itself")
            elif item.name is not None and item.name not in {o.name for o in upstream.outputs}:
                names = ", ".join(o.name for o in upstream.outputs) or "none"
                problems.append(f"{prefix} reads output {item.name!r} of {item.source!r}, which has outputs: {names}")
            elif item.name is None and len(upstream.outputs) != 1:
                problems.append(f"{prefix} must name which output of {item.source!r} it reads "
                                f"({len(upstream.outputs)} outputs declared)")


def _check_placeholders(operators: list[OperatorSpec], parameters: Mapping[str, str | None],
                        problems: list[str]) -> None:
    for op in operators:
        for name in sorted(template.placeholders(op)):
            if name not in parameters:
                declared = ", ".join(sorted(parameters)) or "none"
                problems.append(f"{op.where}: operator {op.name!r}: placeholder ${{{{{name}}}}} is not a declared "
                                f"parameter (parameters: {declared})")


def _check_cycles(definition: PipelineDefinition, problems: list[str]) -> None:
    cycle = definition.dag.find_cycle()
    if cycle is not None:
        where = definition.operator(cycle[0]).where
        # The walk follows inputs; print it in data-flow order, which is how people read pipelines.
        problems.append(f"{where}: operators form a cycle: {' -> '.join(reversed(cycle))}")
