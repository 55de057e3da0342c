"""HTTPS on both REST services, as real processes on loopback: tokens still needed, health still public,
plain HTTP and unverified clients refused, client certificates required when asked, a renewed certificate
served without a restart, and every client of the stack (export agent, register_results) over HTTPS."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import ValidationError

from dicom_adapter.settings import AdapterSettings, apply_clara_environment
from openclara.https import client_tls_from_env
from openclara.tls import ClientTlsSettings, client_context
from platform_server.executors.base import Mount
from platform_server.executors.environment import RESULTS_HOST_KEY, container_environment
from platform_server.jobs.runner import RESULTS_CA_PATH
from platform_server.settings import ResultsServiceSettings
from results_service.settings import ResultsSettings
from tests.conftest import free_port
from tests.pki import Pki, make_pki
from tests.support import http
from tests.support.processes import Process, dicom_adapter, python_module, running, wait_for

pytestmark = pytest.mark.integration
AGENT = "ClaraSCU"


@dataclass(frozen=True)
class Service:
    url: str
    port: int
    folder: Path


def _verified(pki: Pki, *, client_certificate: bool = False) -> ssl.SSLContext:
    return client_context(ClientTlsSettings(enabled=True, ca_file=pki.ca_crt,
                                            cert_file=pki.client_crt if client_certificate else None,
                                            key_file=pki.client_key if client_certificate else None))


def _answers(url: str, verify: ssl.SSLContext) -> bool:
    try:
        return httpx.get(f"{url}/health/live", verify=verify, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _results_process(folder: Path, pki: Pki, tls: dict[str, object]) -> tuple[Process, Service]:
    port = free_port()
    config = {"host": "127.0.0.1", "port": port, "database": {"path": str(folder / "results.db")},
              "cleanup": {"enabled": False}, "log_level": "INFO", "tls": tls}
    (folder / "results-service.yaml").write_text(yaml.safe_dump(config))
    proc = Process(python_module("results_service", "serve", "-f", str(folder / "results-service.yaml")),
                   folder / "results-service.log", env={"CLARA_HOME": str(folder / "home")})
    return proc, Service(f"https://127.0.0.1:{port}", port, folder)


@pytest.fixture(scope="module")
def results(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The results service on HTTPS (server certificate only)."""
    proc, service = _results_process(tmp_path_factory.mktemp("results"),
                                     pki, {"cert_file": str(pki.server_crt), "key_file": str(pki.server_key)})
    with running(proc, lambda: _answers(service.url, _verified(pki)), 60, "the results service on HTTPS"):
        yield service


@pytest.fixture(scope="module")
def adapter(pki: Pki, results: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The DICOM adapter with its API on mutual TLS, its export agent leasing from `results` over HTTPS."""
    folder = tmp_path_factory.mktemp("adapter")
    api_port = free_port()
    with pytest.MonkeyPatch.context() as env:
        for key, path in (("API__TLS__CERT_FILE", pki.server_crt), ("API__TLS__KEY_FILE", pki.server_key),
                          ("API__TLS__CLIENT_CA_FILE", pki.ca_crt), ("RESULTS__TLS__CA_FILE", pki.ca_crt)):
            env.setenv(f"CLARA_DICOM_{key}", str(path))
        seed = {"destinations": [{"name": "PACS", "aeTitle": "PACS", "hostIp": "127.0.0.1", "port": 9}]}
        with dicom_adapter(folder, dicom_port=free_port(), api_port=api_port, platform="127.0.0.1:9",
                           results=results.url, seed=seed, export={"ae_title": AGENT}):
            service = Service(f"https://127.0.0.1:{api_port}", api_port, folder)
            wait_for(lambda: _answers(service.url, _verified(pki, client_certificate=True)), 60, "the adapter API")
            yield service


def test_results_service_serves_https_with_tokens(results: Service, pki: Pki) -> None:
    verify = _verified(pki)
    assert httpx.get(f"{results.url}/api/tasks", verify=verify, timeout=5).status_code == 401
    assert http.get(f"{results.url}/api/tasks", verify=verify, timeout=5).status_code == 200
    for probe in ("live", "ready"):  # health probes stay public over HTTPS
        assert httpx.get(f"{results.url}/health/{probe}", verify=verify, timeout=5).status_code == 200
    assert "service.listening" in (results.folder / "results-service.log").read_text()


def test_plain_http_and_unverified_clients_are_refused(results: Service) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{results.port}/health/live", timeout=5)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{results.url}/health/live", timeout=5)  # the system's CAs do not know ours


def test_adapter_api_requires_a_client_certificate(adapter: Service, pki: Pki) -> None:
    mutual = _verified(pki, client_certificate=True)
    assert http.get(f"{adapter.url}/api/config/destinationaetitle", verify=mutual, timeout=5).status_code == 200
    assert httpx.get(f"{adapter.url}/api/config/destinationaetitle", verify=mutual, timeout=5).status_code == 401
    assert httpx.get(f"{adapter.url}/health/live", verify=mutual, timeout=5).status_code == 200
    with pytest.raises(httpx.TransportError):  # the token is no substitute for the certificate
        http.get(f"{adapter.url}/health/live", verify=_verified(pki), timeout=5)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{adapter.port}/health/live", timeout=5)


def test_export_agent_leases_over_https(adapter: Service, results: Service, pki: Pki) -> None:
    body = {"jobId": "job-https", "parameters": '"PACS"', "uris": ["operators/seg/output/seg.dcm"]}
    registered = http.post(f"{results.url}/api/tasks/register/{AGENT}", json=body, verify=_verified(pki), timeout=5)
    assert registered.status_code in (200, 201), registered.text
    task_id = registered.json()["taskId"]

    def leased() -> bool:
        task = http.get(f"{results.url}/api/tasks/{task_id}", verify=_verified(pki), timeout=5).json()
        # A download from the (absent) platform fails, so the task may be Pending again: with a retry counted.
        return bool(task["state"] != "Pending" or task["retries"] or task["lastError"])

    wait_for(leased, 60, "the export agent to lease the task over HTTPS")
    assert "CERTIFICATE_VERIFY_FAILED" not in (adapter.folder / "dicom-adapter.log").read_text()


def _register(results: Service, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    output = tmp_path / "payload" / "operators" / "seg" / "output"
    output.mkdir(parents=True, exist_ok=True)
    (output / "seg.dcm").write_bytes(b"seg")
    operator_env = {
        **os.environ, "NVIDIA_CLARA_JOBID": "job-operator", "NVIDIA_CLARA_INPUTPATHS": f"seg:{output}",
        "CLARA_RESULTSSERVICE_SERVICE_HOST": "127.0.0.1", "CLARA_RESULTSSERVICE_SERVICE_PORT": str(results.port),
        "CLARA_RESULTSSERVICE_SERVICE_SCHEME": "https", **env,
    }
    return subprocess.run([sys.executable, "-m", "pipeline_operators.register_results", "--agent", AGENT,
                           "--data", '"PACS"', "--retry-seconds", "30"],
                          env=operator_env, capture_output=True, text=True, timeout=90)


def test_register_results_over_https_with_the_ca_variable(results: Service, pki: Pki, tmp_path: Path) -> None:
    done = _register(results, tmp_path, {"CLARA_TLS_CA_FILE": str(pki.ca_crt),
                                         "CLARA_RESULTSSERVICE_TLS_SERVER_NAME": "localhost"})
    assert done.returncode == 0, done.stderr
    tasks = http.get(f"{results.url}/api/tasks", params={"jobId": "job-operator"}, verify=_verified(pki)).json()
    assert [t["uris"] for t in tasks] == [["operators/seg/output/seg.dcm"]]


def test_register_results_without_the_ca_fails_at_once(results: Service, tmp_path: Path) -> None:
    done = _register(results, tmp_path, {})
    assert done.returncode == 2
    assert "certificate was not accepted" in done.stderr and "CLARA_TLS_CA_FILE" in done.stderr


def test_a_renewed_certificate_is_served_without_a_restart(pki: Pki, tmp_path: Path) -> None:
    renewing = tmp_path / "pki"
    renewing.mkdir()
    for name in ("ca.crt", "ca.key"):  # the same CA issues the renewal
        shutil.copy(pki.folder / name, renewing / name)
    first = make_pki(renewing)
    mutual = {"cert_file": str(first.server_crt), "key_file": str(first.server_key),
              "client_ca_file": str(pki.ca_crt), "reload_interval": 0.2}
    proc, service = _results_process(tmp_path, pki, mutual)
    verify = _verified(pki, client_certificate=True)
    with running(proc, lambda: _answers(service.url, verify), 60, "the results service on mutual TLS"):
        with pytest.raises(httpx.TransportError):  # client_ca_file: no certificate, no service
            httpx.get(f"{service.url}/health/live", verify=_verified(pki), timeout=5)
        served = _served_certificate(service.port, verify)
        assert served == ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(first.server_crt.read_text()))
        renewed = make_pki(renewing).server_crt.read_text()
        wait_for(lambda: _served_certificate(service.port, verify) != served, 20, "the renewed certificate")
        assert _served_certificate(service.port, verify) == ssl.DER_cert_to_PEM_cert(ssl.PEM_cert_to_DER_cert(renewed))
        assert _answers(service.url, verify)
        assert proc.alive()
        assert "results.api.tls.reloaded" in proc.log()


def _served_certificate(port: int, verify: ssl.SSLContext) -> str:
    """The certificate a new connection is served, as PEM (a client certificate is sent: mutual TLS)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            verify.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return ssl.DER_cert_to_PEM_cert(der)


def test_settings_errors_name_the_missing_files(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.crt"
    with pytest.raises(ValidationError, match=f"cert_file \\({missing}\\)"):
        ResultsSettings(tls={"cert_file": missing, "key_file": missing})
    with pytest.raises(ValidationError, match=f"key_file \\({missing}\\)"):
        AdapterSettings(api={"tls": {"cert_file": __file__, "key_file": missing}})
    with pytest.raises(ValidationError, match=f"ca_file \\({missing}\\)"):
        AdapterSettings(results={"endpoint": "https://results:8088", "tls": {"ca_file": missing}})
    with pytest.raises(ValidationError, match=f"ca_file \\({missing}\\)"):
        ResultsServiceSettings(url="https://results:8088", ca_file=missing)
    with pytest.raises(ValidationError, match="tls.enabled needs an https:// endpoint"):
        AdapterSettings(results={"endpoint": "http://results:8088", "tls": {"enabled": True}})
    with pytest.raises(ValueError, match=f"CLARA_TLS_CA_FILE names a file that does not exist: {missing}"):
        client_tls_from_env({"CLARA_TLS_CA_FILE": str(missing)})


def test_clara_service_variables_keep_https() -> None:
    settings = AdapterSettings(results={"endpoint": "https://results:8088"})
    env = {"CLARA_RESULTSSERVICE_SERVICE_HOST": "clara-results", "CLARA_RESULTSSERVICE_SERVICE_PORT": "8443"}
    assert apply_clara_environment(settings, env).results.endpoint == "https://clara-results:8443"


async def test_operators_get_the_ca_as_a_read_only_mount(tmp_path: Path, pki: Pki) -> None:
    from tests.platform_server.conftest import FakeExecutor, build
    from tests.platform_server.jobs.test_job_service import new_job

    fake = FakeExecutor()
    platform = await build(tmp_path, fake)
    try:
        runner = platform.runner
        runner._config = replace(runner._config, results_url="https://127.0.0.1:8443", results_ca_file=pki.ca_crt)
        job_id = await new_job(platform)
        await platform.service.start(job_id, {})
        await platform.wait_stopped(job_id)
    finally:
        fake.release.set()
        await platform.scheduler.stop(5)
        await platform.db.stop()
    run = fake.runs[0]
    assert run.env["CLARA_RESULTSSERVICE_SERVICE_SCHEME"] == "https"
    assert run.env["CLARA_RESULTSSERVICE_TLS_SERVER_NAME"] == "127.0.0.1"
    assert run.env["CLARA_TLS_CA_FILE"] == str(pki.ca_crt.resolve())
    ca_mount = Mount("results-ca", RESULTS_CA_PATH, pki.ca_crt.resolve(), True)
    assert ca_mount in run.extra_mounts
    # What the container executor hands the container: the CA at its mount, the host's address rewritten.
    inside = container_environment(run.env, run.inputs, run.outputs, run.extra_mounts, {RESULTS_HOST_KEY: "10.0.2.2"})
    assert inside["CLARA_TLS_CA_FILE"] == RESULTS_CA_PATH
    assert inside[RESULTS_HOST_KEY] == "10.0.2.2" and inside["CLARA_RESULTSSERVICE_TLS_SERVER_NAME"] == "127.0.0.1"


def test_openclara_up_wires_https_and_the_ca(tmp_path: Path, pki: Pki) -> None:
    from launcher.stack import plan

    tls = {"cert_file": str(pki.server_crt), "key_file": str(pki.server_key)}
    (tmp_path / "results-service.yaml").write_text(yaml.safe_dump({"tls": tls}))
    (tmp_path / "dicom-adapter.yaml").write_text(yaml.safe_dump({"api": {"tls": tls}}))
    stack = plan(tmp_path, {"CLARA_TLS_CA_FILE": str(pki.ca_crt)}, resolve_any_port=False)
    assert stack.results.listeners[0].address == "https://127.0.0.1:8088"
    assert stack.dicom.listeners[-1].address == "https://127.0.0.1:5000"
    assert stack.platform.env["CLARA_PLATFORM_RESULTS_SERVICE__URL"] == "https://127.0.0.1:8088"
    assert stack.platform.env["CLARA_PLATFORM_RESULTS_SERVICE__CA_FILE"] == str(pki.ca_crt)
    assert stack.dicom.env["CLARA_DICOM_RESULTS__TLS__CA_FILE"] == str(pki.ca_crt)


def test_cli_verifies_with_the_ca_variable(monkeypatch: pytest.MonkeyPatch, pki: Pki, tmp_path: Path) -> None:
    from clara_cli import https
    from clara_cli.errors import CliError

    monkeypatch.delenv("CLARA_TLS_CA_FILE", raising=False)
    assert https.verify() is True  # nothing set: httpx's own trust store
    monkeypatch.setenv("CLARA_TLS_CA_FILE", str(pki.ca_crt))
    assert isinstance(https.verify(), ssl.SSLContext)
    monkeypatch.setenv("CLARA_TLS_CA_FILE", str(tmp_path / "gone.crt"))
    with pytest.raises(CliError, match="CLARA_TLS_CA_FILE names a file that does not exist"):
        https.verify()
