"""HotRoutes: register/lease/success requests skip FastAPI, valid or not; other paths reach it unchanged.

That both paths answer alike is test_fast_path_parity.py; here: what reaches FastAPI and what does not.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from results_service.api.hot_routes import HotRoutes
from tests.results_service.api.test_routes_tasks import body


async def test_register_with_stale_lease_id_is_409(client: httpx.AsyncClient) -> None:
    await client.post("/api/tasks/register/ClaraSCU", json=body())
    (task,) = (await client.get("/api/tasks/ClaraSCU/pending?size=1")).json()
    response = await client.put(f"/api/tasks/success/{task['taskId']}", params={"leaseId": "not-the-lease"})
    assert response.status_code == 409
    assert "only an InProgress task" in response.json()["detail"] or "stale" in response.json()["detail"]


async def test_default_lease_size_is_ten(client: httpx.AsyncClient) -> None:
    for i in range(12):
        await client.post("/api/tasks/register/ClaraSCU", json=body(f"j{i}"))
    assert len((await client.get("/api/tasks/ClaraSCU/pending")).json()) == 10


class FakeQueue:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.error = error

    async def lease(self, agent: str, size: int) -> list[Any]:
        self.calls.append(("lease", (agent, size)))
        if self.error:
            raise self.error
        return []


class Downstream:
    """Stands in for FastAPI: records what reached it, including the body it could read."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.seen.append((scope["method"], scope["path"], message.get("body", b"")))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _call(
    queue: FakeQueue, method: str, path: str, query: bytes = b"", body: bytes = b"", ctype: bytes = b"application/json"
) -> tuple[Downstream, list[Message]]:
    downstream = Downstream()
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": [(b"content-type", ctype)],
        "app": SimpleNamespace(state=SimpleNamespace(queue=queue)),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await HotRoutes(downstream)(scope, receive, send)
    return downstream, sent


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", "/api/tasks/ClaraSCU/pending/", b""),  # trailing slash: FastAPI redirects
        ("GET", "/api/tasks/ClaraSCU/Pending", b""),  # other spellings are by_state's business
        ("POST", "/api/tasks/ClaraSCU/pending", b""),  # FastAPI answers 405
        ("GET", "/api/tasks", b""),
        ("DELETE", "/api/tasks/success/abc", b""),
        ("PUT", "/api/tasks/failure/abc", b""),
    ],
)
async def test_unusual_requests_fall_through(method: str, path: str, query: bytes) -> None:
    queue = FakeQueue()
    downstream, sent = await _call(queue, method, path, query)
    assert downstream.seen == [(method, path, b"")]
    assert queue.calls == []
    assert sent[0]["status"] == 299


@pytest.mark.parametrize(
    ("method", "path", "query", "payload", "ctype", "status"),
    [
        ("GET", "/api/tasks/bad_name/pending", b"", b"", b"", 400),
        ("GET", "/api/tasks/ClaraSCU/pending", b"size=0", b"", b"", 422),
        ("GET", "/api/tasks/ClaraSCU/pending", b"size=1&size=2", b"", b"", 200),
        ("POST", "/api/tasks/register/ClaraSCU", b"", b'{"jobId": ', b"application/json", 400),
        ("POST", "/api/tasks/register/ClaraSCU", b"", b'{"jobId": "j"}', b"application/json", 422),
        ("POST", "/api/tasks/register/ClaraSCU", b"", b'{"jobId": "j", "uris": ["a"]}', b"text/plain", 422),
        ("POST", "/api/tasks/register/ClaraSCU", b"", b"", b"application/json", 400),
        ("POST", "/api/tasks/register/ClaraSCU", b"via=x", b'{"jobId": "j"}', b"application/json", 422),
    ],
)
async def test_invalid_requests_are_answered_without_fastapi(
    method: str, path: str, query: bytes, payload: bytes, ctype: bytes, status: int
) -> None:
    downstream, sent = await _call(FakeQueue(), method, path, query, payload, ctype)
    assert downstream.seen == []
    assert sent[0]["status"] == status


async def test_client_gone_before_the_body_gets_no_answer() -> None:
    downstream = Downstream()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/tasks/register/ClaraSCU",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "app": SimpleNamespace(state=SimpleNamespace(queue=FakeQueue())),
    }
    await HotRoutes(downstream)(scope, receive, send)
    assert sent == [] and downstream.seen == []


async def test_lease_is_answered_without_fastapi() -> None:
    queue = FakeQueue()
    downstream, sent = await _call(queue, "GET", "/api/tasks/ClaraSCU/pending", b"size=7")
    assert downstream.seen == []
    assert queue.calls == [("lease", ("ClaraSCU", 7))]
    assert sent[0]["status"] == 200
    assert (b"content-type", b"application/json") in sent[0]["headers"]
    assert sent[1]["body"] == b"[]"


async def test_unexpected_error_is_500_problem_pointing_at_the_log() -> None:
    _, sent = await _call(FakeQueue(RuntimeError("boom")), "GET", "/api/tasks/ClaraSCU/pending")
    assert sent[0]["status"] == 500
    assert b"see the service log" in sent[1]["body"]
    assert b"boom" not in sent[1]["body"]
