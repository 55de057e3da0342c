"""Clara pipeline definitions (api-version 0.3.0, 0.4.0 and 0.5.0) parsed into frozen, validated specs.

Several files form one pipeline: the files that no other file imports give the top-level keys (see
document.py) and their `operators`, concatenated in file order; imported files supply operators and
services where they are imported (see imports.py). Every problem names the file, the line, the
operator and what is wrong; all problems are reported together. The whole language, element by
element, is described in docs/pipeline-language.md.

Templates: `${{NAME}}` placeholders are checked at `parse` and substituted by `resolve` at job start,
from the job's variables over the pipeline `parameters` over the operator's own `parameters`
(operator parameters are defaults for that operator only; a job variable may name one).
`resolve` also merges the pipeline-level `variables` under each operator's own `variables`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from platform_server.errors import DefinitionError, InvalidArgument
from platform_server.pipelines import template, typed_io
from platform_server.pipelines.document import parse_header
from platform_server.pipelines.imports import Entry, Imports
from platform_server.pipelines.operator import API_VERSIONS, parse_operator
from platform_server.pipelines.services import check_shared_services
from platform_server.pipelines.source import LineDict, SourceFile, load
from platform_server.pipelines.spec import InputSpec, OperatorSpec, OutputSpec, PipelineDefinition, Resources

__all__ = ["API_VERSIONS", "InputSpec", "OperatorSpec", "OutputSpec", "PipelineDefinition", "Resources", "parse",
           "resolve"]


def parse(files: Sequence[tuple[str, str]]) -> PipelineDefinition:
    """Validate definition files; placeholders stay unresolved until `resolve` at job start."""
    sources = load(files)
    imports = Imports(sources)
    roots = imports.roots()
    if not roots:
        raise DefinitionError([f"{sources[0].path}:1: every file sent is imported by another one: "
                               "there is no pipeline file to start from"])
    problems: list[str] = []
    header = parse_header(roots, problems)
    operators: list[OperatorSpec] = []
    declared: set[str] = set()
    for source in roots:
        for item in _operator_items(source, problems):
            for entry in imports.operators(Entry(source.path, item, header.api_version), problems):
                declared.add(str(entry.item.get("name")))
                spec = parse_operator(entry, problems, imports)
                if spec is not None:
                    operators.append(spec)
    if not operators and not problems:
        problems.append(f"{roots[0].path}:1: the pipeline has no operators")
    _check_names(operators, problems)
    _check_links(operators, declared, problems)
    _check_placeholders(operators, header.parameters, problems)
    check_shared_services(operators, problems)
    typed_io.check_links(operators, problems)
    if problems:
        raise DefinitionError(problems)
    definition = PipelineDefinition(
        name=header.name, api_version=header.api_version, operators=tuple(operators), parameters=header.parameters,
        variables=header.variables, pull_secrets=tuple(header.pull_secrets), orchestrator=header.orchestrator,
        description=header.description,
    )
    _check_cycles(definition, problems)
    if problems:
        raise DefinitionError(problems)
    return definition


def resolve(definition: PipelineDefinition, variables: Mapping[str, str]) -> PipelineDefinition:
    """Substitute every `${{NAME}}` and merge pipeline `variables` into each operator's (the operator's win)."""
    own = {name: default for op in definition.operators for name, default in op.parameters.items()}
    values = template.values(definition.parameters, variables, extra=own)
    return dataclasses.replace(
        definition,
        operators=tuple(_resolve_operator(op, definition.variables, values) for op in definition.operators),
        variables={k: template.sub(v, values) for k, v in definition.variables.items()},
    )


def _resolve_operator(op: OperatorSpec, shared: Mapping[str, str], values: Mapping[str, str]) -> OperatorSpec:
    scope = {**{k: v for k, v in op.parameters.items() if v is not None}, **values}
    missing = sorted(template.placeholders(op) - set(scope))
    if missing:
        raise InvalidArgument(f"operator {op.name!r}: parameter(s) {', '.join(missing)} have no default: "
                              "pass them as variables at start")
    resolved = template.substitute_operator(op, scope)
    merged = {**{k: template.sub(v, scope) for k, v in shared.items()}, **resolved.variables}
    return dataclasses.replace(resolved, variables=merged)


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
        known = {*parameters, *op.parameters}
        for name in sorted(template.placeholders(op) - known):
            declared = ", ".join(sorted(known)) or "none"
            problems.append(f"{op.where}: operator {op.name!r}: placeholder ${{{{{name}}}}} is not a declared "
                            f"parameter (parameters: {declared})")


def _check_cycles(definition: PipelineDefinition, problems: list[str]) -> None:
    cycle = definition.dag.find_cycle()
    if cycle is not None:
        where = definition.operator(cycle[0]).where
        # The walk follows inputs; print it in data-flow order, which is how people read pipelines.
        problems.append(f"{where}: operators form a cycle: {' -> '.join(reversed(cycle))}")
