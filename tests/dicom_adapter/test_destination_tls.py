"""A destination's DICOM TLS settings: REST body and GET, SQLite round trip and migration, seed, precedence
over `export.tls`, and the cached SSL contexts. The handshakes themselves: tests/security/test_export_tls.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from dicom_adapter.api import ApiDependencies, EchoResult, create_app
from dicom_adapter.config.registry import AeRegistry
from dicom_adapter.config.seed import seed_problems
from dicom_adapter.db import AdapterDatabase, AssociationRepository, ConfigRepository, PayloadRepository
from dicom_adapter.export.errors import DestinationTlsError, RetryableExportError
from dicom_adapter.export.settings import ExportSettings
from dicom_adapter.export.transport import TlsTargets, destination_tls
from dicom_adapter.metrics import AdapterMetrics
from dicom_adapter.models import DestinationAeTitle, DestinationTls
from dicom_adapter.settings import ApiSettings, SeedSettings
from openclara.tls import ClientTlsSettings
from tests.pki import Pki, make_pki
from tests.support import http

PLAIN = {"name": "MyPacs", "aeTitle": "PACS", "hostIp": "127.0.0.1", "port": 2762}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def database(tmp_path: Path):
    db = AdapterDatabase(tmp_path / "adapter.db")
    await db.start()
    yield db
    await db.stop()


@pytest.fixture
async def client(database: AdapterDatabase):
    async def no_echo(destination: DestinationAeTitle) -> EchoResult:
        return EchoResult(False, "not in this test")

    config = ConfigRepository(database)
    deps = ApiDependencies(
        config=config,
        registry=AeRegistry(config, resolver=lambda name: set()),
        payloads=PayloadRepository(database),
        associations=AssociationRepository(database),
        metrics=AdapterMetrics(),
        status=lambda: {},
        ready=lambda: True,
        echo=no_echo,
    )
    transport = httpx.ASGITransport(app=create_app(deps, ApiSettings(allowed_hosts=["adapter"])))
    async with http.AsyncClient(transport=transport, base_url="http://adapter") as api:
        yield api


def _full(pki: Pki) -> dict[str, object]:
    return {
        "caFile": str(pki.ca_crt),
        "certFile": str(pki.client_crt),
        "keyFile": str(pki.client_key),
        "serverName": "pacs.example.org",
    }


# REST ----------------------------------------------------------------------------------------------------


async def test_clara_destination_body_is_unchanged_and_shows_no_tls(client):
    assert (await client.post("/api/config/destinationaetitle", json=PLAIN)).status_code == 201
    assert (await client.get("/api/config/destinationaetitle/mypacs")).json() == PLAIN


async def test_tls_is_accepted_stored_and_shown(client, pki):
    created = await client.post("/api/config/destinationaetitle", json={**PLAIN, "tls": _full(pki)})
    assert created.status_code == 201, created.text
    shown = (await client.get("/api/config/destinationaetitle/MyPacs")).json()
    assert shown["tls"] == {"enabled": True, **_full(pki)}
    switched = await client.put("/api/config/destinationaetitle/MyPacs", json={**PLAIN, "tls": True})
    assert switched.json()["tls"] == {
        "enabled": True,
        "caFile": None,
        "certFile": None,
        "keyFile": None,
        "serverName": None,
    }
    off = await client.put("/api/config/destinationaetitle/MyPacs", json={**PLAIN, "tls": False})
    assert off.json()["tls"]["enabled"] is False


@pytest.mark.parametrize(
    ("tls", "field"),
    [
        ({"caFile": "/nonexistent/ca.pem"}, "tls.caFile"),
        ({"caFile": "ca.pem"}, "tls.caFile"),  # relative: to what?
        ({"certFile": "CLIENT_CRT"}, "tls.keyFile"),
        ({"cafile": "CA_CRT"}, "tls.cafile"),  # a misspelt key is refused, not ignored
        ({"caFile": "CLIENT_KEY"}, "tls.caFile"),  # not a certificate
        ({"certFile": "CLIENT_CRT", "keyFile": "SERVER_KEY"}, "tls.certFile"),  # key of another certificate
        ({"serverName": "10.0.0.0/24"}, "tls.serverName"),
    ],
)
async def test_invalid_tls_is_a_400_naming_the_field(client, pki, tls, field):
    files = {
        "CA_CRT": pki.ca_crt,
        "CLIENT_CRT": pki.client_crt,
        "CLIENT_KEY": pki.client_key,
        "SERVER_KEY": pki.server_key,
    }
    body = {**PLAIN, "tls": {key: str(files.get(str(value), value)) for key, value in tls.items()}}
    response = await client.post("/api/config/destinationaetitle", json=body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await client.get("/api/config/destinationaetitle")).json() == []


# SQLite --------------------------------------------------------------------------------------------------


async def test_tls_round_trips_through_sqlite(database, pki):
    repository = ConfigRepository(database)
    tls = DestinationTls(
        ca_file=pki.ca_crt, cert_file=pki.client_crt, key_file=pki.client_key, server_name="pacs.example.org"
    )
    await repository.save_destination(DestinationAeTitle("MyPacs", "PACS", "10.0.0.5", 2762, tls))
    assert (await repository.get_destination("mypacs")).tls == tls
    await repository.save_destination(DestinationAeTitle("MyPacs", "PACS", "10.0.0.5", 104), replace=True)
    assert (await repository.list_destinations())[0].tls is None


async def test_a_database_from_before_tls_gains_the_column_and_keeps_its_destinations(tmp_path):
    path = tmp_path / "adapter.db"
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE destination_ae_titles (name TEXT PRIMARY KEY COLLATE NOCASE, ae_title TEXT NOT NULL,"
            " host_ip TEXT NOT NULL, port INTEGER NOT NULL);"
            "INSERT INTO destination_ae_titles VALUES ('PACS', 'PACS', '10.0.0.5', 104);"
        )
    db = AdapterDatabase(path)
    await db.start()
    try:
        assert await ConfigRepository(db).get_destination("pacs") == DestinationAeTitle("PACS", "PACS", "10.0.0.5", 104)
    finally:
        await db.stop()


# Seed and settings ---------------------------------------------------------------------------------------


def test_seeded_tls_is_validated_like_a_request(pki):
    good = {**PLAIN, "tls": {"caFile": str(pki.ca_crt)}}
    missing = {**PLAIN, "name": "Other", "tls": {"ca_file": "/nonexistent/ca.pem"}}  # snake case too
    problems = seed_problems(SeedSettings(destinations=[good, missing]), 0.5)
    assert len(problems) == 1 and problems[0].startswith("destinations[1].tls.caFile: no such file")


def test_export_tls_has_no_shared_server_name():
    with pytest.raises(ValidationError, match="set serverName on the destination"):
        ExportSettings(tls=ClientTlsSettings(server_name="pacs.example.org"))


# Precedence and contexts ---------------------------------------------------------------------------------


def _destination(tls: DestinationTls | None) -> DestinationAeTitle:
    return DestinationAeTitle("MyPacs", "PACS", "10.0.0.5", 2762, tls)


def test_a_destination_without_tls_follows_export_tls_enabled(pki):
    assert destination_tls(_destination(None), ClientTlsSettings()) is None
    site = ClientTlsSettings(enabled=True, ca_file=pki.ca_crt)
    assert destination_tls(_destination(None), site) == site
    assert destination_tls(_destination(DestinationTls(enabled=False)), site) is None  # an explicit opt-out


def test_own_files_win_file_by_file_and_the_client_certificate_as_a_pair(pki, tmp_path):
    other = make_pki(tmp_path / "other")
    site = ClientTlsSettings(ca_file=pki.ca_crt, cert_file=pki.client_crt, key_file=pki.client_key)
    inherited = destination_tls(_destination(DestinationTls(server_name="pacs.example.org")), site)
    assert inherited is not None
    assert (inherited.ca_file, inherited.cert_file, inherited.server_name) == (
        pki.ca_crt,
        pki.client_crt,
        "pacs.example.org",
    )
    own = destination_tls(
        _destination(DestinationTls(ca_file=other.ca_crt, cert_file=other.client_crt, key_file=other.client_key)),
        site,
    )
    assert own is not None
    assert (own.ca_file, own.cert_file, own.key_file) == (other.ca_crt, other.client_crt, other.client_key)


def test_contexts_are_reused_until_a_file_changes(pki, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_bytes(pki.ca_crt.read_bytes())
    targets = TlsTargets(ClientTlsSettings())
    first = targets.target(_destination(DestinationTls(ca_file=ca)))
    again = targets.target(_destination(DestinationTls(ca_file=ca)))
    assert first is not None and again is not None
    assert again.context is first.context and first.server_hostname == "10.0.0.5"
    ca.write_bytes(pki.ca_crt.read_bytes() + pki.server_crt.read_bytes())  # a renewed bundle
    renewed = targets.target(_destination(DestinationTls(ca_file=ca)))
    assert renewed is not None and renewed.context is not first.context
    assert targets.target(_destination(None)) is None


def test_a_vanished_file_is_a_retryable_tls_error(pki, tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_bytes(pki.ca_crt.read_bytes())
    destination = _destination(DestinationTls(ca_file=ca))
    ca.unlink()
    with pytest.raises(DestinationTlsError, match="TLS files are missing: ca_file") as raised:
        TlsTargets(ClientTlsSettings()).target(destination)
    assert isinstance(raised.value, RetryableExportError)
