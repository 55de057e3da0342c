"""`clara describe pipeline`: the definition as openclara reads it, parsed locally with the server's own parser.

Operators with image and command (or the image's entrypoint), inputs and outputs with their 0.5.0
types, requests and services; notes on what openclara does differently (api-version 0.3.0, orchestrator).
"""

from __future__ import annotations

import shlex
from typing import Any

from platform_server.errors import DefinitionError
from platform_server.pipelines.definition import parse as parse_definition
from platform_server.pipelines.spec import DataType, OperatorSpec


def summarize(files: list[tuple[str, str]]) -> dict[str, Any]:
    """The definition as this openclara reads it (parsed locally, the same code as the server's)."""
    try:
        definition = parse_definition(files)
    except DefinitionError as exc:
        return {"problems": exc.problems}
    notes = []
    if definition.api_version == "0.3.0":
        notes.append("api-version 0.3.0 (Argo in Clara) runs the same way as 0.4.0 here")
    if definition.orchestrator:
        notes.append("orchestrator: openclara runs this pipeline with its own orchestrator "
                     f"(Clara's `{definition.orchestrator}` is not used)")
    return {
        "api_version": definition.api_version,
        "orchestrator": definition.orchestrator,
        "pull_secrets": list(definition.pull_secrets),
        "notes": notes,
        "operators": [_operator_summary(op) for op in definition.operators],
    }


def _data_type(data_type: DataType | None) -> dict[str, Any] | None:
    if data_type is None:
        return None
    return {"type": data_type.type, "element_type": data_type.element_type or None,
            "shape": list(data_type.shape) or None, "format": data_type.format or None}


def _operator_summary(op: OperatorSpec) -> dict[str, Any]:
    return {
        "name": op.name, "image": op.image, "tag": op.tag, "command": list(op.command), "api_version": op.api_version,
        "inputs": [{"path": i.path, "from": i.source, "name": i.name, "type": _data_type(i.data_type)}
                   for i in op.inputs],
        "outputs": [{"path": o.path, "name": o.name, "type": _data_type(o.data_type)} for o in op.outputs],
        "requests": {"cpu": op.requests.cpu, "gpu": op.requests.gpu, "memory_mib": op.requests.memory},
        "services": [{"name": s.name, "image": s.image, "tag": s.tag, "command": list(s.command),
                      "connections": [{"name": c.name, "port": c.port} for c in s.connections]}
                     for s in op.services],
    }


def _type_text(data_type: dict[str, Any] | None) -> str:
    if data_type is None:
        return ""
    element = f"<{data_type['element_type']}>" if data_type["element_type"] else ""
    shape = f"[{','.join(str(d) for d in data_type['shape'])}]" if data_type["shape"] else ""
    fmt = f" format {data_type['format']}" if data_type["format"] else ""
    return f" ({data_type['type']}{element}{shape}{fmt})"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    if "problems" in summary:
        return ["the definition does not parse here:", *(f"  {p}" for p in summary["problems"])]
    lines = [f"api-version {summary['api_version']}", *summary["notes"]]
    if summary["pull_secrets"]:
        lines.append(f"pull-secrets: {', '.join(summary['pull_secrets'])}")
    for op in summary["operators"]:
        lines += _operator_lines(op)
    return lines


def _reference(item: dict[str, Any]) -> str:
    return f"{item['image']}:{item['tag']}" if item["tag"] else str(item["image"])


def _command(item: dict[str, Any]) -> str:
    return shlex.join(item["command"]) if item["command"] else "(image entrypoint)"


def _operator_lines(op: dict[str, Any]) -> list[str]:
    lines = [f"operator {op['name']}: {_reference(op)}", f"  command: {_command(op)}"]
    for i in op["inputs"]:
        source = f"{i['from']}{'.' + i['name'] if i['name'] else ''}" if i["from"] else "job input"
        lines.append(f"  input:  {i['path']} <- {source}{_type_text(i['type'])}")
    lines += [f"  output: {o['name']} {o['path']}{_type_text(o['type'])}" for o in op["outputs"]]
    req = op["requests"]
    lines.append(f"  requests: cpu {req['cpu']:g}, gpu {req['gpu']}, memory {req['memory_mib']} MiB")
    for service in op["services"]:
        connections = ", ".join(f"{c['name']} -> port {c['port']}" for c in service["connections"]) or "none"
        lines.append(f"  service {service['name']}: {_reference(service)}, command: {_command(service)}, "
                     f"connections: {connections}")
    return lines
