from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from dicom_adapter.api import ApiDependencies, EchoResult, create_app
from dicom_adapter.config.registry import AeRegistry
from dicom_adapter.db import AdapterDatabase, AssociationRepository, ConfigRepository, IngestBatch, PayloadRepository
from dicom_adapter.metrics import AdapterMetrics
from dicom_adapter.models import DestinationAeTitle, JobPriority, Payload, PayloadState
from dicom_adapter.payloads.submitter import PayloadSubmitter
from dicom_adapter.scp.ports import AssociationRecord
from dicom_adapter.settings import ApiSettings, PlatformClientSettings
from tests.dicom_adapter.fakes import FakePlatform, FakeSpool, make_instance
from tests.support import http

P1 = "a" * 32
P2 = "b" * 32
UNKNOWN = "0" * 32
CLARA = {"aeTitle": "CLARA", "processorSettings": {"timeout": "2", "priority": "Higher", "pipeline-seg": P1}}


class Pipelines:
    async def pipeline_exists(self, pipeline_id: str) -> bool | None:
        return pipeline_id != UNKNOWN


async def fake_echo(destination: DestinationAeTitle) -> EchoResult:
    ok = destination.port == 104
    return EchoResult(ok, "C-ECHO succeeded" if ok else "no association", 0 if ok else None, 1.0)


@pytest.fixture
async def env(tmp_path: Path):
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    config = ConfigRepository(db)
    registry = AeRegistry(config, resolver=lambda name: set())
    deps = ApiDependencies(
        config=config,
        registry=registry,
        payloads=PayloadRepository(db),
        associations=AssociationRepository(db),
        metrics=AdapterMetrics(),
        status=lambda: {"activeDimseConnections": 0, "services": {"ScpService": "Running"}},
        ready=lambda: True,
        echo=fake_echo,
        pipelines=Pipelines(),
    )
    transport = httpx.ASGITransport(app=create_app(deps, ApiSettings(allowed_hosts=["adapter"])))
    async with http.AsyncClient(transport=transport, base_url="http://adapter") as client:
        yield client, registry, deps
    await db.stop()


async def test_create_clara_ae_title_returns_201_with_location_and_applies_live(env):
    client, registry, _ = env
    response = await client.post("/api/config/claraaetitle", json=CLARA)
    assert response.status_code == 201
    assert response.headers["location"] == "/api/config/claraaetitle/CLARA"
    body = response.json()
    assert body["processorSettings"]["priority"] == "higher"
    assert registry.clara_ae_title("CLARA") is not None
    assert (await client.get("/api/config/claraaetitle/clara")).json()["aeTitle"] == "CLARA"
    assert [e["name"] for e in (await client.get("/api/config/claraaetitle")).json()] == ["CLARA"]


async def test_routes_are_case_insensitive_like_clara(env):
    client, _, _ = env
    assert (await client.post("/api/config/ClaraAeTitle/", json=CLARA)).status_code == 201
    assert (await client.get("/API/Config/CLARAAETITLE/CLARA")).status_code == 200


async def test_duplicate_ae_title_is_a_409_problem(env):
    client, _, _ = env
    await client.post("/api/config/claraaetitle", json=CLARA)
    response = await client.post("/api/config/claraaetitle", json={**CLARA, "name": "other"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "already exists" in response.json()["detail"]


async def test_a_409_names_an_ae_title_named_after_itself_once(env):
    client, _, _ = env
    await client.post("/api/config/claraaetitle", json=CLARA)
    response = await client.post("/api/config/claraaetitle", json=CLARA)
    assert response.status_code == 409
    assert response.json()["detail"] == "Clara AE title 'CLARA' already exists"


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({**CLARA, "aeTitle": "A" * 17}, "aeTitle", "at most 16"),
        ({**CLARA, "aeTitle": "BAD\\AE"}, "aeTitle", "not allowed"),
        ({"aeTitle": "X", "processorSettings": {"timeout": "5"}}, "processorSettings", "pipeline-"),
        ({"aeTitle": "X", "processorSettings": {"pipeline-a": P1, "timeout": "-1"}}, "processorSettings.timeout", ""),
        (
            {"aeTitle": "X", "processorSettings": {"pipeline-a": P1, "priority": "urgent"}},
            "processorSettings.priority",
            "not one of",
        ),
        ({"aeTitle": "X", "processorSettings": {"pipeline-a": P1, "groupBy": "zz"}}, "processorSettings.groupBy", ""),
        ({"aeTitle": "X", "processorSettings": {"pipeline-a": P1, "color": "red"}}, "processorSettings.color", ""),
        (
            {"aeTitle": "X", "processorSettings": {"pipeline-x": "nonsense"}},
            "processorSettings.pipeline-x",
            "pipeline id 'nonsense' is not a Clara identifier (32 hexadecimal characters",
        ),
    ],
)
async def test_invalid_clara_ae_title_is_a_400_problem_naming_the_field(env, body, field, text):
    client, _, _ = env
    response = await client.post("/api/config/claraaetitle", json=body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["title"] == "Validation error."
    assert field in [e["field"] for e in problem["errors"]]
    assert text in problem["detail"]


async def test_unknown_pipeline_is_saved_with_a_warning(env):
    client, _, _ = env
    response = await client.post(
        "/api/config/claraaetitle", json={"aeTitle": "X", "processorSettings": {"pipeline-a": UNKNOWN}}
    )
    assert response.status_code == 201
    assert "not known to the platform" in response.json()["warnings"][0]
    assert "Warning" in response.headers


async def test_dashed_guid_pipeline_id_is_accepted_like_the_platform_does(env):
    client, registry, _ = env
    dashed = "AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA"
    body = {"aeTitle": "X", "processorSettings": {"pipeline-a": dashed}}
    response = await client.post("/api/config/claraaetitle", json=body)
    assert response.status_code == 201
    ae = registry.clara_ae_title("X")
    assert ae is not None and ae.pipelines == {"a": dashed}


async def test_update_and_delete_clara_ae_title(env):
    client, registry, _ = env
    await client.post("/api/config/claraaetitle", json=CLARA)
    updated = {**CLARA, "processorSettings": {"pipeline-seg": P2, "groupBy": "0020,000e"}}
    response = await client.put("/api/config/claraaetitle/CLARA", json=updated)
    assert response.status_code == 200
    ae = registry.clara_ae_title("CLARA")
    assert ae is not None and ae.pipelines == {"seg": P2} and ae.group_by == "0020,000E"
    assert (await client.delete("/api/config/claraaetitle/CLARA")).json()["aeTitle"] == "CLARA"
    assert registry.clara_ae_title("CLARA") is None
    missing = await client.delete("/api/config/claraaetitle/CLARA")
    assert missing.status_code == 404
    assert "not found" in missing.json()["detail"]


async def test_sources_crud_and_validation(env):
    client, registry, _ = env
    created = await client.post("/api/config/sourceaetitle", json={"aeTitle": "PACS", "hostIp": "10.0.0.0/24"})
    assert created.status_code == 201
    assert registry.source_allowed("PACS", "10.0.0.7")
    bad = await client.post("/api/config/sourceaetitle", json={"aeTitle": "PACS2", "hostIp": "not a host"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "hostIp"
    moved = await client.put("/api/config/sourceaetitle/PACS", json={"aeTitle": "PACS", "hostIp": "10.9.0.1"})
    assert moved.is_success
    assert registry.source_allowed("PACS", "10.9.0.1")
    assert (await client.delete("/api/config/sourceaetitle/pacs")).status_code == 200
    assert not registry.source_allowed("PACS", "10.9.0.1")


async def test_destinations_crud_and_cecho(env):
    client, _, _ = env
    ok = {"name": "MyPacs", "aeTitle": "PACS", "hostIp": "127.0.0.1", "port": 104}
    assert (await client.post("/api/config/destinationaetitle", json=ok)).status_code == 201
    bad_port = await client.post("/api/config/destinationaetitle", json={**ok, "name": "x", "port": 70000})
    assert bad_port.status_code == 400 and bad_port.json()["errors"][0]["field"] == "port"
    echo = await client.post("/api/config/destinationaetitle/mypacs/cecho")
    assert echo.status_code == 200 and echo.json()["success"] is True
    await client.put("/api/config/destinationaetitle/MyPacs", json={**ok, "port": 105})
    failed = await client.post("/api/config/destinationaetitle/MyPacs/cecho")
    assert failed.status_code == 502 and failed.json()["success"] is False
    assert (await client.post("/api/config/destinationaetitle/nope/cecho")).status_code == 404


async def test_health_metrics_and_associations(env):
    client, _, deps = env
    assert (await client.get("/health/live")).json() == "Healthy"
    assert (await client.get("/health/ready")).json() == "Healthy"
    assert (await client.get("/health/status")).json()["activeDimseConnections"] == 0
    record = AssociationRecord("a1", "PACS", "CLARA", "127.0.0.1", 4000, 1.0, 2.5, 3, 300, "released")
    await deps.associations.add([record])
    history = (await client.get("/api/associations")).json()
    assert history[0]["durationSeconds"] == 1.5 and history[0]["outcome"] == "released"
    deps.metrics.instances.labels(called_ae_title="CLARA").inc()
    text = (await client.get("/metrics")).text
    assert 'openclara_dicom_instances_received_total{called_ae_title="CLARA"} 1.0' in text
    assert 'openclara_dicom_payloads{state="receiving"} 0.0' in text


# jobRetryDelay ------------------------------------------------------------------------------------------


async def test_job_retry_delay_defaults_to_5000_and_round_trips_as_set(env):
    client, registry, _ = env
    created = await client.post("/api/config/claraaetitle", json=CLARA)
    assert created.json()["processorSettings"]["jobRetryDelay"] == "5000"
    ae = registry.clara_ae_title("CLARA")
    assert ae is not None and ae.job_retry_delay_ms == 5000
    updated = {**CLARA, "processorSettings": {**CLARA["processorSettings"], "JobRetryDelay": 1000}}
    assert (await client.put("/api/config/claraaetitle/CLARA", json=updated)).status_code == 200
    assert (await client.get("/api/config/claraaetitle/CLARA")).json()["processorSettings"]["jobRetryDelay"] == "1000"
    ae = registry.clara_ae_title("CLARA")
    assert ae is not None and ae.job_retry_delay_ms == 1000
    zero = {**CLARA, "processorSettings": {**CLARA["processorSettings"], "jobRetryDelay": "0"}}
    assert (await client.put("/api/config/claraaetitle/CLARA", json=zero)).json()["processorSettings"][
        "jobRetryDelay"
    ] == "0"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1.5", "'1.5' is not a whole number of milliseconds (e.g. 5000)"),
        (2.5, "'2.5' is not a whole number of milliseconds"),
        ("5s", "'5s' is not a whole number of milliseconds"),
        ("", "'' is not a whole number of milliseconds"),
        (True, "'True' is not a whole number of milliseconds"),
        ("-1", "must be between 0 and 86400000 milliseconds"),
        (86_400_001, "must be between 0 and 86400000 milliseconds"),
    ],
)
async def test_invalid_job_retry_delay_is_a_400_problem_and_saves_nothing(env, value, text):
    client, _, _ = env
    body = {"aeTitle": "X", "processorSettings": {"pipeline-a": P1, "jobRetryDelay": value}}
    response = await client.post("/api/config/claraaetitle", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    (error,) = problem["errors"]
    assert error["field"] == "processorSettings.jobRetryDelay" and text in error["message"]
    assert f"processorSettings.jobRetryDelay: {text}" in problem["detail"]
    assert (await client.get("/api/config/claraaetitle")).json() == []


# Re-driving faulted payloads when an AE title changes ---------------------------------------------------


class Redrive:
    def __init__(self, result: int | Exception = 0) -> None:
        self.calls: list[str] = []
        self.result = result

    async def __call__(self, called_ae_title: str) -> int:
        self.calls.append(called_ae_title)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


async def test_create_and_update_of_a_clara_ae_title_redrive_its_faulted_payloads(env):
    client, _, deps = env
    deps.redrive_faulted = Redrive(0)
    created = await client.post("/api/config/claraaetitle", json=CLARA)
    assert "redrivenPayloads" not in created.json()  # Clara's shape when there was nothing to do
    deps.redrive_faulted.result = 2
    updated = await client.put("/api/config/claraaetitle/clara", json=CLARA)
    assert updated.status_code == 200 and updated.json()["redrivenPayloads"] == 2
    recreated = await client.post("/api/config/claraaetitle", json={**CLARA, "name": "other", "aeTitle": "OTHER"})
    assert recreated.json()["redrivenPayloads"] == 2
    assert deps.redrive_faulted.calls == ["CLARA", "CLARA", "OTHER"]
    await client.post("/api/config/sourceaetitle", json={"aeTitle": "PACS", "hostIp": "10.0.0.1"})
    await client.delete("/api/config/claraaetitle/other")
    assert deps.redrive_faulted.calls == ["CLARA", "CLARA", "OTHER"]  # only create/update of Clara AE titles


async def test_failed_redrive_keeps_the_saved_change_and_warns(env):
    client, registry, deps = env
    deps.redrive_faulted = Redrive(RuntimeError("database is locked"))
    response = await client.post("/api/config/claraaetitle", json=CLARA)
    assert response.status_code == 201
    assert response.json()["warnings"] == [
        "faulted payloads were not re-driven (database is locked); retry them with POST /api/payloads/{id}/retry"
    ]
    assert registry.clara_ae_title("CLARA") is not None


async def test_payload_count_counts_payloads_created_since_a_time(env, tmp_path):
    client, _, deps = env
    for number, created in enumerate((100.0, 200.0, 300.0)):
        instance = make_instance(tmp_path, f"1.2.3.{number}")
        payload = Payload(f"p{number}", "CLARA", f"1.2.{number}", PayloadState.RECEIVING, created, created)
        await deps.payloads.apply(IngestBatch([payload], [(f"p{number}", instance)], [], []))
    await deps.payloads.set_state("p2", PayloadState.FAULTED, error="x")  # any state counts
    assert (await client.get("/api/payloads/count", params={"since": 200})).json() == {"since": 200.0, "count": 2}
    assert (await client.get("/api/payloads/count")).json()["count"] == 3
    refused = await client.get("/api/payloads/count", params={"since": -1})
    assert refused.status_code == 400 and "since" in refused.text
    transport = httpx.ASGITransport(app=create_app(deps, ApiSettings(allowed_hosts=["adapter"])))
    async with httpx.AsyncClient(transport=transport, base_url="http://adapter") as anonymous:
        assert (await anonymous.get("/api/payloads/count")).status_code == 401


async def faulted_payload(deps: ApiDependencies, tmp_path: Path) -> str:
    instance = make_instance(tmp_path, "1.2.3.4.5")
    payload = Payload("p1", "CLARA", "1.2.3", PayloadState.RECEIVING, 1.0, 1.0)
    await deps.payloads.apply(IngestBatch([payload], [("p1", instance)], [], []))
    await deps.payloads.close("p1", {"seg": UNKNOWN}, JobPriority.NORMAL, 2.0)
    await deps.payloads.set_state("p1", PayloadState.FAULTED, error=f"pipeline {UNKNOWN} not found")
    return "p1"


async def test_manual_retry_answers_202_then_409_and_404_with_the_reason(env, tmp_path):
    client, registry, deps = env
    submitter = PayloadSubmitter(
        deps.payloads, FakePlatform(), FakeSpool(), PlatformClientSettings(), registry=registry
    )
    deps.retry_payload = submitter.retry
    await client.post("/api/config/claraaetitle", json=CLARA)
    payload_id = await faulted_payload(deps, tmp_path)
    retried = await client.post(f"/api/payloads/{payload_id}/retry")
    assert retried.status_code == 202 and retried.json() == {"payloadId": payload_id, "state": "closed"}
    closed = await deps.payloads.get(payload_id)
    assert closed is not None and closed.pipelines == {"seg": P1}  # the AE title's current pipelines
    again = await client.post(f"/api/payloads/{payload_id}/retry")
    assert again.status_code == 409 and again.json()["detail"] == (
        f"payload {payload_id} is closed; only faulted payloads retry"
    )
    await deps.payloads.set_state(payload_id, PayloadState.FAULTED, error="x")
    (await deps.payloads.active_instances(payload_id))[0].path.unlink()
    gone = await client.post(f"/api/payloads/{payload_id}/retry")
    assert gone.status_code == 409 and "1 of 1 spool files are gone; it cannot be submitted again" in gone.text
    missing = await client.post("/api/payloads/nope/retry")
    assert missing.status_code == 404 and missing.json()["detail"] == "payload 'nope' not found"
