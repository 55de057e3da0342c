"""values.yaml, its JSON Schema and the templates agree: a misspelt value fails, a template reads no missing value."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.chart import CHART, GPU_EXAMPLE, helm, values

SCHEMA = CHART / "values.schema.json"
# `.Values.a.b` anywhere (also `.root.Values.a`), and template variables bound to a part of the values.
VALUES_PATH = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
DEFINE = re.compile(r"\{\{-?\s*define\s")
ALIAS = re.compile(r"\{\{-?\s*(\$[A-Za-z_]\w*)\s*:=\s*(\.Values|\$[A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)*)\s*-?\}\}")


def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA.read_text())
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of a values file over the chart's: maps merge, null deletes, the rest replaces."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def test_values_schema_is_valid_draft_07() -> None:
    schema = _schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)


def test_values_schema_accepts_the_defaults_and_the_gpu_example() -> None:
    validator = jsonschema.Draft7Validator(_schema())
    example = yaml.safe_load(GPU_EXAMPLE.read_text())
    for candidate in (values(), _merge(values(), example)):
        errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(candidate)]
        assert errors == []


def test_values_schema_closes_every_section_of_the_chart() -> None:
    """Sections the chart reads are closed (a typo fails); only Kubernetes objects and service configs are open."""
    schema = _schema()
    open_ = {"kubernetesObject", "serviceConfig", "stringMap"}
    assert schema["additionalProperties"] is False
    for name, definition in schema["definitions"].items():
        if definition.get("type") == "object" and name not in open_:
            assert definition["additionalProperties"] is False, name


@pytest.mark.parametrize(("values_yaml", "complaint"), [
    ("dicomAdapter: {servce: {type: LoadBalancer}}", "servce"),
    ("platform: {executor: kubernetess}", "executor"),
    ("platform: {operators: {gpuToleration: []}}", "gpuToleration"),
    ("platform: {operators: {gpuTolerations: [{key: nvidia.com/gpu, efect: NoSchedule}]}}", "efect"),
    ("dicomAdapter: {service: {type: External}}", "type"),
    ("image: {tag: 1.0}", "tag"),
    ("sharedVolume: {size: 100GB}", "size"),
    ("imagePullSecrets: [{name: regcred}]", "imagePullSecrets"),
    (f"auth: {{apiKeys: [{{name: ci, role: superuser, sha256: {'a' * 64}}}]}}", "role"),
    (f"auth: {{apiKeys: [{{name: ci, role: operator, sha256: {'g' * 64}}}]}}", "sha256"),
    ("auth: {apiKeys: [{name: ci, role: operator, sha256: my-secret-token}]}", "sha256"),
    ("auth: {trustedClients: [{network: 10.0.0.0/8}]}", "role"),
    ("auth: {trustedClients: [{network: 10.0.0.0/8, role: readonly}]}", "role"),
    ("auth: {existingSecret: My_Secret}", "existingSecret"),
    ("auth: {enable: false}", "enable"),
    ("dicomAdapter: {tls: {secretName: dicom-cert, clientCertificate: true}}", "clientCertificate"),
    ("dicomAdapter: {tls: {secretName: Dicom_Cert}}", "secretName"),
    ("dicomAdapter: {tls: {secretName: dicom-cert, required: yes please}}", "required"),
    ("dicomAdapter: {tls: {nodePort: 70000}}", "nodePort"),
    ("dicomAdapter: {handOff: sometimes}", "handOff"),
], ids=["typo", "enum", "operators-typo", "toleration-typo", "service-type", "unquoted-tag", "quantity",
        "secret-shape", "api-key-role", "api-key-not-hex", "api-key-token-not-digest", "trusted-without-role",
        "trusted-role", "existing-secret-name", "auth-typo", "tls-typo", "tls-secret-name", "tls-required",
        "tls-node-port", "hand-off"])
def test_helm_refuses_values_the_schema_does_not_allow(values_yaml: str, complaint: str, tmp_path: Path) -> None:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(values_yaml)
    result = helm("template", "clara", str(CHART), "-f", str(values_file), check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert complaint in result.stderr


def _template_value_paths(text: str) -> set[str]:
    """Every values path a template reads: `.Values.a.b`, and `$v.c` where `$v := .Values.a` (or another alias).

    Variables live until the end of their `define`, so each define is read on its own.
    """
    return set().union(*(_block_value_paths(block) for block in DEFINE.split(text)))


def _block_value_paths(text: str) -> set[str]:
    aliases: dict[str, str] = {}
    for name, base, rest in ALIAS.findall(text):
        prefix = "" if base == ".Values" else aliases.get(base)
        if prefix is not None:
            aliases[name] = f"{prefix}{rest}"
    paths = {match.lstrip(".") for match in VALUES_PATH.findall(text)}
    for name, prefix in aliases.items():
        for rest in re.findall(re.escape(name) + r"((?:\.[A-Za-z_]\w*)+)", text):
            paths.add(f"{prefix}{rest}".lstrip("."))
    return paths


def _defined(data: Any, path: str) -> bool:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def test_template_value_paths_finds_values_and_aliases_per_define() -> None:
    text = ("{{- $v := .Values.platform }}{{- $o := $v.operators }}{{ $o.nodeSelector }} "
            "{{ .root.Values.keep }} {{ .Values.image.tag | default .Chart.AppVersion }}"
            '{{- define "x" }}{{- $v := .Values.results }}{{ $v.port }}{{- end }}')
    assert _template_value_paths(text) == {"platform", "platform.operators", "platform.operators.nodeSelector",
                                           "keep", "image.tag", "results", "results.port"}


def test_templates_read_only_values_that_values_yaml_defines() -> None:
    defaults = values()
    missing = {}
    for template in sorted((CHART / "templates").iterdir()):
        paths = _template_value_paths(template.read_text())
        if unknown := sorted(p for p in paths if not _defined(defaults, p)):
            missing[template.name] = unknown
    assert missing == {}


def test_templates_read_the_values_of_every_section() -> None:
    """The path finder sees the templates at all: every top-level section of values.yaml is read somewhere."""
    read = set().union(*(_template_value_paths(t.read_text()) for t in (CHART / "templates").iterdir()))
    assert {path.split(".")[0] for path in read} >= set(values()) - {"nameOverride", "fullnameOverride"}
