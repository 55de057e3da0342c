"""DICOM TLS on the export SCU, per destination, with DCMTK's `storescp +tls` as the hospital PACS.

The export agent runs in-process against the fake results service and payload store of the export tests;
only the PACS is real. Server-only TLS stores, mutual TLS stores with our certificate and fails without it,
an untrusted PACS certificate fails the task for a retry (nothing lost), and the C-ECHO goes over TLS too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dicom_adapter.export.agent import ExportAgent
from dicom_adapter.export.progress import ProgressRepository
from dicom_adapter.export.settings import ExportSettings
from dicom_adapter.export.transport import TlsTargets
from dicom_adapter.export.verification import echo
from dicom_adapter.models import DestinationAeTitle, DestinationTls
from openclara.tls import ClientTlsSettings
from tests.conftest import free_port, require_peer
from tests.dicom_adapter.export.fakes import FakeDestinations, FakePayloads, FakeResults
from tests.pki import Pki, make_pki
from tests.support import http
from tests.support.harness import Adapter
from tests.support.instances import make_series
from tests.support.processes import received_files, storescp

pytestmark = pytest.mark.integration

FILES = 3


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Another hospital's CA: its certificates are not the PACS's."""
    return make_pki(tmp_path_factory.mktemp("other-pki"))


@pytest.fixture
def payload(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "payloads"
    files = make_series(root / "payload-1" / "seg", FILES)
    return root, [f"seg/{f.name}" for f in files]


def _pacs(tmp_path: Path, pki: Pki, *, mutual: bool) -> Iterator[tuple[int, Path]]:
    """storescp over TLS with the server certificate; `mutual`: it requires a client certificate of our CA."""
    port, out = free_port(), tmp_path / "pacs"
    peer = ["+cf", str(pki.ca_crt), "-rc"] if mutual else ["-ic"]
    with storescp(require_peer("storescp"), out, port, "PACS", "+tls", str(pki.server_key), str(pki.server_crt),
                  *peer):
        yield port, out


@pytest.fixture
def pacs(tmp_path: Path, pki: Pki) -> Iterator[tuple[int, Path]]:
    yield from _pacs(tmp_path, pki, mutual=False)


@pytest.fixture
def mutual_pacs(tmp_path: Path, pki: Pki) -> Iterator[tuple[int, Path]]:
    yield from _pacs(tmp_path, pki, mutual=True)


def _destination(port: int, tls: DestinationTls | None) -> DestinationAeTitle:
    return DestinationAeTitle("Pacs", "PACS", "127.0.0.1", port, tls)


def _agent(tmp_path: Path, results: FakeResults, destination: DestinationAeTitle, root: Path,
           tls: ClientTlsSettings | None = None) -> tuple[ExportAgent, FakeDestinations]:
    destinations = FakeDestinations({destination.name.lower(): destination})
    settings = ExportSettings(
        state_dir=tmp_path / "state",
        poll_interval_min_seconds=0.02,
        poll_interval_max_seconds=0.1,
        retry_backoff_base_seconds=0.2,
        retry_backoff_max_seconds=0.5,
        connect_timeout_seconds=5,
        acse_timeout_seconds=5,
        tls=tls or ClientTlsSettings(),
    )
    agent = ExportAgent(settings, destinations, progress=ProgressRepository.from_settings(settings),
                        payloads=FakePayloads(root), results=results)
    return agent, destinations


async def _until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def _export(tmp_path: Path, payload: tuple[Path, list[str]], destination: DestinationAeTitle,
                  tls: ClientTlsSettings | None = None) -> FakeResults:
    """One task to `destination`, until its first report."""
    root, uris = payload
    results = FakeResults()
    results.add("t1", '"Pacs"', uris)
    agent, _ = _agent(tmp_path, results, destination, root, tls)
    await agent.start()
    try:
        await _until(lambda: results.reports)
    finally:
        await agent.stop()
    return results


async def test_export_over_tls_stores_every_file_at_the_pacs(tmp_path, payload, pki, pacs):
    port, out = pacs
    results = await _export(tmp_path, payload, _destination(port, DestinationTls(ca_file=pki.ca_crt)))
    assert results.reports == [("t1", "success", None, "")]
    assert len(received_files(out)) == FILES


async def test_an_untrusted_pacs_certificate_fails_for_a_retry_and_the_fixed_destination_gets_every_file(
    tmp_path, payload, pki, other_pki, pacs
):
    port, out = pacs
    root, uris = payload
    results = FakeResults()
    results.add("t1", '"Pacs"', uris)
    agent, destinations = _agent(tmp_path, results, _destination(port, DestinationTls(ca_file=other_pki.ca_crt)),
                                 root)
    await agent.start()
    try:
        await _until(lambda: results.reports)
        _, outcome, retry_later, reason = results.reports[0]
        assert (outcome, retry_later) == ("failure", True)
        assert "certificate is not trusted" in reason and "DICOM TLS to 127.0.0.1" in reason
        assert received_files(out) == []
        # The operator corrects the CA file: the retried task delivers everything, once.
        destinations.by_name["pacs"] = _destination(port, DestinationTls(ca_file=pki.ca_crt))
        await _until(lambda: results.states["t1"] in ("Succeeded", "Failed"))
    finally:
        await agent.stop()
    assert results.states["t1"] == "Succeeded"
    assert len(received_files(out)) == FILES


async def test_a_wrong_server_name_is_refused(tmp_path, payload, pki, pacs):
    port, out = pacs
    tls = DestinationTls(ca_file=pki.ca_crt, server_name="pacs.elsewhere.example")
    results = await _export(tmp_path, payload, _destination(port, tls))
    [(_, outcome, retry_later, reason)] = results.reports
    assert (outcome, retry_later) == ("failure", True)
    assert "mismatch" in reason
    assert received_files(out) == []


async def test_mutual_tls_stores_with_our_client_certificate(tmp_path, payload, pki, mutual_pacs):
    port, out = mutual_pacs
    tls = DestinationTls(ca_file=pki.ca_crt, cert_file=pki.client_crt, key_file=pki.client_key)
    results = await _export(tmp_path, payload, _destination(port, tls))
    assert results.reports == [("t1", "success", None, "")]
    assert len(received_files(out)) == FILES


async def test_mutual_tls_without_a_client_certificate_fails_and_stores_nothing(tmp_path, payload, pki,
                                                                                mutual_pacs):
    port, out = mutual_pacs
    results = await _export(tmp_path, payload, _destination(port, DestinationTls(ca_file=pki.ca_crt)))
    [(_, outcome, retry_later, reason)] = results.reports
    assert (outcome, retry_later) == ("failure", True)
    assert "requires a client certificate" in reason  # TLS 1.3's alert, read while waiting for the A-ASSOCIATE-AC
    assert received_files(out) == []


async def test_tls_true_takes_the_export_tls_files(tmp_path, payload, pki, mutual_pacs):
    """A site sets its CA and client certificate once (`export.tls`); a destination only switches TLS on."""
    port, out = mutual_pacs
    site = ClientTlsSettings(ca_file=pki.ca_crt, cert_file=pki.client_crt, key_file=pki.client_key)
    results = await _export(tmp_path, payload, _destination(port, DestinationTls()), tls=site)
    assert results.reports == [("t1", "success", None, "")]
    assert len(received_files(out)) == FILES


async def test_a_plain_destination_does_not_speak_to_a_tls_port(tmp_path, payload, pacs):
    port, out = pacs
    results = await _export(tmp_path, payload, _destination(port, None))
    assert results.reports[0][1:3] == ("failure", True)
    assert received_files(out) == []


async def test_c_echo_goes_over_tls_and_says_why_it_fails(pki, other_pki, mutual_pacs):
    port, _ = mutual_pacs
    targets = TlsTargets(ClientTlsSettings(cert_file=pki.client_crt, key_file=pki.client_key))
    trusted = await echo(_destination(port, DestinationTls(ca_file=pki.ca_crt)), "ClaraSCU", 5, tls=targets)
    assert trusted.success, trusted.message
    untrusted = await echo(_destination(port, DestinationTls(ca_file=other_pki.ca_crt)), "ClaraSCU", 5, tls=targets)
    assert not untrusted.success
    assert "(DICOM TLS)" in untrusted.message and "certificate is not trusted" in untrusted.message
    plain = await echo(_destination(port, None), "ClaraSCU", 5, tls=targets)
    assert not plain.success


def test_the_rest_c_echo_of_a_seeded_destination_uses_the_site_tls_files(tmp_path, pki, other_pki, mutual_pacs):
    """The whole adapter: a seeded destination with `tls: true`, `export.tls` holding the site's files."""
    port, _ = mutual_pacs
    site = {"ca_file": str(pki.ca_crt), "cert_file": str(pki.client_crt), "key_file": str(pki.client_key)}
    destination = {"name": "Pacs", "aeTitle": "PACS", "hostIp": "127.0.0.1", "port": port}
    adapter = Adapter(tmp_path, f"127.0.0.1:{free_port()}", seed={"destinations": [{**destination, "tls": True}]},
                      extra={"export": {"tls": site}})
    adapter.start()
    try:
        url = f"{adapter.api}/api/config/destinationaetitle/Pacs"
        assert http.get(url, timeout=10).json()["tls"]["enabled"] is True
        echoed = http.post(f"{url}/cecho", timeout=30)
        assert echoed.status_code == 200 and echoed.json()["success"] is True, echoed.text
        untrusted = {**destination, "tls": {"caFile": str(other_pki.ca_crt)}}
        assert http.put(url, json=untrusted, timeout=10).status_code == 200
        refused = http.post(f"{url}/cecho", timeout=30)
        assert refused.status_code == 502 and "certificate is not trusted" in refused.json()["message"]
    finally:
        assert adapter.service is not None
        adapter.service.terminate()
