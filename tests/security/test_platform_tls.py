"""TLS and mutual TLS on the Platform API, through real platform processes and real sockets: who gets in,
who is refused, a renewed certificate served without a restart, and the DICOM adapter and `clara` CLI as
TLS clients."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from clara_cli.config import platform_tls
from clara_cli.errors import CliError
from clara_cli.main import cli
from dicom_adapter.settings import AdapterSettings
from launcher.stack import plan
from openclara.auth.credentials import client_token
from openclara.auth.grpc_client import token_channel
from openclara.grpc_tls import ENV_CA, ENV_CERT, ENV_KEY, client_tls_from_env
from openclara.tls import ClientTlsSettings
from platform_api import PlatformClient, PlatformUnavailable, Unauthenticated
from platform_api._generated.nvidia.clara.platform import clara_pb2, clara_pb2_grpc
from platform_server.settings import PlatformSettings
from results_service.settings import ResultsSettings
from tests.conftest import free_port, require_peer
from tests.pki import Pki, make_pki
from tests.platform_server.server_process import ServerProcess
from tests.support.harness import TRIVIAL_PIPELINE, Adapter, seed, storescu, wait_until, write_study

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Another CA with its own server and client certificates: trusted by nobody here."""
    return make_pki(tmp_path_factory.mktemp("stranger"))


def trusting(pki: Pki, *, certificate: Pki | None = None, **extra: Any) -> ClientTlsSettings:
    """A client that trusts `pki`'s CA and, with `certificate`, presents that PKI's client certificate."""
    own = {"cert_file": certificate.client_crt, "key_file": certificate.client_key} if certificate else {}
    return ClientTlsSettings(enabled=True, ca_file=pki.ca_crt, **own, **extra)


def use_env(monkeypatch: pytest.MonkeyPatch, pki: Pki, client_certificate: bool = False) -> None:
    """What the readiness probe of `ServerProcess` (and the CLI) read: `CLARA_PLATFORM_TLS*`."""
    monkeypatch.setenv(ENV_CA, str(pki.ca_crt))
    if client_certificate:
        monkeypatch.setenv(ENV_CERT, str(pki.client_crt))
        monkeypatch.setenv(ENV_KEY, str(pki.client_key))


async def started(tmp_path: Path, **tls: object) -> ServerProcess:
    process = ServerProcess(tmp_path, free_port(), server__tls={key: str(value) for key, value in tls.items()})
    await process.start()
    return process


@pytest.fixture
async def tls_server(tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ServerProcess]:
    use_env(monkeypatch, pki)
    process = await started(tmp_path, cert_file=pki.server_crt, key_file=pki.server_key)
    yield process
    process.kill()


@pytest.fixture
async def mtls_server(tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ServerProcess]:
    use_env(monkeypatch, pki, client_certificate=True)
    process = await started(tmp_path, cert_file=pki.server_crt, key_file=pki.server_key, client_ca_file=pki.ca_crt)
    yield process
    process.kill()


async def refused(endpoint: str, tls: ClientTlsSettings) -> None:
    async with PlatformClient(endpoint, timeout=5, tls=tls) as client:
        with pytest.raises(PlatformUnavailable):
            await client.version()


async def test_tls_with_a_token_works_and_plain_or_untrusting_clients_are_refused(
        tls_server: ServerProcess, pki: Pki, stranger: Pki) -> None:
    async with PlatformClient(tls_server.endpoint, tls=trusting(pki)) as client:
        assert (await client.version()).major >= 0
        assert await client.list_jobs() == []
    async with PlatformClient(tls_server.endpoint, token="not-a-token", tls=trusting(pki)) as client:
        with pytest.raises(Unauthenticated):  # TLS does not replace the token
            await client.list_jobs()
    await refused(tls_server.endpoint, ClientTlsSettings())  # plain HTTP/2 to the TLS port
    await refused(tls_server.endpoint, trusting(stranger))  # the server's certificate is not of a trusted CA
    # The certificate names 127.0.0.1 and localhost: another expected name fails, the right one passes.
    await refused(tls_server.endpoint, trusting(pki, server_name="platform.example.org"))
    async with PlatformClient(tls_server.endpoint, tls=trusting(pki, server_name="localhost")) as client:
        await client.version()
    assert "tls=on" in tls_server.log.read_text()


async def test_mutual_tls_needs_a_client_certificate_of_the_configured_ca(
        mtls_server: ServerProcess, pki: Pki, stranger: Pki) -> None:
    await refused(mtls_server.endpoint, trusting(pki))  # no client certificate
    await refused(mtls_server.endpoint, trusting(pki, certificate=stranger))  # a certificate of another CA
    async with PlatformClient(mtls_server.endpoint, tls=trusting(pki, certificate=pki)) as client:
        assert await client.list_jobs() == []
    assert "tls=mutual" in mtls_server.log.read_text()


def test_the_cli_reaches_a_mutual_tls_platform_through_its_environment(
        tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    use_env(monkeypatch, pki, client_certificate=True)
    server = asyncio.run(started(tmp_path, cert_file=pki.server_crt, key_file=pki.server_key,
                                 client_ca_file=pki.ca_crt))
    try:
        answered = CliRunner().invoke(cli, ["--host", server.endpoint, "-O", "json", "list", "jobs"])
        assert answered.exit_code == 0, answered.output
        monkeypatch.delenv(ENV_CERT)
        monkeypatch.delenv(ENV_KEY)
        refused_ = CliRunner().invoke(cli, ["--host", server.endpoint, "list", "jobs"])
        assert refused_.exit_code == 1 and "cannot reach the platform" in refused_.output
    finally:
        server.kill()


def served_certificate(port: int, ca: Path) -> dict[str, Any]:
    """The certificate a new connection is served, verified against `ca` (as a gRPC client would)."""
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return tls.getpeercert()  # type: ignore[return-value]


def common_name(certificate: dict[str, Any]) -> str:
    return dict(pair for rdn in certificate["subject"] for pair in rdn)["commonName"]  # type: ignore[no-any-return]


async def test_a_renewed_certificate_is_served_without_a_restart(
        tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    live = tmp_path / "live"
    live.mkdir()
    for name in ("server.crt", "server.key"):
        shutil.copy(pki.folder / name, live / name)
    use_env(monkeypatch, pki)
    server = await started(tmp_path, cert_file=live / "server.crt", key_file=live / "server.key",
                           reload_interval=0.2)
    try:
        first = served_certificate(server.port, pki.ca_crt)
        assert common_name(first) == "server"
        renewal = renewed_by(pki, tmp_path / "renewal")
        async with PlatformClient(server.endpoint, tls=trusting(pki)) as kept:
            await kept.version()  # a connection opened before the renewal
            await asyncio.to_thread(renew, pki, renewal, live, server.port)
            await kept.version()  # still served: open connections keep what they negotiated
        async with PlatformClient(server.endpoint, tls=trusting(pki)) as fresh:
            await fresh.version()
        assert server.proc is not None and server.proc.alive()  # the same process all along
        log = server.log.read_text()
        assert "platform.tls.reloaded" in log and "platform.tls.reload_failed" in log
    finally:
        server.kill()


def renewed_by(pki: Pki, folder: Path) -> Pki:
    """A new server certificate ("renewed") from the same CA, as a renewal issues it."""
    folder.mkdir()
    for name in ("ca.crt", "ca.key"):
        shutil.copy(pki.folder / name, folder / name)
    return make_pki(folder, server_name="renewed")


def renew(pki: Pki, renewal: Pki, live: Path, port: int) -> None:
    """Write the renewed pair the way a renewal tool might (key first), checking what is served between."""
    shutil.copy(renewal.renewed_key, live / "server.key")
    time.sleep(0.5)  # past reload_interval: the half-written pair is looked at, and refused
    assert common_name(served_certificate(port, pki.ca_crt)) == "server"
    shutil.copy(renewal.renewed_crt, live / "server.crt")
    wait_until(lambda: common_name(served_certificate(port, pki.ca_crt)) == "renewed", 10, what="renewed cert")
    assert served_certificate(port, pki.ca_crt)["serialNumber"] != ""


def test_the_adapter_submits_jobs_to_a_mutual_tls_platform(tmp_path: Path, pki: Pki,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    require_peer("storescu")
    use_env(monkeypatch, pki, client_certificate=True)
    server = asyncio.run(started(tmp_path, cert_file=pki.server_crt, key_file=pki.server_key,
                                 client_ca_file=pki.ca_crt))
    # The adapter must not borrow the test's environment: its own settings carry its certificate.
    for name in (ENV_CA, ENV_CERT, ENV_KEY):
        monkeypatch.delenv(name)
    tls = {"enabled": True, "ca_file": str(pki.ca_crt), "cert_file": str(pki.client_crt),
           "key_file": str(pki.client_key)}
    try:
        pipeline = asyncio.run(create_pipeline(server.endpoint, pki))
        adapter = Adapter(tmp_path, server.endpoint, seed=seed({"seg": pipeline}, timeout=0.5),
                          extra={"platform": {"tls": tls}})
        adapter.start()
        try:
            code, output = storescu(adapter.dicom_port, write_study(tmp_path / "study", series=1, per_series=2))
            assert code == 0, output
            wait_until(lambda: asyncio.run(jobs(server.endpoint, pki, pipeline)), 60, interval=0.3, what="a job")
        finally:
            assert adapter.service is not None
            adapter.service.terminate()
    finally:
        server.kill()


async def create_pipeline(endpoint: str, pki: Pki) -> str:
    async with PlatformClient(endpoint, tls=trusting(pki, certificate=pki)) as client:
        return await client.create_pipeline({"seg.yaml": TRIVIAL_PIPELINE.format(name="seg")})


async def jobs(endpoint: str, pki: Pki, pipeline: str) -> int:
    async with PlatformClient(endpoint, tls=trusting(pki, certificate=pki)) as client:
        return len(await client.list_jobs(pipeline_ids=[pipeline]))


def test_settings_name_the_missing_files(tmp_path: Path, pki: Pki) -> None:
    missing = tmp_path / "gone.crt"
    with pytest.raises(ValidationError, match=f"cert_file \\({missing}\\)"):
        PlatformSettings(server={"tls": {"cert_file": missing, "key_file": pki.server_key}})
    with pytest.raises(ValidationError, match=f"client_ca_file \\({missing}\\)"):
        PlatformSettings(server={"tls": {"cert_file": pki.server_crt, "key_file": pki.server_key,
                                         "client_ca_file": missing}})
    with pytest.raises(ValidationError, match=f"ca_file \\({missing}\\)"):
        AdapterSettings(platform={"tls": {"enabled": True, "ca_file": missing}})
    with pytest.raises(ValidationError, match=f"ca_file \\({missing}\\)"):
        ResultsSettings(platform_tls={"enabled": True, "ca_file": missing})
    with pytest.raises(ValidationError, match=f"key_file \\({missing}\\)"):
        client_tls_from_env({ENV_CERT: str(pki.client_crt), ENV_KEY: str(missing)})
    with pytest.raises(CliError, match=f"platform TLS: TLS files are missing: ca_file \\({missing}\\)"):
        platform_tls({"ca_file": str(missing)}, environ={})
    assert client_tls_from_env({}) is None
    assert platform_tls(None, environ={}) is None
    from_file = platform_tls({"ca_file": str(pki.ca_crt), "server_name": "localhost"}, environ={})
    assert from_file is not None and from_file.enabled and from_file.server_name == "localhost"


def test_an_unusable_certificate_stops_the_platform_before_it_listens(tmp_path: Path, pki: Pki) -> None:
    settings_of = {"cert_file": pki.server_crt, "key_file": pki.client_key}  # a key of another certificate
    server = ServerProcess(tmp_path, free_port(), server__tls={k: str(v) for k, v in settings_of.items()})
    with pytest.raises(AssertionError, match="platform server exited"):
        asyncio.run(server.start(timeout=30))
    assert f"server.tls: cannot use {pki.server_crt} with {pki.client_key}" in server.log.read_text()
    assert "key values mismatch" in server.log.read_text()


def test_the_embedded_stack_points_its_platform_clients_at_the_ca_the_cli_trusts(
        tmp_path: Path, pki: Pki, clara_home: Path) -> None:
    (tmp_path / "platform-server.yaml").write_text(
        f"server: {{tls: {{cert_file: {pki.server_crt}, key_file: {pki.server_key}}}}}\n")
    stack = plan(tmp_path, environ={ENV_CA: str(pki.ca_crt)})
    assert stack.dicom.env["CLARA_DICOM_PLATFORM__TLS__CA_FILE"] == str(pki.ca_crt)
    assert stack.results.env["CLARA_RESULTS_PLATFORM_TLS__ENABLED"] == "true"
    assert "CLARA_DICOM_PLATFORM__TLS__CA_FILE" not in plan(tmp_path, environ={}).dicom.env


async def test_a_synchronous_token_channel_carries_clara_style_stubs_over_tls(tls_server: ServerProcess,
                                                                               pki: Pki) -> None:
    """`token_channel`: what docs/security.md gives Clara's own (synchronous) client as its `stub` channel."""
    def version(token: str) -> Any:
        with token_channel(tls_server.endpoint, token, trusting(pki)) as channel:
            return clara_pb2_grpc.ClaraStub(channel).Version(clara_pb2.ClaraVersionRequest(), timeout=10)

    assert (await asyncio.to_thread(version, client_token() or "")).version.major >= 0
    with pytest.raises(grpc.RpcError) as caught:
        await asyncio.to_thread(version, "not-a-token")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_synchronous_token_channel_works_on_a_plain_port(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path, free_port())
    await process.start()
    try:
        with token_channel(process.endpoint, client_token()) as channel:
            reply = await asyncio.to_thread(clara_pb2_grpc.ClaraStub(channel).Version,
                                            clara_pb2.ClaraVersionRequest(), timeout=10)
        assert reply.version.major >= 0
    finally:
        process.kill()
