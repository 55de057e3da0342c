"""`create_app`: the FastAPI application of the adapter's REST API (OpenAPI at /docs)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from dicom_adapter.api import config_routes, status_routes
from dicom_adapter.api.access import audited, required_role
from dicom_adapter.api.deps import ApiDependencies
from dicom_adapter.api.problems import CaseInsensitiveConfigRoutes, install_problem_handlers
from dicom_adapter.settings import ApiSettings
from openclara import swagger_ui
from openclara.auth.audit import AuditLog
from openclara.auth.rest import TokenGate
from openclara.auth.settings import AuthSettings
from openclara.http_guards import AllowedHosts, BodyLimit, HostAllowList


def create_app(deps: ApiDependencies, settings: ApiSettings | None = None, auth: AuthSettings | None = None) -> FastAPI:
    """The API over `deps`, behind the Host allow-list, the token check and the body limit (defaults when None)."""
    settings = settings or ApiSettings()
    auth = auth or AuthSettings()
    app = FastAPI(
        title="openclara DICOM adapter",
        description="Clara Deploy 0.8 compatible configuration API, plus health, metrics and history.",
        version="0.1.0",
        docs_url=None,  # swagger_ui.install: Swagger UI from the package, not a CDN
        redoc_url=None,
    )
    swagger_ui.install(app)
    app.state.deps = deps
    install_problem_handlers(app)
    app.include_router(config_routes.router)
    app.include_router(status_routes.router)
    _without_fastapi_422(app)
    # The last added runs first: Host check, the caller's token, body limit, then Clara's case-insensitive paths.
    app.add_middleware(CaseInsensitiveConfigRoutes)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, setting="api.max_body_bytes")
    app.add_middleware(TokenGate, table=auth.table(), rule=required_role, audit=AuditLog(auth.audit_path, "dicom"),
                       audited=audited)
    app.add_middleware(
        HostAllowList, allowed=AllowedHosts(settings.host, settings.allowed_hosts), setting="api.allowed_hosts"
    )
    return app


def _without_fastapi_422(app: FastAPI) -> None:
    """FastAPI documents a 422 on every route with parameters; here validation errors are 400 (Clara's
    "Validation error."), so the OpenAPI document must not promise a 422 that never comes."""
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for operations in default().get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
        return default()  # cached by FastAPI from the first call on

    app.openapi = openapi  # type: ignore[method-assign]
