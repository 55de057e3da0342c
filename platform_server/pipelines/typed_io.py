"""Typed inputs and outputs (api-version 0.5.0+): the Clara types, their validation, and the operator environment.

Clara's "Structures and Primitives": `type` is one of
- `array`: `element-type` (a primitive below) and `shape` are required; `shape` is a list of positive
  integers, `-1` meaning "any length" in that dimension;
- `string`: an implicitly dynamic array of bytes; no `element-type`, no `shape`;
- `stream`: a volume of files; `element-type` is required and free-form (e.g. `dicom`); no `shape`;
- a primitive (`uint8`/`u8` ... `float64`/`f64`): a single value; no `element-type`, no `shape`.
`format` (e.g. `dicom`) is accepted on any typed entry and passed on verbatim.

openclara passes data through folders only, so every typed entry still needs a `path` (Clara's
shared-memory entries without one are refused). The types are not enforced on the data: they are
checked in the definition (a typed input must match the typed output it reads, `-1` matching any
length, `f32` being `float32`) and handed to the operator, which is how a typed operator learns them:

- `NVIDIA_CLARA_INPUTTYPES`: JSON list, one object per *typed* input, in declaration order:
  `{"name": <output name read, or null>, "from": <operator, or null>, "path": "/in",
    "type": "array", "element-type": "float32", "shape": [3, -1], "format": null}`
  (absent values are null; `shape` is null unless declared).
- `NVIDIA_CLARA_OUTPUTTYPES`: the same for typed outputs (`from` omitted).
Neither variable is set when no entry on that side is typed (`io_environment` returns `{}` for an
untyped operator).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from platform_server.pipelines.problems import Problems, line_of
from platform_server.pipelines.spec import DataType, InputSpec, OperatorSpec, OutputSpec

TYPED_FIELDS = ("type", "element-type", "shape", "format")
PRIMITIVES = {
    "u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64",
    "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64",
    "f16": "float16", "f32": "float32", "f64": "float64",
}
PRIMITIVE_TYPES = frozenset(PRIMITIVES) | frozenset(PRIMITIVES.values())
STRUCTURES = ("array", "string", "stream")
TYPES = frozenset(STRUCTURES) | PRIMITIVE_TYPES
TYPED_API_VERSION = (0, 5, 0)
INPUT_TYPES_VARIABLE = "NVIDIA_CLARA_INPUTTYPES"
OUTPUT_TYPES_VARIABLE = "NVIDIA_CLARA_OUTPUTTYPES"


def version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return ()


def parse_data_type(entry: dict[str, Any], api_version: str, problems: Problems, what: str) -> DataType | None:
    """DataType of one input/output entry, or None when it has no typed field (or they are invalid)."""
    if not any(key in entry for key in TYPED_FIELDS):
        return None
    line = line_of(entry, problems.line)
    if version_tuple(api_version) < TYPED_API_VERSION:
        problems.add(f"{what}: typed I/O ({', '.join(k for k in TYPED_FIELDS if k in entry)}) needs api-version "
                     f"0.5.0 (this operator's api-version is {api_version or 'unknown'})", line)
        return None
    before = problems.count
    kind = entry.get("type")
    if kind is None:
        given = ", ".join(f"`{k}`" for k in TYPED_FIELDS if k in entry)
        problems.add(f"{what}: {given} needs a `type` (array, string, stream or a primitive)", line)
        return None
    if not isinstance(kind, str) or kind not in TYPES:
        problems.add(f"{what}: `type` must be one of {', '.join(sorted(STRUCTURES))} or a primitive "
                     f"({', '.join(sorted(PRIMITIVES.values()))}), got {kind!r}", line)
        return None
    element = _element_type(kind, entry.get("element-type"), problems, line, what)
    shape = _shape(kind, entry.get("shape"), problems, line, what)
    fmt = entry.get("format")
    if fmt is not None and (not isinstance(fmt, str) or not fmt):
        problems.add(f"{what}: `format` must be a non-empty string, got {fmt!r}", line)
    if problems.count != before:
        return None
    return DataType(type=kind, element_type=element, shape=shape, format=fmt or "")


def _element_type(kind: str, value: Any, problems: Problems, line: int, what: str) -> str:
    if kind in ("array", "stream"):
        if not isinstance(value, str) or not value:
            problems.add(f"{what}: type {kind!r} needs an `element-type`", line)
            return ""
        if kind == "array" and value not in PRIMITIVE_TYPES:
            problems.add(f"{what}: unknown element-type {value!r} for an array "
                         f"(known: {', '.join(sorted(PRIMITIVES.values()))})", line)
        return value
    if value is not None:
        problems.add(f"{what}: type {kind!r} takes no `element-type`", line)
    return ""


def _shape(kind: str, value: Any, problems: Problems, line: int, what: str) -> tuple[int, ...]:
    if kind != "array":
        if value is not None:
            problems.add(f"{what}: type {kind!r} takes no `shape` (only arrays have one)", line)
        return ()
    valid = isinstance(value, list) and bool(value) and all(
        isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == -1) for d in value)
    if not valid:
        problems.add(f"{what}: an array needs a `shape`: a list of positive integers or -1 (any length), "
                     f"got {value!r}", line)
        return ()
    return tuple(value)


def _canonical(name: str) -> str:
    return PRIMITIVES.get(name, name)


def compatible(written: DataType, read: DataType) -> bool:
    """Whether an input's declared type accepts what the upstream output declares (-1 matches any length)."""
    if _canonical(written.type) != _canonical(read.type):
        return False
    if _canonical(written.element_type) != _canonical(read.element_type):
        return False
    if len(written.shape) != len(read.shape):
        return False
    return all(a == b or -1 in (a, b) for a, b in zip(written.shape, read.shape, strict=True))


def show(data_type: DataType) -> str:
    """Clara's short-hand: `array<float32>[3,-1]`, `stream<dicom>`, `string`, `float32`."""
    element = f"<{data_type.element_type}>" if data_type.element_type else ""
    shape = f"[{','.join(str(d) for d in data_type.shape)}]" if data_type.shape else ""
    fmt = f" format {data_type.format}" if data_type.format else ""
    return f"{data_type.type}{element}{shape}{fmt}"


def check_links(operators: Sequence[OperatorSpec], problems: list[str]) -> None:
    """Typed pipelines can be checked before they run: a typed input must match the typed output it reads."""
    by_name = {op.name: op for op in operators}
    for op in operators:
        for item in op.inputs:
            upstream = by_name.get(item.source or "")
            if item.data_type is None or upstream is None:
                continue
            output = next((o for o in upstream.outputs if o.name == item.name or item.name is None), None)
            if output is None or output.data_type is None or compatible(output.data_type, item.data_type):
                continue
            problems.append(f"{op.where}: operator {op.name!r}: input {item.path!r} expects {show(item.data_type)} "
                            f"but output {output.name!r} of {upstream.name!r} is {show(output.data_type)}")


def _describe(item: InputSpec | OutputSpec, data_type: DataType) -> dict[str, Any]:
    return {
        "name": item.name,
        "path": item.path,
        "type": data_type.type,
        "element-type": data_type.element_type or None,
        "shape": list(data_type.shape) if data_type.shape else None,
        "format": data_type.format or None,
    }


def io_environment(op: OperatorSpec) -> dict[str, str]:
    """The environment variables telling an operator the declared types of its inputs and outputs."""
    inputs = [{**_describe(i, i.data_type), "from": i.source} for i in op.inputs if i.data_type is not None]
    outputs = [_describe(o, o.data_type) for o in op.outputs if o.data_type is not None]
    env: dict[str, str] = {}
    if inputs:
        env[INPUT_TYPES_VARIABLE] = json.dumps(inputs, separators=(",", ":"))
    if outputs:
        env[OUTPUT_TYPES_VARIABLE] = json.dumps(outputs, separators=(",", ":"))
    return env
