"""Every element of Clara's pipeline language: accepted as Clara's users wrote it, or refused with file:line."""

from __future__ import annotations

import pytest

from platform_server.errors import DefinitionError, InvalidArgument
from platform_server.pipelines.definition import parse, resolve
from platform_server.pipelines.resources import memory_mib
from platform_server.pipelines.spec import Connection, Resources

BASE = """\
api-version: 0.4.0
name: demo
operators:
- name: op
  container:
    image: example/op
    tag: "1"
  input:
  - path: /input
  output:
  - path: /output
"""

SERVICE = """\
api-version: 0.4.0
name: ai
operators:
- name: first
  container: {image: example/ai}
  input: [{path: /input}]
  output: [{path: /output}]
  services:
  - name: trtis
    description: inference server
    api-version: 0.4.0
    container:
      image: example/triton
      tag: "19.08"
      command: ["trtserver", "--model-store=$(NVIDIA_CLARA_SERVICE_DATA_PATH)/models"]
    requests: {gpu: 1, memory: 8Gi}
    variables: {LOG: "1"}
    connections:
      http:
      - name: NVIDIA_CLARA_TRTISURI
        port: 8000
"""


def problems(text: str, path: str = "pipeline.yaml") -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse([(path, text)])
    return caught.value.problems


def one_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def test_container_without_command_runs_the_image_entrypoint() -> None:
    op = parse([("p.yaml", BASE)]).operator("op")
    assert op.command == () and op.reference == "example/op:1" and op.api_version == "0.4.0"


def test_container_image_is_required() -> None:
    text = BASE.replace("    image: example/op\n", "")
    assert one_problem(text) == "pipeline.yaml:6: operator 'op': container.image is required"


@pytest.mark.parametrize("version", ["0.3.0", "0.4.0", "0.5.0"])
def test_api_versions_accepted(version: str) -> None:
    assert parse([("p.yaml", BASE.replace("0.4.0", version))]).api_version == version


def test_top_level_description_orchestrator_pull_secrets_variables() -> None:
    head = ("description: a demo\norchestrator: Clara\npull-secrets: [ngc-clara, other]\n"
            "variables: {CLARA_TRACE: 2, SHARED: x}\n")
    definition = parse([("p.yaml", head + BASE)])
    assert definition.description == "a demo" and definition.orchestrator == "Clara"
    assert definition.pull_secrets == ("ngc-clara", "other")
    assert definition.variables == {"CLARA_TRACE": "2", "SHARED": "x"}


def test_pipeline_variables_merge_under_operator_variables_at_resolve() -> None:
    head = "variables: {SHARED: pipeline, ONLY: p}\n"
    text = head + BASE + "  variables: {SHARED: operator}\n"
    op = resolve(parse([("p.yaml", text)]), {}).operator("op")
    assert op.variables == {"SHARED": "operator", "ONLY": "p"}


def test_pipeline_variables_placeholders_must_be_declared() -> None:
    definition = parse([("p.yaml", "parameters: {STAGE: prod}\nvariables: {MODE: '${{STAGE}}'}\n" + BASE)])
    assert resolve(definition, {"STAGE": "dev"}).operator("op").variables == {"MODE": "dev"}
    assert one_problem("variables:\n  MODE: '${{STAGE}}'\n" + BASE) == (
        "pipeline.yaml:2: pipeline `variables`: placeholder ${{STAGE}} is not a declared parameter (parameters: none)")


def test_pull_secrets_must_be_a_list_of_names() -> None:
    assert "`pull-secrets` must be a list" in one_problem("pull-secrets: ngc\n" + BASE)


def test_requests_memory_units_and_millicores() -> None:
    assert [memory_mib(v) for v in (512, "512Mi", "2Gi", "1G", "256M", "1024Ki", "100")] == [
        512, 512, 2048, 954, 245, 1, 100]
    text = BASE + "  requests: {cpu: 500m, gpu: 2, memory: 1Gi}\n"
    assert parse([("p.yaml", text)]).operator("op").requests == Resources(cpu=0.5, gpu=2, memory=1024)


@pytest.mark.parametrize(("requests", "message"), [
    ("{memory: 2GB}", "`requests.memory` must be MiB (4096) or a quantity like '512Mi'"),
    ("{gpu: 0.5}", "`requests.gpu` must be a whole number of GPUs, got 0.5"),
    ("{cpu: lots}", "`requests.cpu` must be a number of cores"),
])
def test_requests_bad_values(requests: str, message: str) -> None:
    assert message in one_problem(BASE + f"  requests: {requests}\n")


def test_services_parse_with_connections_and_keep_dollar_variables() -> None:
    op = parse([("ai.yaml", SERVICE)]).operator("first")
    (service,) = op.services
    assert service.reference == "example/triton:19.08" and service.description == "inference server"
    assert service.command == ("trtserver", "--model-store=$(NVIDIA_CLARA_SERVICE_DATA_PATH)/models")
    assert service.requests == Resources(gpu=1, memory=8192) and service.variables == {"LOG": "1"}
    assert service.connections == (Connection("NVIDIA_CLARA_TRTISURI", 8000),)
    assert service.where == "ai.yaml:9"


@pytest.mark.parametrize(("old", "new", "message"), [
    ("name: NVIDIA_CLARA_TRTISURI", "name: 1-bad", "connection name '1-bad' must be an environment variable name"),
    ("port: 8000", "port: 70000", "`port` must be a number from 1 to 65535, got 70000"),
    ("      image: example/triton\n", "", "service 'trtis': container.image is required"),
])
def test_service_problems(old: str, new: str, message: str) -> None:
    assert message in one_problem(SERVICE.replace(old, new))


def test_same_service_on_two_operators_must_be_identical() -> None:
    second = SERVICE[SERVICE.index("- name: first"):].replace("name: first", "name: second")
    second = second.replace("{path: /input}", "{from: first, path: /input}")
    assert parse([("ai.yaml", SERVICE + second)]).operator("second").services[0].name == "trtis"
    different = second.replace('tag: "19.08"', 'tag: "20.01"')
    assert ("service 'trtis' is defined differently by operators 'first' and 'second'"
            in one_problem(SERVICE + different))


def test_placeholders_everywhere_including_services() -> None:
    text = SERVICE.replace("api-version: 0.4.0\nname: ai\n",
                           "api-version: 0.4.0\nname: ai\nparameters: {TRITON: example/triton, PORT_TAG: '20'}\n", 1)
    text = text.replace("image: example/triton", "image: ${{TRITON}}").replace('tag: "19.08"', "tag: ${{PORT_TAG}}")
    text = text.replace('LOG: "1"', "LOG: '${{PORT_TAG}}'")
    service = resolve(parse([("ai.yaml", text)]), {"PORT_TAG": "21"}).operator("first").services[0]
    assert (service.reference, service.variables["LOG"]) == ("example/triton:21", "21")
    undeclared = text.replace("image: ${{TRITON}}", "image: ${{TRITON_IMAGE}}")
    assert "placeholder ${{TRITON_IMAGE}} is not a declared parameter" in one_problem(undeclared)


def test_operator_parameters_are_defaults_under_pipeline_parameters_and_job_variables() -> None:
    text = ("parameters: {SHARED: pipeline}\n" + BASE
            + "  parameters: {OWN: operator, SHARED: op-default}\n"
            + "  variables: {A: '${{OWN}}', B: '${{SHARED}}'}\n")
    definition = parse([("p.yaml", text)])
    assert resolve(definition, {}).operator("op").variables == {"A": "operator", "B": "pipeline"}
    assert resolve(definition, {"OWN": "job", "SHARED": "job"}).operator("op").variables == {"A": "job", "B": "job"}
    with pytest.raises(InvalidArgument, match="unknown variable"):
        resolve(definition, {"NOPE": "x"})


def test_operator_api_version_and_models_and_timeout() -> None:
    text = BASE.replace("- name: op\n", "- name: op\n  api-version: 0.5.0\n") + "  models: [{name: spleen}]\n"
    op = parse([("p.yaml", text + "  timeout: 60\n")]).operator("op")
    assert (op.api_version, op.models, op.timeout) == ("0.5.0", ("spleen",), 60.0)
    assert "unknown api-version '0.6.0'" in one_problem(text.replace("api-version: 0.5.0\n", "api-version: 0.6.0\n"))


# Every level of the language refuses unknown keys, naming the file, the line and the nearest valid key.
MISSPELLED = [
    (("operators:", "operator:"), "pipeline.yaml:1: unknown key 'operator' in the pipeline document "
                                  "(did you mean 'operators'?)"),
    (("name: demo", "nmae: demo"), "did you mean 'name'?"),
    (("  container:\n", "  contianer:\n"), "operator 'op': unknown key 'contianer' in operator (did you mean "
                                           "'container'?)"),
    (("    image: example/op", "    image: example/op\n    imag: x"), "pipeline.yaml:6: operator 'op': unknown key "
                                                                     "'imag' in container (did you mean 'image'?)"),
    (("  - path: /input", "  - path: /input\n    form: x"), "unknown key 'form' in input (did you mean 'from'?)"),
    (("  - path: /output", "  - path: /output\n    nmae: x"), "unknown key 'nmae' in output (did you mean 'name'?)"),
]


@pytest.mark.parametrize(("change", "message"), MISSPELLED)
def test_misspelled_keys_at_every_level(change: tuple[str, str], message: str) -> None:
    assert any(message in problem for problem in problems(BASE.replace(*change)))


@pytest.mark.parametrize(("old", "new", "message"), [
    ("gpu: 1, memory", "gpus: 1, memory", "unknown key 'gpus' in requests (did you mean 'gpu'?)"),
    ("    description: inference", "    descripton: inference", "unknown key 'descripton' in service (did you mean "
                                                                  "'description'?)"),
    ("      command: [", "      comand: [", "unknown key 'comand' in container (did you mean 'command'?)"),
    ("      http:", "      htp:", "unknown key 'htp' in connections (did you mean 'http'?)"),
    ("        port: 8000", "        prot: 8000", "unknown key 'prot' in connections.http (did you mean 'port'?)"),
    ("    connections:", "    conections:", "unknown key 'conections' in service (did you mean 'connections'?)"),
])
def test_misspelled_keys_in_services(old: str, new: str, message: str) -> None:
    found = problems(SERVICE.replace(old, new))
    assert any(message in problem and "operator 'first': service 'trtis'" in problem for problem in found), found


def test_misspelled_request_key_on_operator_names_line() -> None:
    text = BASE + "  requests:\n    gpus: 1\n"
    assert one_problem(text) == ("pipeline.yaml:13: operator 'op': unknown key 'gpus' in requests "
                                 "(did you mean 'gpu'?)")


def test_unrelated_unknown_key_lists_known_keys() -> None:
    assert "unknown key 'zzz' in container (known: command, image, tag)" in one_problem(
        BASE.replace("    tag: \"1\"", "    tag: \"1\"\n    zzz: 1"))
