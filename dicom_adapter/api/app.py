"""`create_app`: the FastAPI application of the adapter's REST API (OpenAPI at /docs)."""

from __future__ import annotations

from fastapi import FastAPI

from dicom_adapter.api import config_routes, status_routes
from dicom_adapter.api.deps import ApiDependencies
from dicom_adapter.api.problems import CaseInsensitiveConfigRoutes, install_problem_handlers


def create_app(deps: ApiDependencies) -> FastAPI:
    app = FastAPI(
        title="openclara DICOM adapter",
        description="Clara Deploy 0.8 compatible configuration API, plus health, metrics and history.",
        version="0.1.0",
    )
    app.state.deps = deps
    install_problem_handlers(app)
    app.include_router(config_routes.router)
    app.include_router(status_routes.router)
    app.add_middleware(CaseInsensitiveConfigRoutes)
    return app
