"""Issue #11, part 4: the probes of the two REST services, replayed against real processes on loopback.

Results service: a register with `Content-Length: 0` never answered, `offset=2^63` was a 500, over-long uris
were accepted. Both services: no Host allow-list (DNS rebinding), the DICOM adapter's API read any body
whole (300 MB took the process that also receives DICOM to 1 GB), and neither bounded a request's headers.
Last, a bounded schemathesis run against each: no server error, and every status and content type
answered is declared in the OpenAPI document.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from openclara.auth.credentials import auth_headers, client_token
from tests.conftest import free_port
from tests.results_service.service_process import ServiceProcess, wait_until
from tests.support import http
from tests.support.processes import Process, dicom_adapter

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"
PROBE_BODY_BYTES = 300 * 1024 * 1024


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder = tmp_path_factory.mktemp("results")
    with ServiceProcess(folder, free_port(), allowed_hosts=["results.example.org"]) as service:
        yield service


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Process]]:
    folder = tmp_path_factory.mktemp("adapter")
    api_port = free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLARA_DICOM_API__ALLOWED_HOSTS", '["adapter.example.org"]')
        with dicom_adapter(
            folder,
            dicom_port=free_port(),
            api_port=api_port,
            platform="127.0.0.1:9",
            results="http://127.0.0.1:9",
            seed={},
            export={"enabled": False, "connect_timeout_seconds": 1.0},
        ) as process:
            url = f"http://127.0.0.1:{api_port}"
            wait_until(lambda: _answers(f"{url}/health/live"), what="the adapter's REST API")
            yield url, process


def _answers(url: str) -> bool:
    try:
        return http.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _problem(response: httpx.Response, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert detail in response.json()["detail"], response.json()


def _raw_request(port: int, request: bytes, timeout: float) -> tuple[int, dict[str, object]]:
    """Send `request` as is and read one response: the probe's exact bytes, no client library between."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def _length(data: bytes) -> int:
    match = re.search(rb"(?i)content-length: *(\d+)", data)
    return int(match.group(1)) if match else 0


def test_an_empty_register_body_is_answered_400_at_once(results: ServiceProcess) -> None:
    request = (
        b"POST /api/tasks/register/ClaraSCU HTTP/1.1\r\nHost: 127.0.0.1\r\n" + _auth_lines()
        + b"Content-Type: application/json\r\nContent-Length: 0\r\n\r\n"
    )
    started = time.monotonic()
    status, problem = _raw_request(results.port, request, timeout=5)
    assert time.monotonic() - started < 1.0
    assert status == 400
    assert problem["detail"] == "request body is empty: send a JSON document (Content-Type: application/json)"
    assert http.get(f"{results.url}/api/tasks", timeout=2).json() == []


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("offset=9223372036854775808", "query.offset: Input should be less than or equal to 2147483647"),
        ("limit=9223372036854775808", "query.limit: Input should be less than or equal to 1000"),
        ("offset=-1", "greater than or equal to 0"),
    ],
)
def test_paging_bounds_are_422_not_500(results: ServiceProcess, query: str, detail: str) -> None:
    _problem(http.get(f"{results.url}/api/tasks?{query}", timeout=5), 422, detail)


def test_over_long_uris_are_refused_as_invalid_names(results: ServiceProcess) -> None:
    body = {"jobId": "j", "parameters": '"MYPACS"', "uris": ["d/" * 2000 + "f"]}
    response = http.post(f"{results.url}/api/tasks/register/ClaraSCU", json=body, timeout=5)
    _problem(response, 422, "uris: Value error, uri 1: file name is 4001 bytes long; at most 1024 bytes are allowed")


def _auth_lines() -> bytes:
    """The stack's admin token as raw header lines, for requests written to the socket by hand."""
    return "".join(f"{key}: {value}\r\n" for key, value in auth_headers().items()).encode()


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1))


def _stream(size: int) -> Iterator[bytes]:
    chunk = b"x" * (1 << 20)
    for _ in range(size // len(chunk)):
        yield chunk


def _post_300_mb(url: str, pid: int) -> httpx.Response:
    before = _peak_rss_kib(pid)
    headers = {"content-type": "application/json", "content-length": str(PROBE_BODY_BYTES)}
    response = http.post(url, content=_stream(PROBE_BODY_BYTES), headers=headers, timeout=60)
    # The body was refused by its length and discarded as it arrived: the process's peak did not move.
    assert _peak_rss_kib(pid) - before < 64 * 1024
    return response


def test_a_300_mb_body_is_413_without_growing_either_process(
    results: ServiceProcess, adapter: tuple[str, Process]
) -> None:
    url, process = adapter
    assert results.proc is not None
    _problem(_post_300_mb(f"{url}/api/config/claraaetitle", process.popen.pid), 413, "(api.max_body_bytes)")
    _problem(
        _post_300_mb(f"{results.url}/api/tasks/register/ClaraSCU", results.proc.pid),
        413,
        "request body is larger than the limit of 1048576 bytes (max_body_bytes)",
    )
    chunked = http.post(f"{url}/api/config/sourceaetitle", content=_stream(8 << 20), timeout=30)
    _problem(chunked, 413, "larger than the limit of 1048576 bytes")
    assert http.get(f"{url}/api/config/claraaetitle", timeout=5).json() == []


def _endless_header(port: int, pid: int) -> tuple[bytes, int]:
    """Send one header line of up to 200 MB; what the server answered and how far its peak memory rose."""
    before = _peak_rss_kib(pid)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Probe: ")
        chunk = b"a" * (1 << 20)
        try:
            for _ in range(200):
                sock.sendall(chunk)
        except OSError:
            pass  # the server closed the connection: what should happen, long before 200 MB
        answer = sock.recv(4096)
    return answer, _peak_rss_kib(pid) - before


def test_an_endless_header_is_431_and_holds_no_memory(results: ServiceProcess, adapter: tuple[str, Process]) -> None:
    """uvicorn's httptools parser kept a header line of any length: 200 MB took a service to 475 MB."""
    url, process = adapter
    assert results.proc is not None
    for port, pid in ((results.port, results.proc.pid), (int(url.rsplit(":", 1)[1]), process.popen.pid)):
        answer, grown_kib = _endless_header(port, pid)
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer[:200]
        assert b"longer than 65536 bytes" in answer
        assert grown_kib < 16 * 1024
    # A large body arriving in one read with its headers is a body, not a header.
    body = json.dumps({"jobId": "one-read", "uris": [f"operators/seg/out/{i:07}.dcm" for i in range(20_000)]})
    request = (
        f"POST /api/tasks/register/ClaraSCU HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
    ).encode() + _auth_lines() + f"\r\n{body}".encode()
    status, task = _raw_request(results.port, request, timeout=10)
    assert status == 201 and len(task["uris"]) == 20_000  # type: ignore[arg-type]


@pytest.mark.parametrize("service", ["results", "adapter"])
def test_a_foreign_host_is_421_and_known_names_are_served(
    service: str, results: ServiceProcess, adapter: tuple[str, Process]
) -> None:
    url, configured, setting = (
        (results.url, "results.example.org", "allowed_hosts")
        if service == "results"
        else (adapter[0], "adapter.example.org", "api.allowed_hosts")
    )
    port = url.rsplit(":", 1)[1]
    refused = http.get(f"{url}/health/live", headers={"host": f"rebind.attacker.example:{port}"}, timeout=5)
    _problem(refused, 421, f"add the name to {setting}")
    assert refused.json()["title"] == "Misdirected Request"
    for host in ("localhost", "127.0.0.1", f"[::1]:{port}", configured, f"{configured}:{port}"):
        assert http.get(f"{url}/health/live", headers={"host": host}, timeout=5).status_code == 200, host


def _schemathesis(url: str, examples: int, folder: Path) -> subprocess.Popen[str]:
    checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
    argv = [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json", "--checks", checks,
            "--phases", "examples,coverage,fuzzing", "--max-examples", str(examples), "--seed", "11",
            "--no-color", "--generation-database", "none", "--exclude-path-regex", "cecho",
            "--header", f"Authorization: Bearer {client_token()}"]
    # Its cache folder (.schemathesis/) goes to `folder`, not into the repository.
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=folder)


def test_schemathesis_finds_no_server_error_and_no_undeclared_answer(
    results: ServiceProcess, adapter: tuple[str, Process], tmp_path: Path
) -> None:
    """Bounded (about 500 cases against each, both at once): every answer is a declared status and type."""
    runs = {
        "results": _schemathesis(results.url, 20, tmp_path),
        "adapter": _schemathesis(adapter[0], 10, tmp_path),
    }
    for name, run in runs.items():
        output, _ = run.communicate(timeout=100)
        summary = output[output.find("SUMMARY") :] or output[-3000:]
        assert run.returncode == 0, f"schemathesis against the {name}:\n{summary}"
        match = re.search(r"(\d+) generated, (\d+) passed", output)
        assert match is not None and int(match.group(1)) > 100, summary
