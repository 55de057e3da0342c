"""The adapter's OpenAPI document says what the service really answers: bad requests against both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from dicom_adapter.api import ApiDependencies, EchoResult, create_app
from dicom_adapter.config.registry import AeRegistry
from dicom_adapter.db import AdapterDatabase, AssociationRepository, ConfigRepository, PayloadRepository
from dicom_adapter.metrics import AdapterMetrics
from dicom_adapter.models import DestinationAeTitle
from dicom_adapter.settings import ApiSettings
from tests.support import http

CLARA = {"aeTitle": "CLARA", "processorSettings": {"pipeline-seg": "a" * 32}}
DEST = {"name": "PACS", "aeTitle": "PACS", "hostIp": "127.0.0.1", "port": 104}

# (method, path as sent, the document's path template, JSON body): requests a client gets wrong.
BAD_REQUESTS: list[tuple[str, str, str, Any]] = [
    ("POST", "/api/config/claraaetitle", "/api/config/claraaetitle", {"aeTitle": "A" * 17}),
    ("POST", "/api/config/claraaetitle", "/api/config/claraaetitle", CLARA),  # a second time: 409
    ("POST", "/api/config/claraaetitle", "/api/config/claraaetitle", [1, 2]),
    ("GET", "/api/config/claraaetitle/NOPE", "/api/config/claraaetitle/{name}", None),
    ("PUT", "/api/config/claraaetitle/NOPE", "/api/config/claraaetitle/{name}", CLARA | {"aeTitle": "OTHER"}),
    ("DELETE", "/api/config/sourceaetitle/NOPE", "/api/config/sourceaetitle/{ae_title}", None),
    ("POST", "/api/config/sourceaetitle", "/api/config/sourceaetitle", {"aeTitle": "X"}),
    ("POST", "/api/config/destinationaetitle", "/api/config/destinationaetitle", DEST | {"port": 0}),
    ("POST", "/api/config/destinationaetitle", "/api/config/destinationaetitle", DEST),  # a second time: 409
    ("POST", "/api/config/destinationaetitle/NOPE/cecho", "/api/config/destinationaetitle/{name}/cecho", None),
    ("POST", "/api/config/destinationaetitle/PACS/cecho", "/api/config/destinationaetitle/{name}/cecho", None),
    ("GET", "/api/associations?limit=0", "/api/associations", None),
    ("GET", "/api/payloads?state=bogus", "/api/payloads", None),
    ("GET", "/api/payloads/count?since=yesterday", "/api/payloads/count", None),
    ("POST", "/api/payloads/NOPE/retry", "/api/payloads/{payload_id}/retry", None),
]


async def _echo(destination: DestinationAeTitle) -> EchoResult:
    return EchoResult(False, "no association (cannot connect)", None, 1.0)


@pytest.fixture
async def app(tmp_path: Path) -> Any:
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    config = ConfigRepository(db)
    deps = ApiDependencies(
        config=config,
        registry=AeRegistry(config, resolver=lambda name: set()),
        payloads=PayloadRepository(db),
        associations=AssociationRepository(db),
        metrics=AdapterMetrics(),
        status=lambda: {"activeDimseConnections": 0, "services": {}},
        ready=lambda: True,
        echo=_echo,
    )
    yield create_app(deps, ApiSettings(allowed_hosts=["adapter"]))
    await db.stop()


async def test_every_bad_request_is_answered_with_a_status_the_document_names(app: Any) -> None:
    document = app.openapi()
    transport = httpx.ASGITransport(app=app)
    async with http.AsyncClient(transport=transport, base_url="http://adapter") as client:
        await client.post("/api/config/claraaetitle", json=CLARA)
        await client.post("/api/config/destinationaetitle", json=DEST)
        answered = []
        for method, path, template, body in BAD_REQUESTS:
            response = await client.request(method, path, json=body)
            documented = document["paths"][template][method.lower()]["responses"]
            answered.append(response.status_code)
            assert str(response.status_code) in documented, (method, path, response.status_code, sorted(documented))
    assert {400, 404, 409, 502} <= set(answered)  # the list covers each kind of problem
    async with httpx.AsyncClient(transport=transport, base_url="http://adapter") as anonymous:
        response = await anonymous.get("/api/config/claraaetitle")
    assert response.status_code == 401 and "401" in document["paths"]["/api/config/claraaetitle"]["get"]["responses"]


def test_no_route_promises_a_problem_it_never_gives(app: Any) -> None:
    paths = app.openapi()["paths"]
    for operations in paths.values():
        assert all("422" not in operation["responses"] for operation in operations.values())  # validation is 400
    assert sorted(paths["/health/live"]["get"]["responses"]) == ["200", "413", "421"]  # public, no entity
    assert "404" not in paths["/api/config/claraaetitle"]["get"]["responses"]  # a list is never "not found"
    assert "409" not in paths["/api/config/claraaetitle/{name}"]["delete"]["responses"]


def test_every_operation_has_a_summary_a_description_and_a_response_schema(app: Any) -> None:
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") and operation.get("description"), (method, path)
            for code, response in operation["responses"].items():
                content = response.get("content", {})
                if code.startswith("2") and "application/json" in content:
                    assert content["application/json"]["schema"], (method, path, code)
                    assert content["application/json"]["schema"] != {"type": "object", "additionalProperties": True}


def test_entity_schemas_name_clara_s_fields(app: Any) -> None:
    schemas = app.openapi()["components"]["schemas"]
    assert {"name", "aeTitle", "processorSettings"} <= set(schemas["ClaraAeTitleOut"]["properties"])
    assert {"name", "aeTitle", "hostIp", "port"} <= set(schemas["DestinationOut"]["properties"])
    assert {"success", "message", "elapsedMs"} <= set(schemas["EchoOut"]["properties"])
