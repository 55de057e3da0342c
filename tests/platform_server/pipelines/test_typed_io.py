"""0.5.0 typed inputs and outputs: validation against Clara's types, link checks, and the operator environment."""

from __future__ import annotations

import json

import pytest

from platform_server.errors import DefinitionError
from platform_server.pipelines.definition import parse
from platform_server.pipelines.spec import DataType, OperatorSpec
from platform_server.pipelines.typed_io import INPUT_TYPES_VARIABLE, OUTPUT_TYPES_VARIABLE, io_environment

TYPED = """\
api-version: 0.5.0
name: typed
operators:
- name: producer
  container: {image: example/producer}
  input:
  - path: /input
    type: stream
    element-type: dicom
    format: dicom
  output:
  - name: volume
    path: /output
    type: array
    element-type: float32
    shape: [3, 224, -1]
- name: consumer
  container: {image: example/consumer}
  input:
  - from: producer
    name: volume
    path: /input
    type: array
    element-type: f32
    shape: [-1, 224, 224]
  output:
  - path: /output
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse([("typed.yaml", text)])
    return caught.value.problems


def test_typed_fields_parse_into_data_types() -> None:
    definition = parse([("typed.yaml", TYPED)])
    producer = definition.operator("producer")
    assert producer.inputs[0].data_type == DataType("stream", "dicom", (), "dicom")
    assert producer.outputs[0].data_type == DataType("array", "float32", (3, 224, -1))
    assert definition.operator("consumer").outputs[0].data_type is None


def test_io_environment_lists_typed_entries_as_json() -> None:
    definition = parse([("typed.yaml", TYPED)])
    env = io_environment(definition.operator("consumer"))
    assert set(env) == {INPUT_TYPES_VARIABLE}  # its output is untyped
    assert json.loads(env[INPUT_TYPES_VARIABLE]) == [{
        "name": "volume", "from": "producer", "path": "/input", "type": "array", "element-type": "f32",
        "shape": [-1, 224, 224], "format": None,
    }]
    outputs = json.loads(io_environment(definition.operator("producer"))[OUTPUT_TYPES_VARIABLE])
    assert outputs == [{"name": "volume", "path": "/output", "type": "array", "element-type": "float32",
                        "shape": [3, 224, -1], "format": None}]


def test_untyped_operator_gets_no_environment() -> None:
    assert io_environment(OperatorSpec(name="plain")) == {}


def test_strings_and_primitives_take_no_element_type_or_shape() -> None:
    text = TYPED.replace("  - path: /output\n", "  - path: /output\n    type: string\n")
    assert parse([("typed.yaml", text)]).operator("consumer").outputs[0].data_type == DataType("string")
    text = TYPED.replace("  - path: /output\n", "  - path: /output\n    type: u16\n")
    assert parse([("typed.yaml", text)]).operator("consumer").outputs[0].data_type == DataType("u16")
    bad = TYPED.replace("  - path: /output\n", "  - path: /output\n    type: string\n    shape: [1]\n")
    assert any("type 'string' takes no `shape`" in p for p in problems(bad))


@pytest.mark.parametrize(("old", "new", "message"), [
    ("type: array\n    element-type: float32", "type: tensor\n    element-type: float32", "`type` must be one of"),
    ("element-type: float32", "element-type: float128", "unknown element-type 'float128' for an array"),
    ("    element-type: float32\n", "", "type 'array' needs an `element-type`"),
    ("shape: [3, 224, -1]", "shape: [3, 0]", "an array needs a `shape`: a list of positive integers or -1"),
    ("shape: [3, 224, -1]", "shape: []", "an array needs a `shape`"),
    ("    element-type: dicom\n", "", "type 'stream' needs an `element-type`"),
    ("    type: stream\n", "", "`element-type`, `format` needs a `type` (array, string, stream or a primitive)"),
])
def test_invalid_types_are_refused(old: str, new: str, message: str) -> None:
    found = problems(TYPED.replace(old, new, 1))
    assert any(message in p and p.startswith("typed.yaml:") for p in found), found


def test_typed_io_needs_api_version_050() -> None:
    found = problems(TYPED.replace("api-version: 0.5.0", "api-version: 0.4.0"))
    assert any("typed I/O (type, element-type, format) needs api-version 0.5.0 (this operator's api-version is "
               "0.4.0)" in p for p in found), found
    # ... unless the operator itself is written for 0.5.0.
    text = TYPED.replace("api-version: 0.5.0", "api-version: 0.4.0").replace(
        "- name: producer\n", "- name: producer\n  api-version: 0.5.0\n").replace(
        "    type: array\n    element-type: f32\n    shape: [-1, 224, 224]\n", "")
    assert parse([("typed.yaml", text)]).operator("producer").api_version == "0.5.0"


def test_typed_entry_without_path_is_refused_as_shared_memory() -> None:
    found = problems(TYPED.replace("    path: /output\n    type: array", "    type: array", 1))
    assert any("shared-memory I/O is not supported" in p for p in found), found


def test_input_type_must_match_the_output_it_reads() -> None:
    found = problems(TYPED.replace("element-type: f32", "element-type: int32"))
    assert found == ["typed.yaml:17: operator 'consumer': input '/input' expects array<int32>[-1,224,224] "
                     "but output 'volume' of 'producer' is array<float32>[3,224,-1]"]
    assert problems(TYPED.replace("shape: [-1, 224, 224]", "shape: [224, 224]"))
