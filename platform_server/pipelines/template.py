"""`${{NAME}}` placeholders: found at Create (must be declared parameters), resolved at job Start."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from platform_server.errors import InvalidArgument
from platform_server.pipelines.spec import InputSpec, OperatorSpec, OutputSpec

PLACEHOLDER = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")


def scalar(value: Any) -> str:
    """YAML scalars as the strings an environment or argv needs (`true`, not `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strings(op: OperatorSpec) -> list[str]:
    return [
        op.image, op.tag, *op.command, *op.variables.values(),
        *(i.path for i in op.inputs), *(o.path for o in op.outputs), *op.models,
    ]


def placeholders(op: OperatorSpec) -> set[str]:
    return {m.group(1) for text in _strings(op) for m in PLACEHOLDER.finditer(text)}


def values(parameters: Mapping[str, str | None], variables: Mapping[str, str]) -> dict[str, str]:
    """Parameter defaults overridden by job-start variables; unknown or missing names are errors."""
    unknown = sorted(set(variables) - set(parameters))
    if unknown:
        declared = ", ".join(sorted(parameters)) or "none"
        raise InvalidArgument(f"unknown variable(s) {', '.join(unknown)}: the pipeline's parameters are {declared}")
    merged = {**parameters, **variables}
    missing = sorted(name for name, value in merged.items() if value is None)
    if missing:
        raise InvalidArgument(f"parameter(s) {', '.join(missing)} have no default: pass them as variables at start")
    return {name: value for name, value in merged.items() if value is not None}


def _sub(text: str, values: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def substitute_operator(op: OperatorSpec, values: Mapping[str, str]) -> OperatorSpec:
    return dataclasses.replace(
        op,
        image=_sub(op.image, values),
        tag=_sub(op.tag, values),
        command=tuple(_sub(arg, values) for arg in op.command),
        variables={k: _sub(v, values) for k, v in op.variables.items()},
        inputs=tuple(InputSpec(_sub(i.path, values), i.source, i.name) for i in op.inputs),
        outputs=tuple(OutputSpec(_sub(o.path, values), o.name) for o in op.outputs),
        models=tuple(_sub(m, values) for m in op.models),
    )
