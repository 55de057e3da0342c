"""`create_app(settings)`: the console's FastAPI app, every route behind the session gate."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from console import login
from console.backend import Backend
from console.gate import SessionGate
from console.pages import STATIC_DIR
from console.session import SessionKeeper
from console.settings import ConsoleSettings
from openclara.http_guards import AllowedHosts, HostAllowList


def _optional_router(module: str) -> APIRouter | None:
    """A part of the console that may not be built yet (the viewer): included when its module imports."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as missing:
        if missing.name is not None and module.startswith(missing.name):
            return None
        raise
    router: APIRouter = found.router
    return router


def create_app(settings: ConsoleSettings | None = None, backend: Backend | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    backend = backend or Backend(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await backend.start()
        try:
            yield
        finally:
            await backend.close()

    app = FastAPI(title="openclara console", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings = settings
    app.state.backend = backend
    app.state.tokens = settings.auth.table()
    app.state.sessions = SessionKeeper(settings.session_seconds, secure=settings.secure_cookie)
    app.include_router(login.router)
    for module in ("console.views.routes", "console.viewer.routes"):
        router = _optional_router(module)
        if router is not None:
            app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The last added runs first: Host check (DNS rebinding), then the session.
    app.add_middleware(SessionGate, keeper=app.state.sessions)
    app.add_middleware(HostAllowList, allowed=AllowedHosts(settings.host, settings.allowed_hosts),
                       setting="console.allowed_hosts")
    return app
