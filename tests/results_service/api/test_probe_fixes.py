"""What the issue #11 probe found in the task API, in process: an empty register body, unbounded paging,
over-long uris, and an OpenAPI document that did not declare the problems the service answers."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from openclara.payload_names import MAX_NAME_BYTES
from results_service.models import MAX_LIMIT, MAX_OFFSET
from tests.results_service.api.test_routes_tasks import PROBLEM, _problem, body

EMPTY = "request body is empty: send a JSON document"


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", None])
async def test_an_empty_register_body_is_400_on_the_hot_and_the_fastapi_path(
    client: httpx.AsyncClient, ctype: str | None
) -> None:
    """The hot path read the empty body, fell through without it, and FastAPI waited for it for ever."""
    headers = {"content-length": "0", **({"content-type": ctype} if ctype else {})}
    async with asyncio.timeout(5):
        hot = await client.post("/api/tasks/register/ClaraSCU", headers=headers)
        slow = await client.post("/api/tasks/register/ClaraSCU?via=fastapi", headers=headers)
    _problem(hot, 400, EMPTY)
    assert hot.json() == {**slow.json(), "instance": hot.json()["instance"]}
    assert (await client.get("/api/tasks")).json() == []


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"offset": 2**63}, f"query.offset: Input should be less than or equal to {MAX_OFFSET}"),
        ({"offset": MAX_OFFSET + 1}, f"less than or equal to {MAX_OFFSET}"),
        ({"offset": -1}, "query.offset: Input should be greater than or equal to 0"),
        ({"limit": MAX_LIMIT + 1}, f"query.limit: Input should be less than or equal to {MAX_LIMIT}"),
        ({"limit": 2**64}, f"query.limit: Input should be less than or equal to {MAX_LIMIT}"),
    ],
)
async def test_paging_out_of_bounds_is_422(client: httpx.AsyncClient, query: dict[str, int], detail: str) -> None:
    _problem(await client.get("/api/tasks", params=query), 422, detail)
    _problem(await client.get("/api/tasks/ClaraSCU/Failed", params=query), 422, detail)


async def test_paging_at_the_bounds_answers(client: httpx.AsyncClient) -> None:
    await client.post("/api/tasks/register/ClaraSCU", json=body())
    assert (await client.get("/api/tasks", params={"offset": MAX_OFFSET, "limit": MAX_LIMIT})).json() == []
    assert len((await client.get("/api/tasks", params={"offset": 0, "limit": 1})).json()) == 1


@pytest.mark.parametrize(
    ("uri", "detail"),
    [
        ("d/" * 600 + "f", "uri 1: file name is 1201 bytes long; at most 1024 bytes are allowed"),
        ("a" * 256, "level 1 of the file name is 256 bytes long; at most 255 bytes"),
        ("d/" * 32 + "f", "file name has 33 '/'-separated levels; at most 32"),
    ],
)
async def test_uris_the_platform_could_never_serve_are_422(client: httpx.AsyncClient, uri: str, detail: str) -> None:
    """Accepted before, they failed only at delivery (the platform answered code -1 for them)."""
    for path in ("/api/tasks/register/ClaraSCU", "/api/tasks/register/ClaraSCU?via=fastapi"):
        response = await client.post(path, json=body(uris=["ok.dcm", uri]))
        _problem(response, 422, detail.replace("uri 1", "uri 2"))
        assert uri not in response.text
    assert (await client.get("/api/tasks")).json() == []
    longest = "/".join(["x" * 200] * 4) + "/" + "y" * (MAX_NAME_BYTES - 804)
    assert (await client.post("/api/tasks/register/ClaraSCU", json=body(uris=[longest]))).status_code == 201


async def test_405_keeps_its_allow_header(client: httpx.AsyncClient) -> None:
    response = await client.request("TRACE", "/health/live")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.headers["content-type"] == PROBLEM


async def test_openapi_declares_the_problems_the_routes_answer(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    register = spec["paths"]["/api/tasks/register/{agent}"]["post"]["responses"]
    assert {"400", "413", "421", "422"} <= set(register)
    for status in ("400", "413", "421", "422"):
        assert set(register[status]["content"]) == {PROBLEM}
    assert "errors" in register["422"]["content"][PROBLEM]["schema"]["properties"]
    listing = spec["paths"]["/api/tasks"]["get"]["parameters"]
    offset = next(p for p in listing if p["name"] == "offset")["schema"]
    assert offset["maximum"] == MAX_OFFSET
    assert set(spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
