"""The fast path and the FastAPI routes give the same answer to every request, errors included.

One scenario (a list of requests, later ones naming the task and lease the earlier ones created) runs
against two apps on their own databases with the same fake clock: one with `HotRoutes`, one without.
Status, headers and JSON body must match, once the generated ids are replaced by placeholders.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from openclara.auth.credentials import auth_headers
from results_service.app import create_app
from results_service.settings import ResultsSettings
from tests.results_service.conftest import FakeClock, FakeDeleter

JSON = "application/json"
# Task ids (uuid4) and lease ids (16 hex digits) differ between the two databases.
_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{16}\b")
REGISTER = {"jobId": "job-1", "pipelineId": "p", "payloadId": "pl", "parameters": '"MYPACS"', "uris": ["a.dcm"]}


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


# (method, path, query, body, content type or None, send the token): `{task}` / `{lease}` are the first
# registered task and its lease; `{other}` is a second task, never leased.
REQUESTS: list[tuple[str, str, str, bytes, str | None, bool]] = [
    # register: the plain case, the same again, and every way to get it wrong
    ("POST", "/api/tasks/register/ClaraSCU", "", _json(REGISTER), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json(REGISTER), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json({**REGISTER, "jobId": "job-2"}), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json(REGISTER), "application/json; charset=utf-8", True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json({**REGISTER, "jobId": "j3"}), "application/vnd.x+json", True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json({**REGISTER, "jobId": "j4"}), None, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json(REGISTER), "text/plain", True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json(REGISTER), "application/xml", True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b"", JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b"", None, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b"{not json", JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b"[]", JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b"null", JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json({"jobId": "x"}), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json({**REGISTER, "uris": []}), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json({**REGISTER, "uris": ["../x"]}), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json({**REGISTER, "parameters": "{bad"}), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json({**REGISTER, "parameters": {"a": 1}}), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", '{"jobId": "é", "uris": ["b"]}'.encode(), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b"\xff\xfe", JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b'{"jobId": "\xff", "uris": ["b"]}', JSON, True),
    ("POST", "/api/tasks/register/bad_agent", "", b'{"jobId": "\xff", "uris": ["b"]}', JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b"1e999", JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b"\xef\xbb\xbf" + _json({**REGISTER, "jobId": "bom"}), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json(REGISTER)[:-1] + b', "jobId": "dup"}', JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b'{"jobId": "\\ud800", "uris": ["s"]}', JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json(REGISTER).decode().encode("utf-16"), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", b'{"jobId": "j6", "uris": ["b"], "retry": NaN}', JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "via=x", _json({**REGISTER, "jobId": "j5"}), JSON, True),
    ("POST", "/api/tasks/register/bad_agent", "", _json(REGISTER), JSON, True),
    ("POST", "/api/tasks/register/bad_agent", "", b"{not json", JSON, True),
    ("POST", "/api/tasks/register/bad_agent", "", _json({"jobId": "x"}), JSON, True),
    ("POST", "/api/tasks/register/bad_agent", "", b"", JSON, True),
    ("POST", "/api/tasks/register/-x", "", _json(REGISTER), JSON, True),
    ("POST", "/api/tasks/register/" + "a" * 65, "", _json(REGISTER), JSON, True),
    ("POST", "/api/tasks/register/ClaraSCU", "", _json(REGISTER), JSON, False),
    ("POST", "/api/tasks/register/ClaraSCU", "", b"x" * 5000, JSON, True),
    # lease
    ("GET", "/api/tasks/ClaraSCU/pending", "size=1", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=1000", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=0", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=1001", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=-1", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=+5", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=%205", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=abc", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=1.0", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=99999999999999999999", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=0&size=2", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=2&size=0", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size=2&other=1", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "size", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending", "", b"", None, False),
    ("GET", "/api/tasks/ClaraSCU/pending", "", b"{}", JSON, True),
    ("GET", "/api/tasks/bad_agent/pending", "", b"", None, True),
    ("GET", "/api/tasks/bad_agent/pending", "size=0", b"", None, True),
    ("GET", "/api/tasks/Other/pending", "size=5", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/Pending", "size=5", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/pending/", "", b"", None, True),
    ("POST", "/api/tasks/ClaraSCU/pending", "", b"", None, True),
    # success
    ("PUT", "/api/tasks/success/{other}", "", b"", None, True),
    ("PUT", "/api/tasks/success/{task}", "leaseId=stale", b"", None, True),
    ("PUT", "/api/tasks/success/{task}", "leaseId={lease}&leaseId=stale", b"", None, True),
    ("PUT", "/api/tasks/success/{task}", "leaseId={lease}", b"", None, True),
    ("PUT", "/api/tasks/success/{task}", "", b"", None, True),
    ("PUT", "/api/tasks/success/{task}", "", _json({"x": 1}), JSON, True),
    ("PUT", "/api/tasks/success/unknown-task", "", b"", None, True),
    ("PUT", "/api/tasks/success/unknown-task", "leaseId=", b"", None, True),
    ("PUT", "/api/tasks/success/unknown-task", "", b"", None, False),
    ("GET", "/api/tasks/success/{task}", "", b"", None, True),
    ("PUT", "/api/tasks/success/", "", b"", None, True),
    ("PUT", "/api/tasks/success", "", b"", None, True),
    # the other routes, unchanged by the fast path
    ("GET", "/api/tasks/{task}", "", b"", None, True),
    ("GET", "/api/tasks", "limit=0", b"", None, True),
    ("GET", "/api/tasks", "offset=2147483648", b"", None, True),
    ("GET", "/api/tasks/ClaraSCU/Succeeded", "limit=5&offset=0", b"", None, True),
]


class Session:
    """One app, its client, and the ids it handed out (for the placeholders)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.ids: dict[str, str] = {}

    def fill(self, text: str) -> str:
        for name, value in self.ids.items():
            text = text.replace("{" + name + "}", value)
        return text

    def blank(self, text: str) -> str:
        for name, value in self.ids.items():
            text = text.replace(value, "{" + name + "}")
        return _IDS.sub("{id}", text)

    async def send(self, request: tuple[str, str, str, bytes, str | None, bool]) -> tuple[int, dict[str, str], Any]:
        method, path, query, body, content_type, token = request
        headers = dict(auth_headers()) if token else {}
        if content_type is not None:
            headers["content-type"] = content_type
        url = self.fill(path) + ("?" + self.fill(query) if query else "")
        response = await self.client.request(method, url, content=body, headers=headers)
        self._learn(path, response)
        kept = {k: self.blank(v) for k, v in response.headers.items() if k != "content-length"}
        return response.status_code, kept, json.loads(self.blank(response.text)) if response.content else None

    def _learn(self, path: str, response: httpx.Response) -> None:
        if path.startswith("/api/tasks/register/") and response.status_code == 201:
            self.ids.setdefault("task" if "task" not in self.ids else "other", response.json()["taskId"])
        if path.endswith("/pending") and response.status_code == 200:
            for task in response.json():
                if task["taskId"] == self.ids.get("task"):
                    self.ids["lease"] = task["leaseId"]


@pytest.fixture
async def sessions(tmp_path: Path, settings: ResultsSettings) -> AsyncIterator[tuple[Session, Session]]:
    pair = []
    contexts = []
    for fast in (True, False):
        own = settings.model_copy(
            update={"database": settings.database.model_copy(update={"path": tmp_path / f"fast-{fast}.db"})}
        )
        app = create_app(own, FakeDeleter(), FakeClock(), fast_path=fast)
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        contexts.append(context)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://results")
        pair.append(Session(client))
    try:
        yield pair[0], pair[1]
    finally:
        for session, context in zip(pair, contexts, strict=True):
            await session.client.aclose()
            await context.__aexit__(None, None, None)


async def test_fast_path_and_fastapi_answer_every_request_alike(sessions: tuple[Session, Session]) -> None:
    fast, slow = sessions
    for number, request in enumerate(REQUESTS):
        hot_answer = await fast.send(request)
        slow_answer = await slow.send(request)
        assert hot_answer == slow_answer, f"request {number}: {request[:3]}"
