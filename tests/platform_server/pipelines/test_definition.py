"""Parsing and validating pipeline definitions, with file/line in errors."""

from __future__ import annotations

import pytest

from platform_server.errors import DefinitionError, InvalidArgument
from platform_server.pipelines.definition import parse, resolve

GOOD = """\
api-version: 0.4.0
name: demo
parameters:
  GREETING: hello
  TARGET:
operators:
- name: reader
  container:
    image: reader
    tag: "1.0"
    command: [python, reader.py, "${{GREETING}}"]
  input:
  - path: /input
  output:
  - path: /output
- name: left
  container: {image: x, command: [python, left.py]}
  input: [{from: reader, path: /in}]
  output: [{path: /out, name: seg}]
  requests: {gpu: 1, cpu: 2, memory: 4096}
  variables: {CLARA_TRACE: 2, FLAG: true}
  timeout: 30
- name: right
  container: {image: x, command: "python right.py --fast"}
  input: [{from: reader, path: /in}]
  output: [{path: /out}]
- name: join
  container: {image: x, command: [python, join.py, "${{TARGET}}"]}
  input: [{from: left, name: seg, path: /l}, {from: right, path: /r}]
"""


def problems(text: str, path: str = "pipeline.yaml") -> str:
    with pytest.raises(DefinitionError) as caught:
        parse([(path, text)])
    return str(caught.value)


def test_parse_reads_operators_requests_and_variables() -> None:
    definition = parse([("pipeline.yaml", GOOD)])
    assert definition.name == "demo" and definition.api_version == "0.4.0"
    left = definition.operator("left")
    assert left.requests.gpu == 1 and left.requests.memory == 4096 and left.timeout == 30
    assert left.variables == {"CLARA_TRACE": "2", "FLAG": "true"}
    assert definition.operator("right").command == ("python", "right.py", "--fast")
    assert definition.operator("reader").tag == "1.0"
    assert definition.dag.order() == ["reader", "left", "right", "join"]


def test_resolve_substitutes_variables_over_defaults() -> None:
    definition = resolve(parse([("p.yaml", GOOD)]), {"TARGET": "pacs"})
    assert definition.operator("reader").command[-1] == "hello"
    assert definition.operator("join").command[-1] == "pacs"


def test_resolve_rejects_unknown_variable_and_missing_parameter() -> None:
    definition = parse([("p.yaml", GOOD)])
    with pytest.raises(InvalidArgument, match=r"unknown variable\(s\) NOPE: the pipeline's parameters are GREETING"):
        resolve(definition, {"NOPE": "1", "TARGET": "x"})
    with pytest.raises(InvalidArgument, match=r"parameter\(s\) TARGET have no default"):
        resolve(definition, {})


def test_invalid_yaml_names_file_and_line() -> None:
    text = "api-version: 0.4.0\nname: demo\noperators:\n- name: a\n  container: {image: x\n"
    assert problems(text).startswith("pipeline.yaml:6: invalid YAML:")


def test_unknown_from_names_operator_and_known_ones() -> None:
    text = GOOD.replace("{from: right, path: /r}", "{from: rigth, path: /r}")
    assert problems(text) == ("pipeline.yaml:27: operator 'join': input '/r' reads from unknown operator 'rigth' "
                              "(operators: join, left, reader, right)")


def test_cycle_is_named_in_data_flow_order() -> None:
    text = """\
api-version: 0.5.0
name: loop
operators:
- name: a
  container: {image: x, command: [a]}
  input: [{from: c, path: /in}]
  output: [{path: /out}]
- name: b
  container: {image: x, command: [b]}
  input: [{from: a, path: /in}]
  output: [{path: /out}]
- name: c
  container: {image: x, command: [c]}
  input: [{from: b, path: /in}]
  output: [{path: /out}]
"""
    assert problems(text) == "pipeline.yaml:4: operators form a cycle: a -> b -> c -> a"


def test_duplicate_operator_names() -> None:
    text = GOOD.replace("- name: right", "- name: left")
    found = problems(text)
    assert "pipeline.yaml:23: operator 'left': duplicate operator name (first defined at pipeline.yaml:16)" in found


def test_missing_command_means_the_image_entrypoint() -> None:
    text = GOOD.replace('command: "python right.py --fast"', "tag: '2'")
    assert parse([("pipeline.yaml", text)]).operator("right").command == ()


def test_missing_image_points_at_container() -> None:
    text = GOOD.replace('{image: x, command: "python right.py --fast"}', '{command: "python right.py --fast"}')
    assert problems(text) == "pipeline.yaml:24: operator 'right': container.image is required"


def test_unknown_api_version_and_missing_name() -> None:
    text = GOOD.replace("api-version: 0.4.0", "api-version: 0.9.0").replace("name: demo\n", "")
    found = problems(text)
    assert "unknown api-version '0.9.0' (supported: 0.3.0, 0.4.0, 0.5.0)" in found
    assert "pipeline.yaml:1: the pipeline has no `name`" in found


def test_undeclared_placeholder_is_an_error() -> None:
    text = GOOD.replace("${{TARGET}}", "${{TRAGET}}")
    assert ("operator 'join': placeholder ${{TRAGET}} is not a declared parameter (parameters: GREETING, TARGET)"
            in problems(text))


def test_unknown_operator_key_and_bad_values_reported_together() -> None:
    text = GOOD.replace("  timeout: 30", "  timeout: -1\n  comand: [x]")
    found = problems(text).splitlines()
    assert any("unknown key 'comand'" in line for line in found)
    assert any("`timeout` must be a positive number of seconds (got -1)" in line for line in found)


def test_input_must_name_output_when_upstream_has_several() -> None:
    two_outputs = "  output: [{path: /out, name: seg}, {path: /o2, name: b}]"
    text = GOOD.replace("  output: [{path: /out, name: seg}]", two_outputs)
    text = text.replace("{from: left, name: seg, path: /l}", "{from: left, path: /l}")
    assert "must name which output of 'left' it reads (2 outputs declared)" in problems(text)


def test_several_files_form_one_pipeline_and_chunks_concatenate() -> None:
    head = "api-version: 0.4.0\nname: split\noperators:\n- name: a\n  container: {image: x, command: [a]}\n"
    tail = "  output: [{path: /out}]\n"
    other = "operators:\n- name: b\n  container: {image: x, command: [b]}\n  input: [{from: a, path: /in}]\n"
    definition = parse([("main.yaml", head + tail), ("more.yaml", other)])
    assert [op.name for op in definition.operators] == ["a", "b"]
    assert definition.operator("b").where == "more.yaml:2"


def test_files_disagreeing_on_name_are_rejected() -> None:
    one = "api-version: 0.4.0\nname: x\noperators:\n- name: a\n  container: {image: x, command: [a]}\n"
    two = "name: y\n"
    with pytest.raises(DefinitionError, match="the files disagree on `name`: x, y"):
        parse([("a.yaml", one), ("b.yaml", two)])


def test_empty_definition() -> None:
    with pytest.raises(DefinitionError, match="the pipeline definition is empty"):
        parse([])
    assert problems("[1, 2]") == "pipeline.yaml:1: the top level must be a mapping (api-version, name, operators ...)"
