"""DICOM TLS on the SCP with DCMTK's storescu as the PACS: mutual TLS stores, anything else is refused."""

from __future__ import annotations

import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicom_adapter.scp.config import ScpTlsSettings
from openclara.tls import CertificateReloader, server_context
from tests.conftest import require_peer
from tests.pki import Pki, make_pki
from tests.support import http
from tests.support.harness import Adapter, free_port, seed, write_study

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def adapter(tmp_path: Path, pki: Pki) -> Iterator[Adapter]:
    tls_port = free_port()
    tls = {"port": tls_port, "cert_file": str(pki.server_crt), "key_file": str(pki.server_key),
           "client_ca_file": str(pki.ca_crt)}
    running = Adapter(tmp_path, f"127.0.0.1:{free_port()}", seed=seed({"seg": uuid.uuid4().hex}),
                      extra={"scp": {"tls": tls}})
    running.start()
    try:
        yield running
    finally:
        assert running.service is not None
        running.service.terminate()


def _tls_port(adapter: Adapter) -> int:
    return int(adapter.extra["scp"]["tls"]["port"])


def storescu_tls(port: int, files: list[Path], *tls: str) -> tuple[int, str]:
    argv = [require_peer("storescu"), "-nh", "-aec", "CLARA", "-aet", "STORESCU", *tls, "127.0.0.1", str(port),
            *map(str, files)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def test_storescu_with_a_client_certificate_stores_over_tls(adapter: Adapter, pki: Pki, tmp_path: Path) -> None:
    study = write_study(tmp_path / "study", series=1, per_series=2)
    code, output = storescu_tls(_tls_port(adapter), study, "+tls", str(pki.client_key), str(pki.client_crt),
                                "+cf", str(pki.ca_crt))
    assert code == 0, output
    payloads = http.get(f"{adapter.api}/api/payloads", timeout=10).json()
    assert [p["instances"] for p in payloads] == [2]


def test_without_a_client_certificate_or_without_tls_nothing_is_stored(adapter: Adapter, pki: Pki,
                                                                        tmp_path: Path) -> None:
    study = write_study(tmp_path / "study", series=1, per_series=1)
    anonymous, _ = storescu_tls(_tls_port(adapter), study, "+tla", "+cf", str(pki.ca_crt))
    plain, _ = storescu_tls(_tls_port(adapter), study)
    assert anonymous != 0 and plain != 0
    assert http.get(f"{adapter.api}/api/payloads", timeout=10).json() == []


def test_tls_required_leaves_no_plain_listener(tmp_path: Path, pki: Pki) -> None:
    tls = {"port": free_port(), "cert_file": str(pki.server_crt), "key_file": str(pki.server_key),
           "required": True}
    running = Adapter(tmp_path, f"127.0.0.1:{free_port()}", seed=seed({"seg": uuid.uuid4().hex}),
                      extra={"scp": {"tls": tls}})
    running.start()
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", running.dicom_port), timeout=2).close()
        study = write_study(tmp_path / "study", series=1, per_series=1)
        code, output = storescu_tls(tls["port"], study, "+tla", "+cf", str(pki.ca_crt))  # no client CA configured
        assert code == 0, output
    finally:
        assert running.service is not None
        running.service.terminate()


def test_a_renewed_certificate_is_used_without_a_restart(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    settings = ScpTlsSettings(port=0, cert_file=pki.server_crt, key_file=pki.server_key)
    context = server_context(settings)
    reloader = CertificateReloader(context, settings, "scp")
    assert reloader.check() is False  # nothing changed
    renewed = make_pki(tmp_path / "pki", server_name="renewed")
    pki.server_crt.write_bytes(renewed.renewed_crt.read_bytes())
    pki.server_key.write_bytes(renewed.renewed_key.read_bytes())
    assert reloader.check() is True
    assert isinstance(context, ssl.SSLContext)


def test_tls_settings_name_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cert_file .*key_file"):
        ScpTlsSettings(port=2762)
    with pytest.raises(ValueError, match="needs scp.tls.port"):
        ScpTlsSettings(required=True)
