"""A hospital identity provider's JWTs, through real service processes: the results service's REST API and the
Platform API accept a token signed by the IdP with a mapped role, and refuse forged, expired or role-less ones
the way they refuse a wrong stack token; the audit log names the reason and never holds the token."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from platform_api import PermissionDenied, PlatformClient, Unauthenticated
from tests.conftest import free_port
from tests.platform_server.server_process import ServerProcess
from tests.results_service.service_process import ServiceProcess

pytestmark = pytest.mark.integration
ISSUER = "https://idp.example.org/realms/hospital"
PIPELINE = "api-version: 0.4.0\nname: p\noperators:\n- name: a\n  container: {image: x, command: [true]}\n"
REGISTER = {"jobId": "job-1", "parameters": '"PACS"', "uris": ["input/1.dcm"]}
IDP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(roles: list[str], key: Any = IDP_KEY, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "openclara", "sub": "u-17", "preferred_username": "dr.house", "iat": now,
            "exp": now + 300, "realm_access": {"roles": roles}, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "hospital-1"})


def oidc(folder: Path) -> dict[str, Any]:
    """The `auth.oidc` section: Keycloak-style nested roles, keys from a file next to the config."""
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(IDP_KEY.public_key(), as_dict=True), "kid": "hospital-1",
           "alg": "RS256", "use": "sig"}
    keys = folder / "jwks.json"
    keys.write_text(json.dumps({"keys": [jwk]}))
    return {"issuer": ISSUER, "audience": "openclara", "jwks_file": str(keys), "role_claim": "realm_access.roles",
            "role_map": {"clara-viewer": "read-only", "clara-operator": "operator", "clara-admin": "admin"}}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    folder = tmp_path_factory.mktemp("results")
    service = ServiceProcess(folder, free_port(), auth={"oidc": oidc(folder), "audit_log": str(folder / "audit.log")})
    with service:
        yield service


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[ServerProcess]:
    process = ServerProcess(tmp_path, free_port(), auth__oidc=oidc(tmp_path),
                            auth__audit_log=str(tmp_path / "audit.log"))
    await process.start()
    yield process
    process.kill()


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_results_service_takes_an_idp_token_with_the_right_role(results: ServiceProcess) -> None:
    tasks = f"{results.url}/api/tasks"
    assert httpx.get(tasks, headers=bearer(token(["clara-viewer"])), timeout=5).status_code == 200
    register = f"{tasks}/register/ClaraSCU"
    viewer = httpx.post(register, json=REGISTER, headers=bearer(token(["clara-viewer"])), timeout=5)
    assert viewer.status_code == 403
    assert "needs role operator; oidc:dr.house has read-only" in viewer.json()["detail"]
    operator = httpx.post(register, json=REGISTER, headers=bearer(token(["offline_access", "clara-operator"])),
                          timeout=5)
    assert operator.status_code < 300, operator.text


@pytest.mark.parametrize("presented", [
    token(["clara-admin"], key=OTHER_KEY),  # forged: signed by someone else under the IdP's key id
    token(["clara-admin"], exp=int(time.time()) - 3600),
    token(["clara-admin"], iss="https://idp.example.org/realms/other"),
    token(["clara-admin"], aud="another-app"),
])
def test_results_service_refuses_bad_idp_tokens(results: ServiceProcess, presented: str) -> None:
    refused = httpx.get(f"{results.url}/api/tasks", headers=bearer(presented), timeout=5)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert refused.headers["content-type"] == "application/problem+json"


def test_results_service_forbids_a_genuine_token_without_a_role(results: ServiceProcess) -> None:
    nurse = httpx.get(f"{results.url}/api/tasks", headers=bearer(token(["nurse"])), timeout=5)
    assert nurse.status_code == 403 and "oidc:dr.house has no role here" in nurse.json()["detail"]


async def test_platform_takes_an_idp_token_with_the_right_role(platform: ServerProcess, tmp_path: Path) -> None:
    async with PlatformClient(platform.endpoint, token=token(["clara-viewer"])) as client:
        assert await client.list_jobs() == []
        with pytest.raises(PermissionDenied, match="Pipelines/Create needs role admin; oidc:dr.house has read-only"):
            await client.create_pipeline({"p.yaml": PIPELINE})
    admin = token(["clara-admin"])
    async with PlatformClient(platform.endpoint, token=admin) as client:
        await client.create_pipeline({"p.yaml": PIPELINE})
    records = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    created = [(r["who"], r["outcome"]) for r in records if r["what"].endswith("Pipelines/Create")]
    assert created == [("oidc:dr.house", "refused: needs role admin"), ("oidc:dr.house", "allowed")]


async def test_platform_refuses_bad_and_role_less_idp_tokens(platform: ServerProcess, tmp_path: Path) -> None:
    expired = token(["clara-admin"], exp=int(time.time()) - 3600)
    forged = token(["clara-admin"], key=OTHER_KEY)
    for presented in (expired, forged):
        async with PlatformClient(platform.endpoint, token=presented) as client:
            with pytest.raises(Unauthenticated):
                await client.list_jobs()
    async with PlatformClient(platform.endpoint, token=token(["nurse"])) as client:
        with pytest.raises(PermissionDenied, match="oidc:dr.house has no role here"):
            await client.list_jobs()
    text = (tmp_path / "audit.log").read_text()
    outcomes = [json.loads(line)["outcome"] for line in text.splitlines()]
    assert outcomes == ["refused: invalid token: expired", "refused: invalid token: bad signature",
                        "refused: no role: realm_access.roles holds none of role_map"]
    assert expired not in text and forged not in text
