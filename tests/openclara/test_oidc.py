"""Optional OIDC: JWTs signed by a hospital's identity provider, checked beside the stack's own tokens.

Keys are made here with `cryptography`; a JWKS is served from a file or from a real HTTP server on
127.0.0.1, so fetching, caching, refreshing on a new key id and a slow IdP are exercised for real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from openclara.auth.audit import AuditLog
from openclara.auth.jwks import KeySet
from openclara.auth.oidc import OidcVerifier, claim, looks_like_jwt, mapped_role
from openclara.auth.rest import TokenGate
from openclara.auth.roles import Principal, Role
from openclara.auth.settings import OidcSettings
from openclara.auth.tokens import InvalidToken, NoRole, TokenTable, digest

ISSUER = "https://idp.example.org/realms/hospital"
AUDIENCE = "openclara"
ROLE_MAP = {"clara-viewer": "read-only", "clara-operator": "operator", "clara-admin": "admin"}


@dataclass(frozen=True)
class SigningKey:
    private: Any
    kid: str
    algorithm: str

    def jwk(self) -> dict[str, Any]:
        kind = jwt.algorithms.RSAAlgorithm if self.algorithm.startswith("RS") else jwt.algorithms.ECAlgorithm
        data: dict[str, Any] = kind.to_jwk(self.private.public_key(), as_dict=True)
        return {**data, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def sign(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "f3a1", "preferred_username": "alice", "iat": now,
                  "exp": now + 300, "roles": ["clara-operator"], **overrides}
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid})


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048), "rsa-1", "RS256")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), "ec-1", "ES256")


def jwks(*keys: SigningKey) -> bytes:
    return json.dumps({"keys": [key.jwk() for key in keys]}).encode()


def settings(**overrides: Any) -> OidcSettings:
    return OidcSettings.model_validate({"issuer": ISSUER, "audience": AUDIENCE, "role_map": ROLE_MAP, **overrides})


@pytest.fixture
def key_file(tmp_path: Path, rsa_key: SigningKey, ec_key: SigningKey) -> Path:
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks(rsa_key, ec_key))
    return path


@pytest.fixture
def table(key_file: Path) -> TokenTable:
    verifier = OidcVerifier(settings(jwks_file=key_file))
    return TokenTable([("admin", Role.ADMIN, digest("stack-admin-token"))], verifier=verifier)


async def refusal(table: TokenTable, token: str) -> str:
    with pytest.raises(InvalidToken) as refused:
        await table.authenticate(token, "127.0.0.1")
    assert token not in refused.value.reason
    return refused.value.reason


async def test_an_idp_token_proves_its_holder_and_role(table: TokenTable, rsa_key: SigningKey,
                                                       ec_key: SigningKey) -> None:
    assert await table.authenticate(rsa_key.sign(), None) == Principal("oidc:alice", Role.OPERATOR)
    assert await table.authenticate(ec_key.sign(roles=["clara-viewer"]), None) == Principal("oidc:alice",
                                                                                              Role.READ_ONLY)
    both = rsa_key.sign(roles=["clara-viewer", "clara-admin", "unrelated"], preferred_username=None)
    assert await table.authenticate(both, None) == Principal("oidc:f3a1", Role.ADMIN)  # highest; `sub` by default


async def test_the_stack_tokens_keep_working_beside_the_idp(table: TokenTable) -> None:
    assert await table.authenticate("stack-admin-token", None) == Principal("admin", Role.ADMIN)
    assert await refusal(table, "not-a-jwt") == "no valid token"


@pytest.mark.parametrize(("claims", "reason"), [  # times relative to the test's start, not to collection
    ({"exp": -120}, "expired"),
    ({"nbf": 600}, "not valid yet"),
    ({"iss": "https://evil.example.org"}, "wrong issuer"),
    ({"aud": "another-app"}, "wrong audience"),
    ({"exp": None}, "no exp claim"),
    ({"aud": None}, "no aud claim"),
])
async def test_claims_that_fail_are_refused_with_a_reason(table: TokenTable, rsa_key: SigningKey,
                                                          claims: dict[str, Any], reason: str) -> None:
    now = int(time.time())
    claims = {key: now + value if key in ("exp", "nbf") and value is not None else value
              for key, value in claims.items()}
    assert await refusal(table, rsa_key.sign(**claims)) == f"invalid token: {reason}"


async def test_leeway_forgives_a_little_clock_skew(key_file: Path, rsa_key: SigningKey) -> None:
    lenient = TokenTable(verifier=OidcVerifier(settings(jwks_file=key_file, leeway=60)))
    just_expired = rsa_key.sign(exp=int(time.time()) - 30)
    assert (await lenient.authenticate(just_expired, None)).name == "oidc:alice"


async def test_forged_and_foreign_tokens_are_refused(table: TokenTable, rsa_key: SigningKey) -> None:
    impostor = SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048), "rsa-1", "RS256")
    assert await refusal(table, impostor.sign()) == "invalid token: bad signature"
    unknown = SigningKey(impostor.private, "rsa-2", "RS256")
    assert await refusal(table, unknown.sign()) == "invalid token: unknown signing key"
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60, "roles": ["clara-admin"]}
    assert await refusal(table, jwt.encode(claims, None, algorithm="none")) == "invalid token: algorithm not allowed"
    hmac = jwt.encode(claims, "a-shared-secret-that-is-long-enough-for-hs256", algorithm="HS256",
                      headers={"kid": "rsa-1"})
    assert await refusal(table, hmac) == "invalid token: algorithm not allowed"
    rs384 = jwt.encode(claims, rsa_key.private, algorithm="RS384", headers={"kid": "rsa-1"})
    assert await refusal(table, rs384) == "invalid token: algorithm not allowed"  # not in `algorithms`
    header, payload, signature = rsa_key.sign().split(".")
    assert await refusal(table, f"{header}.{payload}x.{signature}") in ("invalid token: malformed",
                                                                        "invalid token: bad signature")


async def test_a_key_may_not_be_used_with_another_algorithm_than_its_own(tmp_path: Path,
                                                                         rsa_key: SigningKey) -> None:
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks(rsa_key))
    both = TokenTable(verifier=OidcVerifier(settings(jwks_file=path, algorithms=["RS256", "PS256"])))
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60, "roles": ["clara-admin"]}
    ps256 = jwt.encode(claims, rsa_key.private, algorithm="PS256", headers={"kid": "rsa-1"})
    assert await refusal(both, ps256) == "invalid token: algorithm not allowed"


async def test_a_genuine_token_without_a_mapped_role_is_forbidden_not_unauthenticated(
        table: TokenTable, rsa_key: SigningKey) -> None:
    for roles in (["nurse"], None, "clara"):
        with pytest.raises(NoRole) as refused:
            await table.authenticate(rsa_key.sign(roles=roles), None)
        assert refused.value.name == "oidc:alice" and "no role" in refused.value.reason


def test_role_claims_are_found_by_name_or_dotted_path() -> None:
    claims = {"realm_access": {"roles": ["a", "b"]}, "https://example.org/roles": "c", "groups": "d"}
    assert claim(claims, "realm_access.roles") == ["a", "b"]
    assert claim(claims, "https://example.org/roles") == "c"
    assert claim(claims, "realm_access.missing") is None and claim(claims, "groups.x") is None
    roles = {"a": Role.READ_ONLY, "b": Role.ADMIN, "d": Role.OPERATOR}
    assert mapped_role(["a", "b"], roles) is Role.ADMIN and mapped_role("d", roles) is Role.OPERATOR
    assert mapped_role([1, {"b": 1}], roles) is None and mapped_role(None, roles) is None


async def test_keycloak_style_nested_roles(key_file: Path, rsa_key: SigningKey) -> None:
    keycloak = TokenTable(verifier=OidcVerifier(settings(jwks_file=key_file, role_claim="realm_access.roles",
                                                         audience=["account", AUDIENCE])))
    token = rsa_key.sign(roles=None, aud=["account", "openclara"], realm_access={"roles": ["clara-admin"]})
    assert await keycloak.authenticate(token, None) == Principal("oidc:alice", Role.ADMIN)


def test_only_jwt_shaped_tokens_go_to_the_verifier() -> None:
    assert looks_like_jwt("eyJh.eyJz.c2ln") and looks_like_jwt("eyJh.eyJz.")
    assert not looks_like_jwt("Zm9vYmFy-_x") and not looks_like_jwt("a.b") and not looks_like_jwt("a.b.c.d")
    assert not looks_like_jwt("a b.c.d") and not looks_like_jwt("a." + "b" * 20_000 + ".c")


def test_settings_report_every_mistake_at_once(key_file: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        OidcSettings.model_validate({"issuer": "", "audience": [], "algorithms": ["RS256", "HS256", "none"],
                                     "jwks_url": "http://idp.example.org/certs", "role_map": {"x": "root"}})
    text = str(caught.value)
    for field_name in ("issuer", "audience", "algorithms", "jwks_url", "role_map"):
        assert field_name in text
    assert "['HS256', 'none'] not allowed" in text and "must be https" in text and "unknown role 'root'" in text
    with pytest.raises(ValidationError, match="exactly one of jwks_file and jwks_url"):
        settings()
    with pytest.raises(ValidationError, match="exactly one of jwks_file and jwks_url"):
        settings(jwks_file=key_file, jwks_url="https://idp.example.org/certs")


def test_a_key_file_is_read_and_checked_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read the key set"):
        settings(jwks_file=tmp_path / "missing.json")
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}))
    with pytest.raises(ValidationError, match="holds no public signing key"):
        settings(jwks_file=secret)
    assert settings(jwks_url="http://127.0.0.1:8080/certs").jwks_url  # plain http only to a loopback IdP


@dataclass
class Idp:
    """A JWKS endpoint on 127.0.0.1: what it serves, how slowly, and how often it was asked."""

    body: bytes = b""
    delay: float = 0.0
    fetches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@pytest.fixture
def idp(rsa_key: SigningKey) -> Iterator[Idp]:
    state = Idp(body=jwks(rsa_key))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            with state.lock:
                state.fetches += 1
            time.sleep(state.delay)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/realms/hospital/certs"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def url_table(idp: Idp, **keys: Any) -> TokenTable:
    oidc = settings(jwks_url=idp.url, jwks_timeout=keys.pop("timeout", 5.0))
    return TokenTable(verifier=OidcVerifier(oidc, KeySet(idp.url, timeout=oidc.jwks_timeout, **keys)))


async def test_keys_are_fetched_once_and_refetched_for_a_new_kid(idp: Idp, rsa_key: SigningKey,
                                                                 ec_key: SigningKey) -> None:
    table = url_table(idp, min_refresh_seconds=0)
    for _ in range(3):
        assert (await table.authenticate(rsa_key.sign(), None)).role is Role.OPERATOR
    assert idp.fetches == 1
    idp.body = jwks(rsa_key, ec_key)  # the IdP rotates in a new key
    assert (await table.authenticate(ec_key.sign(), None)).role is Role.OPERATOR
    assert idp.fetches == 2


async def test_made_up_kids_do_not_hammer_the_idp(idp: Idp, rsa_key: SigningKey) -> None:
    table = url_table(idp, min_refresh_seconds=60)
    await table.authenticate(rsa_key.sign(), None)
    for number in range(5):
        stranger = SigningKey(rsa_key.private, f"made-up-{number}", "RS256")
        assert await refusal(table, stranger.sign()) == "invalid token: unknown signing key"
    assert idp.fetches == 1


async def test_a_slow_idp_costs_one_bounded_wait_then_cached_keys_serve(idp: Idp, rsa_key: SigningKey) -> None:
    table = url_table(idp, timeout=0.5, cache_seconds=0, min_refresh_seconds=0)
    await table.authenticate(rsa_key.sign(), None)
    idp.delay = 3.0  # the IdP hangs: an expired cache is refreshed in the background, known keys still serve
    started = time.monotonic()
    for _ in range(3):
        assert (await table.authenticate(rsa_key.sign(), None)).role is Role.OPERATOR
    assert time.monotonic() - started < 0.4
    stranger = SigningKey(rsa_key.private, "rsa-rotated", "RS256")
    started = time.monotonic()
    assert await refusal(table, stranger.sign()) == "invalid token: unknown signing key"
    assert time.monotonic() - started < 2.0  # the fetch for an unknown kid gave up at the timeout
    assert (await table.authenticate(rsa_key.sign(), None)).role is Role.OPERATOR


async def test_an_oversized_or_broken_key_set_is_not_taken(idp: Idp, rsa_key: SigningKey) -> None:
    idp.body = b" " * (2 << 20)
    assert await refusal(url_table(idp), rsa_key.sign()) == "invalid token: unknown signing key"
    idp.body = b"<html>login</html>"
    assert await refusal(url_table(idp), rsa_key.sign()) == "invalid token: unknown signing key"


async def test_the_rest_gate_answers_401_invalid_token_and_403_and_audits_without_the_token(
        tmp_path: Path, table: TokenTable, rsa_key: SigningKey) -> None:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    audit = AuditLog(tmp_path / "audit.log", "test")
    app = TokenGate(Starlette(routes=[Route("/api/x", hello)]), table, lambda method, path: Role.OPERATOR, audit)
    expired, nurse = rsa_key.sign(exp=int(time.time()) - 600), rsa_key.sign(roles=["nurse"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        ok = await client.get("/api/x", headers={"Authorization": f"Bearer {rsa_key.sign()}"})
        assert ok.status_code == 200 and ok.text == "hello"
        refused = await client.get("/api/x", headers={"Authorization": f"Bearer {expired}"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="openclara", error="invalid_token"'
        forbidden = await client.get("/api/x", headers={"X-API-Key": nurse})
        assert forbidden.status_code == 403 and "oidc:alice has no role here" in forbidden.json()["detail"]
        assert (await client.get("/api/x")).headers["www-authenticate"] == 'Bearer realm="openclara"'
    text = (tmp_path / "audit.log").read_text()
    records = [json.loads(line) for line in text.splitlines()]
    assert [(r["who"], r["outcome"]) for r in records] == [
        ("unknown", "refused: invalid token: expired"),
        ("oidc:alice", "refused: no role: roles holds none of role_map"),
        ("unknown", "refused: no valid token")]
    assert expired not in text and nurse not in text and expired.split(".")[1] not in text
