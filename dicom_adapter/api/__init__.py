"""The adapter's REST API: Clara's config paths (`config_routes`), health/metrics/history (`status_routes`).

request --server.py (uvicorn, HTTPS)--> app.py (guards, access) --routes--> deps.ApiDependencies (app wires them)
routes --openapi.py--> what /openapi.json says each route answers (schemas, its problems only)
errors --problems.py--> RFC 7807 problem+json, mapped once
"""

from __future__ import annotations

from dicom_adapter.api.app import create_app
from dicom_adapter.api.deps import ApiDependencies, EchoResult

__all__ = ["ApiDependencies", "EchoResult", "create_app"]
