"""`import: {path, args}` across the files of one Create call: operators, services, overrides, errors."""

from __future__ import annotations

import pytest

from platform_server.errors import DefinitionError
from platform_server.pipelines.definition import parse, resolve

PIPELINE = """\
api-version: 0.4.0
name: imported
parameters: {STAGE: prod}
operators:
- import:
    path: operators/reader.yaml
    args: {TAG: "2.0", LEVEL: "${{STAGE}}"}
- import: {path: operators/reader.yaml}
  name: second-reader
- name: ai
  container: {image: example/ai}
  input: [{from: reader, path: /in}]
  output: [{path: /out}]
  services:
  - import: {path: services/triton.yaml}
"""

READER = """\
api-version: 0.5.0
name: reader
description: reads DICOM
parameters:
  TAG: "1.0"
  LEVEL: debug
container:
  image: example/reader
  tag: ${{TAG}}
variables: {LOG_LEVEL: "${{LEVEL}}"}
input: [{path: /input}]
output: [{path: /output}]
"""

TRITON = """\
name: triton
container: {image: example/triton, tag: "19.08", command: [trtserver]}
connections:
  http: [{name: NVIDIA_CLARA_TRTISURI, port: 8000}]
"""

FILES = [("pipelines/main.yaml", PIPELINE), ("pipelines/operators/reader.yaml", READER),
         ("pipelines/services/triton.yaml", TRITON)]


def problems(files: list[tuple[str, str]]) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse(files)
    return caught.value.problems


def test_import_inserts_operators_resolved_from_args_over_defaults() -> None:
    definition = parse(FILES)
    assert definition.name == "imported"  # the imported files' `name` is the operator's, not the pipeline's
    assert [op.name for op in definition.operators] == ["reader", "second-reader", "ai"]
    reader, second = definition.operator("reader"), definition.operator("second-reader")
    assert (reader.reference, second.reference) == ("example/reader:2.0", "example/reader:1.0")
    assert reader.api_version == "0.5.0" and reader.description == "reads DICOM"
    assert reader.where == "pipelines/operators/reader.yaml:1"
    assert reader.variables == {"LOG_LEVEL": "${{STAGE}}"}  # the importing pipeline's placeholder, resolved at start
    assert resolve(definition, {"STAGE": "test"}).operator("reader").variables == {"LOG_LEVEL": "test"}
    assert definition.operator("ai").services[0].reference == "example/triton:19.08"


def test_clara_cli_sends_base_names_and_they_still_resolve() -> None:
    files = [("main.yaml", PIPELINE), ("reader.yaml", READER), ("triton.yaml", TRITON)]
    assert len(parse(files).operators) == 3


def test_missing_import_names_file_line_and_files_sent() -> None:
    found = problems(FILES[:1] + FILES[2:])
    assert ("pipelines/main.yaml:6: imports 'operators/reader.yaml', which is not among the files sent (files: "
            "pipelines/main.yaml, pipelines/services/triton.yaml)") in found


def test_import_cycle_is_an_error() -> None:
    one = "operators:\n- import: {path: two.yaml}\n"
    two = "api-version: 0.4.0\nname: two\noperators:\n- import: {path: one.yaml}\n"
    main = "api-version: 0.4.0\nname: main\noperators:\n- import: {path: one.yaml}\n"
    found = problems([("main.yaml", main), ("one.yaml", one), ("two.yaml", two)])
    assert any("two.yaml:4: import cycle: one.yaml -> two.yaml -> one.yaml" in p for p in found), found


def test_unknown_argument_and_misspelled_import_key() -> None:
    bad = PIPELINE.replace('args: {TAG: "2.0"', 'args: {TAGG: "2.0"').replace(
        "- import: {path: operators/reader.yaml}", "- import: {path: operators/reader.yaml, arg: {}}")
    found = problems([("pipelines/main.yaml", bad), *FILES[1:]])
    assert any("argument 'TAGG' is not one of its parameters (LEVEL, TAG)" in p for p in found), found
    assert any("unknown key 'arg' in import (did you mean 'args'?)" in p for p in found), found


def test_importing_a_pipeline_shaped_file_inserts_all_its_operators() -> None:
    shared = ("api-version: 0.4.0\nname: ignored\nparameters: {IMG: example/x}\noperators:\n"
              "- name: a\n  container: {image: '${{IMG}}'}\n  output: [{path: /out}]\n"
              "- name: b\n  container: {image: '${{IMG}}'}\n  input: [{from: a, path: /in}]\n")
    main = "api-version: 0.4.0\nname: main\noperators:\n- import: {path: shared.yaml, args: {IMG: example/y}}\n"
    definition = parse([("main.yaml", main), ("shared.yaml", shared)])
    assert [op.reference for op in definition.operators] == ["example/y", "example/y"]
    assert definition.name == "main"
