"""`${{NAME}}` placeholders: found at Create (must be declared parameters), resolved at job Start.

Placeholders may appear in every string of an operator (image, tag, command, variables, input and
output paths, models) and of its services (image, tag, command, variables). Imported files are
resolved earlier, at Create, from the import's `args` (see imports.py), with `substitute_tree`.
`$(VAR)` (Kubernetes-style, used in service commands) is not a placeholder and is left verbatim.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from platform_server.errors import InvalidArgument
from platform_server.pipelines.source import LineDict
from platform_server.pipelines.spec import OperatorSpec, ServiceSpec

PLACEHOLDER = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")


def scalar(value: Any) -> str:
    """YAML scalars as the strings an environment or argv needs (`true`, not `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _service_strings(service: ServiceSpec) -> list[str]:
    return [service.image, service.tag, *service.command, *service.variables.values()]


def _strings(op: OperatorSpec) -> list[str]:
    return [
        op.image, op.tag, *op.command, *op.variables.values(),
        *(i.path for i in op.inputs), *(o.path for o in op.outputs), *op.models,
        *(text for service in op.services for text in _service_strings(service)),
    ]


def found_in(text: str) -> set[str]:
    return {m.group(1) for m in PLACEHOLDER.finditer(text)}


def placeholders(op: OperatorSpec) -> set[str]:
    return {name for text in _strings(op) for name in found_in(text)}


def values(parameters: Mapping[str, str | None], variables: Mapping[str, str],
           extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """Parameter defaults (over `extra`, the operators' own defaults) overridden by job-start variables.

    Variables naming no parameter, and parameters left without a value, are errors.
    """
    known = {**(extra or {}), **parameters}
    unknown = sorted(set(variables) - set(known))
    if unknown:
        declared = ", ".join(sorted(known)) or "none"
        raise InvalidArgument(f"unknown variable(s) {', '.join(unknown)}: the pipeline's parameters are {declared}")
    merged = {**parameters, **variables}
    missing = sorted(name for name, value in merged.items() if value is None)
    if missing:
        raise InvalidArgument(f"parameter(s) {', '.join(missing)} have no default: pass them as variables at start")
    return {name: value for name, value in merged.items() if value is not None}


def sub(text: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _container(spec: OperatorSpec | ServiceSpec, values: Mapping[str, str]) -> dict[str, Any]:
    """The fields operators and services share: image, tag, command and variables."""
    return {
        "image": sub(spec.image, values),
        "tag": sub(spec.tag, values),
        "command": tuple(sub(arg, values) for arg in spec.command),
        "variables": {k: sub(v, values) for k, v in spec.variables.items()},
    }


def substitute_service(service: ServiceSpec, values: Mapping[str, str]) -> ServiceSpec:
    return dataclasses.replace(service, **_container(service, values))


def substitute_operator(op: OperatorSpec, values: Mapping[str, str]) -> OperatorSpec:
    return dataclasses.replace(
        op,
        **_container(op, values),
        inputs=tuple(dataclasses.replace(i, path=sub(i.path, values)) for i in op.inputs),
        outputs=tuple(dataclasses.replace(o, path=sub(o.path, values)) for o in op.outputs),
        models=tuple(sub(m, values) for m in op.models),
        services=tuple(substitute_service(s, values) for s in op.services),
    )


def tree_placeholders(tree: Any) -> set[str]:
    """Placeholders in every string of a parsed YAML tree (keys included)."""
    if isinstance(tree, str):
        return found_in(tree)
    if isinstance(tree, dict):
        return {n for k, v in tree.items() for n in found_in(str(k)) | tree_placeholders(v)}
    if isinstance(tree, list):
        return {n for item in tree for n in tree_placeholders(item)}
    return set()


def substitute_tree(tree: Any, values: Mapping[str, str]) -> Any:
    """A copy of a parsed YAML tree with known placeholders substituted; mappings keep their type and line."""
    if isinstance(tree, str):
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), tree)
    if isinstance(tree, dict):
        items = {k: substitute_tree(v, values) for k, v in tree.items()}
        if not isinstance(tree, LineDict):
            return items
        copy = LineDict(items)
        copy.line = tree.line
        return copy
    if isinstance(tree, list):
        return [substitute_tree(item, values) for item in tree]
    return tree
