"""Real service process on each server stack: the hot routes, pipelining and one write per response."""

from __future__ import annotations

import importlib.util
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from openclara.auth.credentials import auth_headers
from tests.conftest import free_port
from tests.results_service.service_process import ServiceProcess
from tests.support import http

pytestmark = pytest.mark.integration

STACKS = {
    "httptools+uvloop": {"http_parser": "httptools", "event_loop": "uvloop"},
    "h11+asyncio": {"http_parser": "h11", "event_loop": "asyncio"},
}


def _request(method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    auth = "".join(f"{key}: {value}\r\n" for key, value in auth_headers().items())
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def _read_responses(sock: socket.socket, count: int) -> list[tuple[int, Any]]:
    buffer = b""
    answers: list[tuple[int, Any]] = []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, "connection closed early"
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        while len(buffer) < length:
            buffer += sock.recv(65536)
        answers.append((int(head[9:12]), json.loads(buffer[:length])))
        buffer = buffer[length:]
    return answers


@pytest.mark.parametrize("stack", list(STACKS))
def test_cycle_and_pipelined_requests_on_each_stack(tmp_path: Path, stack: str) -> None:
    for module in ("httptools", "uvloop"):
        if module in stack and importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is optional and not installed")
    with ServiceProcess(tmp_path, free_port(), **STACKS[stack]) as service:
        body = {"jobId": "job-1", "parameters": '"MYPACS"', "uris": ["a.dcm"]}
        with socket.create_connection(("127.0.0.1", service.port), timeout=30) as sock:
            # Three requests in one segment: answered in order on the keep-alive connection.
            sock.sendall(
                _request("POST", "/api/tasks/register/ClaraSCU", body)
                + _request("GET", "/api/tasks/ClaraSCU/pending?size=5")
                + _request("GET", "/api/tasks/bad_agent/pending")
            )
            (created, task), (leased, tasks), (bad, problem) = _read_responses(sock, 3)
            assert (created, leased, bad) == (201, 200, 400)
            assert [t["taskId"] for t in tasks] == [task["taskId"]]
            assert "invalid agent name 'bad_agent'" in problem["detail"]
            sock.sendall(_request("PUT", f"/api/tasks/success/{task['taskId']}"))
            ((done, finished),) = _read_responses(sock, 1)
            assert (done, finished["state"]) == (200, "Succeeded")
        again = http.put(f"{service.url}/api/tasks/success/{task['taskId']}")
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert "is Succeeded; only an InProgress task can be reported as success" in again.json()["detail"]
        assert http.get(f"{service.url}/openapi.json").json()["paths"]["/api/tasks/{agent}/pending"]
