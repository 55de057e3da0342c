"""Swagger UI from the package: /docs and its files answer without a token and name no other host."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from openclara import swagger_ui
from openclara.auth.rest import PUBLIC_PATHS, TokenGate
from openclara.auth.roles import Role
from openclara.auth.tokens import TokenTable, digest


def _app() -> FastAPI:
    app = FastAPI(title="probe <service>", docs_url=None, redoc_url=None)
    swagger_ui.install(app)

    @app.get("/api/thing")
    async def thing() -> dict[str, str]:
        return {"ok": "yes"}

    table = TokenTable([("admin", Role.ADMIN, digest("secret"))])
    app.add_middleware(TokenGate, table=table,
                       rule=lambda method, path: None if path in PUBLIC_PATHS else Role.READ_ONLY)
    return app


@pytest.fixture
async def client():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://svc") as client:
        yield client


async def test_docs_page_loads_only_from_its_own_origin(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "probe &lt;service&gt;" in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources


@pytest.mark.parametrize("name", sorted(swagger_ui.ASSETS))
async def test_every_asset_is_public_and_served(client: httpx.AsyncClient, name: str) -> None:
    if not swagger_ui.ASSETS["swagger-ui-bundle.js"].is_file():
        pytest.fail("Swagger UI is not vendored: run scripts/build-web (scripts/test does)")
    response = await client.get(f"/docs/{name}")
    assert response.status_code == 200
    assert response.content


async def test_other_names_are_not_files_and_the_api_still_needs_a_token(client: httpx.AsyncClient) -> None:
    # Only the listed files are public; any other name is refused before a route could look for it.
    assert (await client.get("/docs/..%2Fsettings.py")).status_code == 401
    assert (await client.get("/docs/package.json", headers={"Authorization": "Bearer secret"})).status_code == 404
    assert (await client.get("/api/thing")).status_code == 401
    assert (await client.get("/api/thing", headers={"Authorization": "Bearer secret"})).status_code == 200
