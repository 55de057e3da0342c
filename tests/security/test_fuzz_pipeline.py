"""Fuzzing the pipeline definition parser (platform_server/pipelines/definition.py, Clara's language as in
docs/pipeline-language.md): whatever a client sends, `parse` returns a definition or raises
DefinitionError listing the problems; never another exception, and never a long walk (nesting and YAML
aliases are bounded). Generated valid pipelines parse to what was written, and written back, parse again
to the same definition.
"""

from __future__ import annotations

import dataclasses
import string
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from platform_server.errors import DefinitionError
from platform_server.pipelines.definition import PipelineDefinition, parse
from platform_server.pipelines.document import TOP_LEVEL_KEYS
from platform_server.pipelines.operator import OPERATOR_KEYS
from tests.security.fuzzing import fuzzed

NAME = st.text(string.ascii_lowercase + string.digits + "-_.", min_size=1, max_size=20).filter(lambda n: n[0].isalnum())
ENV = st.tuples(
    st.sampled_from(string.ascii_uppercase + "_"), st.text(string.ascii_uppercase + string.digits + "_", max_size=11)
).map("".join)
# Values without control characters: PyYAML itself does not round-trip some (NEL, U+0085, comes back a space).
VALUE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=12)
WORD = st.text(string.ascii_letters + string.digits + "-_./:", min_size=1, max_size=16)


def _parse(document: Any) -> PipelineDefinition | None:
    """parse() of `document` dumped to YAML; None when it is refused (with DefinitionError only)."""
    text = document if isinstance(document, str) else yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    try:
        return parse([("pipeline.yaml", text)])
    except DefinitionError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        return None


@st.composite
def pipelines(draw: st.DrawFn) -> dict[str, Any]:
    """A valid definition: operators in a chain or fan-in, each reading the job's input or earlier outputs."""
    names = draw(st.lists(NAME, min_size=1, max_size=5, unique=True))
    operators = []
    for index, name in enumerate(names):
        sources = draw(st.lists(st.sampled_from(names[:index]), unique=True, max_size=2)) if index else []
        inputs = [{"from": source, "path": f"/input/{k}"} for k, source in enumerate(sources)] or [{"path": "/input"}]
        operator: dict[str, Any] = {
            "name": name,
            "container": {"image": draw(WORD), "tag": draw(WORD), "command": draw(st.lists(WORD, max_size=3))},
            "input": inputs,
            "output": [{"path": "/output"}],
        }
        variables = draw(st.dictionaries(ENV, VALUE, max_size=3))
        if variables:
            operator["variables"] = variables
        operators.append(operator)
    return {"api-version": draw(st.sampled_from(("0.3.0", "0.4.0"))), "name": draw(NAME), "operators": operators}


def _document(definition: PipelineDefinition) -> dict[str, Any]:
    """The definition written back as a pipeline document (the fields `pipelines` generates)."""
    operators = []
    for op in definition.operators:
        operator: dict[str, Any] = {
            "name": op.name,
            "container": {"image": op.image, "tag": op.tag, "command": list(op.command)},
            "input": [{"path": i.path} if i.source is None else {"from": i.source, "path": i.path} for i in op.inputs],
            "output": [{"path": o.path} for o in op.outputs],
        }
        if op.variables:
            operator["variables"] = dict(op.variables)
        operators.append(operator)
    return {"api-version": definition.api_version, "name": definition.name, "operators": operators}


def _without_lines(definition: PipelineDefinition) -> PipelineDefinition:
    return dataclasses.replace(
        definition, operators=tuple(dataclasses.replace(op, where="") for op in definition.operators)
    )


@given(pipelines())
def test_valid_pipelines_parse_to_what_was_written_and_round_trip(document):
    definition = _parse(document)
    assert definition is not None
    assert [op.name for op in definition.operators] == [op["name"] for op in document["operators"]]
    for op, written in zip(definition.operators, document["operators"], strict=True):
        assert (op.image, op.tag, list(op.command)) == tuple(written["container"].values())
        assert [i.source for i in op.inputs] == [i.get("from") for i in written["input"]]
        assert dict(op.variables) == written.get("variables", {})
    assert _document(definition) == document
    again = _parse(_document(definition))
    assert again is not None and _without_lines(again) == _without_lines(definition)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
trees = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
known_keys = st.sampled_from((*TOP_LEVEL_KEYS, *OPERATOR_KEYS, "image", "tag", "command", "from", "path", "import"))


@given(st.dictionaries(known_keys | st.text(max_size=8), trees, max_size=8))
def test_random_structures_are_refused_with_definition_error(document):
    _parse(document)


def _wrong_types(document: dict[str, Any], draw: st.DrawFn) -> Any:
    """`document` with some values, at any depth, replaced by a random tree."""
    if draw(st.integers(0, 3)) == 0:
        return draw(trees)
    result: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            result[key] = _wrong_types(value, draw)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            result[key] = [_wrong_types(item, draw) for item in value]
        else:
            result[key] = draw(trees) if draw(st.integers(0, 4)) == 0 else value
    return result


@given(st.data(), pipelines())
def test_pipelines_with_wrong_types_are_refused_with_definition_error(data, document):
    _parse(_wrong_types(document, data.draw))


def _dumped(document: dict[str, Any]) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode()


@given(fuzzed(pipelines().map(_dumped), max_random=256))
def test_mutated_and_random_yaml_text_is_refused_with_definition_error(data):
    _parse(data.decode("utf-8", "replace"))


@given(st.text(max_size=400))
def test_random_unicode_text_is_refused_with_definition_error(text):
    _parse(text)


@settings(deadline=10_000)  # PyYAML gives up on "[" * 5000 after about a second
@given(st.sampled_from((1, 10, 63, 64, 65, 200, 1000, 5000)), st.sampled_from(("[", "{a: ", "- ")))
def test_deep_nesting_is_refused_quickly(depth, opener):
    closer = {"[": "]", "{a: ": "}", "- ": ""}[opener]
    if opener == "- ":  # block style: the text grows with the square of the depth, so at most 300 levels
        value = "".join(f"\n{'  ' * (level + 1)}- " for level in range(min(depth, 300))) + "x"
    else:
        value = opener * depth + "x" + closer * depth
    definition = _parse(f"api-version: 0.4.0\nname: deep\nparameters:\n  P: {value}\n")
    assert definition is None or depth < 64


@given(st.integers(2, 12), st.integers(1, 14))
def test_alias_bombs_are_refused_quickly(fan_out, levels):
    """The "billion laughs": each level repeats the one before `fan_out` times, in a few hundred bytes."""
    lines = ["lol0: &l0 [lol]"]
    lines += [f"lol{k}: &l{k} [{', '.join([f'*l{k - 1}'] * fan_out)}]" for k in range(1, levels + 1)]
    text = "api-version: 0.4.0\nname: bomb\nparameters:\n" + "".join(f"  {line}\n" for line in lines)
    definition = _parse(text)
    assert definition is None
