"""The probe that sent patient data away with two unauthenticated REST calls, replayed against real processes:
repoint destination PACS (PUT) and register another job's files for the export agent (POST). Both now need a
token with the right role; configuration changes are audited with who, what and from where."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from openclara.auth.tokens import digest
from tests.conftest import free_port
from tests.results_service.service_process import ServiceProcess, wait_until
from tests.support import http
from tests.support.processes import dicom_adapter

pytestmark = pytest.mark.integration
READER = "reader-token-for-rest-tests"
REGISTER = {"jobId": "someone-elses-job", "parameters": '"PACS"', "uris": ["input/1.dcm"]}
DESTINATION = {"name": "PACS", "aeTitle": "EVIL", "hostIp": "203.0.113.9", "port": 104}
READER_KEY = json.dumps([{"name": "viewer", "role": "read-only", "sha256": digest(READER)}])


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder = tmp_path_factory.mktemp("results")
    service = ServiceProcess(folder, free_port(), auth={"api_keys": json.loads(READER_KEY),
                                                         "audit_log": str(folder / "audit.log")})
    with service:
        yield service


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("adapter")
    api_port = free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLARA_DICOM_AUTH__API_KEYS", READER_KEY)
        env.setenv("CLARA_DICOM_AUTH__AUDIT_LOG", str(folder / "audit.log"))
        seed = {"destinations": [{"name": "PACS", "aeTitle": "PACS", "hostIp": "127.0.0.1", "port": 4242}]}
        with dicom_adapter(folder, dicom_port=free_port(), api_port=api_port, platform="127.0.0.1:9",
                           results="http://127.0.0.1:9", seed=seed, export={"enabled": False}):
            url = f"http://127.0.0.1:{api_port}"
            wait_until(lambda: _answers(f"{url}/health/live"), what="the adapter API")
            yield url, folder / "audit.log"


def _answers(url: str) -> bool:
    """False until the API listens: its DICOM port may open first, and a refused connection is not an answer yet."""
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_registering_results_needs_an_operator_token(results: ServiceProcess) -> None:
    anonymous = httpx.post(f"{results.url}/api/tasks/register/ClaraSCU", json=REGISTER, timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="openclara"'
    assert anonymous.headers["content-type"] == "application/problem+json"
    reader = httpx.post(f"{results.url}/api/tasks/register/ClaraSCU", json=REGISTER, timeout=5,
                        headers={"Authorization": f"Bearer {READER}"})
    assert reader.status_code == 403
    assert "needs role operator; viewer has read-only" in reader.json()["detail"]
    assert httpx.get(f"{results.url}/api/tasks", headers={"X-API-Key": READER}, timeout=5).status_code == 200
    assert httpx.get(f"{results.url}/api/tasks/ClaraSCU/pending", headers={"X-API-Key": READER},
                     timeout=5).status_code == 403  # leasing is a GET that changes state
    assert http.get(f"{results.url}/api/tasks", timeout=5).json() == []  # nothing was registered


def test_health_probes_stay_public(results: ServiceProcess, adapter: tuple[str, Path]) -> None:
    for url in (results.url, adapter[0]):
        assert httpx.get(f"{url}/health/live", timeout=5).status_code == 200
        assert httpx.get(f"{url}/health/ready", timeout=5).status_code in (200, 503)


def test_repointing_a_destination_needs_admin_and_is_audited(adapter: tuple[str, Path]) -> None:
    url, audit = adapter
    target = f"{url}/api/config/destinationaetitle/PACS"
    assert httpx.put(target, json=DESTINATION, timeout=5).status_code == 401
    assert httpx.put(target, json=DESTINATION, timeout=5,
                     headers={"Authorization": f"Bearer {READER}"}).status_code == 403
    assert http.get(target, timeout=5).json()["hostIp"] == "127.0.0.1"  # unchanged
    moved = http.put(target, json={**DESTINATION, "hostIp": "127.0.0.2"}, timeout=5)  # the admin token
    assert moved.status_code == 200, moved.text
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    puts = [(r["who"], r["outcome"]) for r in records if r["what"] == "http PUT /api/config/destinationaetitle/PACS"]
    assert puts == [("unknown", "refused: no valid token"), ("viewer", "refused: needs role admin"),
                    ("admin", "allowed")]
    assert all(r["from"].startswith("127.0.0.1:") and r["service"] == "dicom" for r in records)


def test_metrics_need_a_token_and_a_read_only_one_reads_them(results: ServiceProcess,
                                                              adapter: tuple[str, Path]) -> None:
    for url, prefix in ((results.url, "openclara_results_"), (adapter[0], "openclara_dicom_")):
        assert httpx.get(f"{url}/metrics", timeout=5).status_code == 401
        assert httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
        reader = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {READER}"}, timeout=5)
        assert reader.status_code == 200 and prefix in reader.text
