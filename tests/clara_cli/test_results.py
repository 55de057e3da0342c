from __future__ import annotations

import json
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner, Result

from clara_cli import results
from clara_cli.config import ClientConfig
from clara_cli.context import CliContext

TASK = {
    "taskId": "t-1",
    "agent": "ClaraSCU",
    "jobId": "j",
    "state": "Failed",
    "retries": 3,
    "parameters": '"MYPACS"',
    "updated": "2026-01-01T00:00:00.000Z",
    "lastError": "PACS refused",
}


def _invoke(*args: str, output: str = "table") -> Result:
    @click.group()
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        ctx.obj = CliContext(config=ClientConfig(results="http://results:8088"), output=output)

    results.register(cli, {})
    return CliRunner().invoke(cli, ["results", *args])


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def fake_request(method: str, url: str, **kwargs: Any) -> httpx.Response:
        seen.append((method, url, kwargs.get("params") or {}))
        request = httpx.Request(method, url)
        if url.endswith("/api/tasks/missing/retry"):
            return httpx.Response(404, json={"detail": "no task with id 'missing'"}, request=request)
        if url.endswith("/retry"):
            return httpx.Response(200, json={**TASK, "state": "Pending"}, request=request)
        return httpx.Response(200, json=[TASK], request=request)

    monkeypatch.setattr(httpx, "request", fake_request)
    return seen


def test_list_passes_filters_and_prints_table(
    calls: list[tuple[str, str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = _invoke("list", "--agent", "ClaraSCU", "--state", "failed", "--job", "j")
    assert result.exit_code == 0, result.output
    assert calls == [
        ("GET", "http://results:8088/api/tasks", {"agent": "ClaraSCU", "state": "failed", "jobId": "j", "limit": 100})
    ]
    assert "PACS refused" in result.output and "t-1" in result.output


def test_list_json_output(calls: list[tuple[str, str, dict[str, Any]]]) -> None:
    result = _invoke("list", output="json")
    assert json.loads(result.output) == [{
        "task_id": "t-1", "agent": "ClaraSCU", "job_id": "j", "state": "Failed", "retries": 3,
        "parameters": '"MYPACS"', "updated": "2026-01-01T00:00:00Z", "last_error": "PACS refused",
    }]


def test_list_table_shows_times_like_every_other_table(
    calls: list[tuple[str, str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert "2026-01-01 00:00:00" in _invoke("list").output


def test_retry_prints_one_line(calls: list[tuple[str, str, dict[str, Any]]]) -> None:
    result = _invoke("retry", "t-1")
    assert result.exit_code == 0
    assert result.output == "task t-1 is Pending again (agent ClaraSCU)\n"


def test_retry_unknown_task_shows_service_message(calls: list[tuple[str, str, dict[str, Any]]]) -> None:
    result = _invoke("retry", "missing")
    assert result.exit_code == 1
    assert result.output == "error: results service answered 404: no task with id 'missing'\n"


def test_service_down_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(method: str, url: str, **kwargs: Any) -> httpx.Response:
        raise httpx.ConnectError("refused")

    monkeypatch.setattr(httpx, "request", refused)
    result = _invoke("list")
    assert result.exit_code == 1
    assert result.output == (
        "error: results service is not reachable at http://results:8088 (ConnectError); "
        "start it with `clara results start`, or the whole stack with `scripts/run` (`openclara up`)\n"
    )


def test_stop_when_not_running(clara_home: object) -> None:
    result = _invoke("stop")
    assert result.exit_code == 0 and result.output == "results service was not running\n"
