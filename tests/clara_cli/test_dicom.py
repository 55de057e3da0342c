from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from clara_cli import dicom
from clara_cli.main import cli


@pytest.fixture
def api(monkeypatch, clara_home):
    """A mock adapter API: records requests, answers from `responses` (path -> (status, body))."""
    seen: list[httpx.Request] = []
    responses: dict[tuple[str, str], tuple[int, object]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = responses.get((request.method, request.url.path), (404, {"detail": "not found"}))
        return httpx.Response(status, json=body)

    monkeypatch.setattr(dicom, "http_client", lambda timeout=30.0: httpx.Client(transport=httpx.MockTransport(handler)))
    return seen, responses


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_create_aetitle_posts_clara_json(api):
    seen, responses = api
    responses[("POST", "/api/config/claraaetitle")] = (201, {"aeTitle": "CLARA", "warnings": ["pipeline unknown"]})
    result = run("dicom", "create", "aetitle", "-a", "CLARA", "pipeline-seg=abc", "timeout=3", "priority=higher")
    assert result.exit_code == 0, result.output
    body = json.loads(seen[0].content)
    assert body["aeTitle"] == "CLARA"
    assert body["processorSettings"] == {"pipeline-seg": "abc", "timeout": "3", "priority": "higher"}
    assert "warning: pipeline unknown" in result.output


def test_create_aetitle_rejects_malformed_setting(api):
    result = run("dicom", "create", "aetitle", "-a", "CLARA", "pipeline-seg")
    assert result.exit_code == 1
    assert "expected KEY=VALUE" in result.output


def test_create_src_and_dest(api):
    seen, responses = api
    responses[("POST", "/api/config/sourceaetitle")] = (201, {"aeTitle": "PACS", "hostIp": "10.0.0.1"})
    responses[("POST", "/api/config/destinationaetitle")] = (201, {"name": "OUT"})
    assert run("dicom", "create", "src", "-a", "PACS", "-i", "10.0.0.1").exit_code == 0
    assert run("dicom", "create", "dest", "-n", "OUT", "-a", "PACS", "-i", "10.0.0.1", "-p", "104").exit_code == 0
    assert json.loads(seen[1].content) == {"name": "OUT", "aeTitle": "PACS", "hostIp": "10.0.0.1", "port": 104}


def test_create_dest_with_dicom_tls(api):
    seen, responses = api
    responses[("POST", "/api/config/destinationaetitle")] = (201, {"name": "OUT"})
    base = ["dicom", "create", "dest", "-n", "OUT", "-a", "PACS", "-i", "10.0.0.1", "-p", "2762"]
    assert run(*base, "--ca-file", "/etc/clara/ca.pem", "--server-name", "pacs.example.org").exit_code == 0
    assert json.loads(seen[0].content)["tls"] == {"enabled": True, "caFile": "/etc/clara/ca.pem",
                                                  "serverName": "pacs.example.org"}
    assert run(*base, "--tls").exit_code == 0
    assert json.loads(seen[1].content)["tls"] == {"enabled": True}


def test_problem_detail_is_shown_on_one_line(api):
    _, responses = api
    responses[("POST", "/api/config/sourceaetitle")] = (400, {"title": "Validation error.", "detail": "hostIp: bad"})
    result = run("dicom", "create", "src", "-a", "PACS", "-i", "x y")
    assert result.exit_code == 1
    assert "error: hostIp: bad (HTTP 400)" in result.output


def test_list_aetitles_json_follows_the_cli_convention(api):
    """snake_case keys, numbers as numbers, processorSettings unpacked once (not repeated at the top level)."""
    _, responses = api
    entity = {"name": "CLARA", "aeTitle": "CLARA", "overwriteSameInstance": False,
              "processorSettings": {"timeout": "5", "groupBy": "0020,000D", "priority": "normal",
                                    "jobRetryDelay": "5000", "pipeline-seg": "p1"}}
    responses[("GET", "/api/config/claraaetitle")] = (200, [entity])
    result = run("-O", "json", "dicom", "list", "aetitles")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{
        "name": "CLARA", "ae_title": "CLARA", "overwrite_same_instance": False, "pipelines": {"seg": "p1"},
        "timeout": 5, "group_by": "0020,000D", "priority": "normal", "job_retry_delay_ms": 5000,
    }]


def test_list_aetitles_table_shows_pipelines_as_pairs(api, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    _, responses = api
    entity = {"name": "CLARA", "aeTitle": "CLARA", "processorSettings": {"timeout": "5", "pipeline-seg": "p1"}}
    responses[("GET", "/api/config/claraaetitle")] = (200, [entity])
    result = run("dicom", "list", "aetitles")
    assert "seg=p1" in result.output and "AE TITLE" in result.output


def test_echo_shows_the_real_reason_of_a_failure(api):
    _, responses = api
    message = "PACS@127.0.0.1:4242: no association (cannot connect to 127.0.0.1:4242: Connection refused)"
    responses[("POST", "/api/config/destinationaetitle/OUT/cecho")] = (502, {"success": False, "message": message})
    result = run("dicom", "echo", "-n", "OUT")
    assert result.exit_code == 1
    assert result.stderr == f"error: C-ECHO to OUT failed: {message}\n"


def test_echo_of_an_unknown_destination_or_a_refused_token(api):
    _, responses = api
    responses[("POST", "/api/config/destinationaetitle/OUT/cecho")] = (401, {"title": "Unauthorized"})
    assert run("dicom", "echo", "-n", "OUT").stderr == "error: Unauthorized (HTTP 401)\n"
    assert run("dicom", "echo", "-n", "NOPE").stderr == "error: not found (HTTP 404)\n"


def test_echo_success(api):
    _, responses = api
    body = {"success": True, "message": "C-ECHO succeeded", "elapsedMs": 3.2}
    responses[("POST", "/api/config/destinationaetitle/OUT/cecho")] = (200, body)
    result = run("dicom", "echo", "-n", "OUT")
    assert (result.exit_code, result.stdout) == (0, "C-ECHO succeeded (3 ms)\n")


def test_delete_src(api):
    seen, responses = api
    responses[("DELETE", "/api/config/sourceaetitle/PACS")] = (200, {"aeTitle": "PACS"})
    assert run("dicom", "delete", "src", "-n", "PACS").exit_code == 0
    assert seen[0].method == "DELETE"


def test_commands_say_clearly_when_the_adapter_is_down(monkeypatch, clara_home):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    monkeypatch.setattr(dicom, "http_client", lambda timeout=30.0: httpx.Client(transport=httpx.MockTransport(refuse)))
    result = run("dicom", "list", "sources")
    assert result.exit_code == 1
    assert "DICOM adapter is not reachable" in result.output
    assert "start it with `clara dicom start`, or the whole stack with `scripts/run`" in result.output
    status = run("dicom", "status")
    assert status.exit_code == 1 and "ANSWERING  False" in status.output


@pytest.mark.parametrize(
    ("alias", "path"),
    [
        *[(a, "/api/config/claraaetitle") for a in ("aet", "aetitle", "aetitles", "AETitle")],
        *[(a, "/api/config/sourceaetitle") for a in ("src", "source", "sources")],
        *[(a, "/api/config/destinationaetitle") for a in ("dest", "destination", "destinations")],
    ],
)
def test_list_and_delete_accept_every_alias(api, alias, path):
    seen, responses = api
    responses[("GET", path)] = (200, [])
    responses[("DELETE", f"{path}/X")] = (200, {})
    listed = run("dicom", "list", alias)
    assert listed.exit_code == 0, listed.output
    deleted = run("dicom", "delete", alias, "-n", "X")
    assert deleted.exit_code == 0, deleted.output
    assert [(r.method, r.url.path) for r in seen] == [("GET", path), ("DELETE", f"{path}/X")]


def test_delete_names_what_was_deleted(api):
    _, responses = api
    responses[("DELETE", "/api/config/destinationaetitle/OUT")] = (200, {})
    assert run("dicom", "delete", "destination", "-n", "OUT").output == "destination OUT deleted\n"


@pytest.mark.parametrize(("alias", "path"), [("source", "sourceaetitle"), ("destination", "destinationaetitle")])
def test_create_accepts_the_same_aliases(api, alias, path):
    seen, responses = api
    responses[("POST", f"/api/config/{path}")] = (201, {"aeTitle": "PACS", "hostIp": "h", "name": "PACS"})
    extra = ["-n", "PACS", "-p", "104"] if alias == "destination" else []
    result = run("dicom", "create", alias, "-a", "PACS", "-i", "h", *extra)
    assert result.exit_code == 0, result.output
    assert seen[0].url.path == f"/api/config/{path}"


def test_unknown_kind_lists_the_choices(api):
    result = run("dicom", "list", "bogus")
    assert result.exit_code == 2
    assert "'bogus' is not a kind; use aetitle, src or dest" in result.output


def test_malformed_pipeline_id_refused_by_the_adapter_is_an_error(api):
    _, responses = api
    detail = "processorSettings.pipeline-x: pipeline id 'nonsense' is not a Clara identifier"
    responses[("POST", "/api/config/claraaetitle")] = (400, {"title": "Validation error.", "detail": detail})
    result = run("dicom", "create", "aetitle", "-a", "X", "pipeline-x=nonsense")
    assert result.exit_code == 1
    assert result.output == f"error: {detail} (HTTP 400)\n"


def test_create_help_texts_say_what_the_commands_do():
    aetitle = run("dicom", "create", "aetitle", "--help").output
    assert aetitle.split("\n\n")[1].strip() == "Create a Clara AE title: studies sent to it run the given pipelines."
    assert "pipeline-NAME=ID" in aetitle and "32 hex characters" in aetitle
    dest = run("dicom", "create", "dest", "--help").output
    for option in ("--name", "--ae-title", "--host", "--port"):
        line = next(line for line in dest.splitlines() if option in line)
        assert len(line.split(maxsplit=3)) == 4, f"{option} has no help text: {line!r}"
