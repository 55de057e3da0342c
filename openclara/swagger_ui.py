"""Swagger UI at /docs for a FastAPI service, from files in the package (no CDN: it works offline).

FastAPI's own /docs page loads Swagger UI from a CDN and renders blank without Internet access, so
each REST service turns it off (`docs_url=None, redoc_url=None`) and calls `install(app)`.
scripts/build-web copies swagger-ui-dist (the version pinned in console/web/package-lock.json) into
`openclara/static/swagger-ui/`; our own start-up script sits beside it. The page and its assets are
public like the OpenAPI document itself (`openclara.auth.rest.PUBLIC_PATHS`).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "swagger-ui-bundle.js": STATIC / "swagger-ui" / "swagger-ui-bundle.js",
    "swagger-ui.css": STATIC / "swagger-ui" / "swagger-ui.css",
    "favicon-32x32.png": STATIC / "swagger-ui" / "favicon-32x32.png",
    "swagger-init.js": STATIC / "swagger-init.js",
}
ASSET_PATHS = tuple(f"/docs/{name}" for name in ASSETS)
MISSING = "Swagger UI's files are not installed: run scripts/build-web (it needs npm) and restart the service."

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - API docs</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png"></head>
<body><noscript>Swagger UI needs JavaScript; the document is at <a href="/openapi.json">/openapi.json</a>.</noscript>
{missing}<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/swagger-init.js"></script></body></html>
"""


def page(title: str) -> str:
    missing = "" if ASSETS["swagger-ui-bundle.js"].is_file() else f"<p><strong>{MISSING}</strong></p>"
    return _PAGE.format(title=escape(title), missing=missing)


def install(app: FastAPI) -> None:
    """Serve /docs and its assets on `app` (created with docs_url=None, redoc_url=None)."""
    html = page(app.title)

    async def docs() -> HTMLResponse:
        return HTMLResponse(html)

    async def asset(name: str) -> Response:
        path = ASSETS.get(name)
        if path is None:
            return PlainTextResponse("Not Found", status_code=404)
        if not path.is_file():
            return PlainTextResponse(MISSING, status_code=503)
        return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs/{name}", asset, methods=["GET"], include_in_schema=False)
