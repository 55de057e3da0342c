"""The `auth` section every service's settings share (config/*.yaml, env `CLARA_<SERVICE>_AUTH__*`)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, field_validator, model_validator

from openclara.auth.credentials import default_path, load_or_create
from openclara.auth.jwks import MAX_BYTES, JwksError, parse
from openclara.auth.oidc import OidcVerifier
from openclara.auth.roles import Role
from openclara.auth.tokens import TokenTable, TrustedNetwork, digest
from openclara.paths import clara_home

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# Public-key algorithms only: with "none" anyone could mint a token, and with HS* the IdP's *public* key
# would serve as the shared secret, so anyone holding the key set could sign.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _role(value: object) -> Role:
    return value if isinstance(value, Role) else Role.parse(str(value))


class ApiKey(_Section):
    """A further token, given by its SHA-256 (`printf %s TOKEN | sha256sum`): the file never holds it."""

    name: str = Field(min_length=1)
    role: Role
    sha256: str

    _parse_role = field_validator("role", mode="before")(_role)

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _DIGEST.match(value.lower()):
            raise ValueError("sha256 must be 64 hex digits: the SHA-256 of the token, not the token")
        return value.lower()


class TrustedClient(_Section):
    """Calls from `network` need no token and get `role`: for clients that cannot send one (Clara's own)."""

    network: IPvAnyNetwork
    role: Role = Role.OPERATOR

    _parse_role = field_validator("role", mode="before")(_role)


class OidcSettings(_Section):
    """Bearer tokens that are JWTs signed by the hospital's identity provider, beside the stack's own tokens."""

    issuer: str = Field(min_length=1, description="the `iss` a token must carry, exactly as the IdP writes it")
    audience: str | list[str] = Field(description="the `aud` a token must carry (any one of a list)")
    jwks_file: Path | None = Field(None, description="the IdP's public keys (JWKS), read from this file")
    jwks_url: str | None = Field(None, description="or fetched from here (https; http only on loopback)")
    jwks_ca_file: Path | None = Field(None, description="CA bundle for jwks_url (default: the system's)")
    jwks_cache_seconds: float = Field(300.0, ge=0, description="keys are fetched again after this long")
    jwks_timeout: float = Field(5.0, gt=0, le=60, description="a whole fetch of jwks_url, in seconds")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"], min_length=1)
    role_claim: str = Field("roles", min_length=1, description="claim with the caller's roles or groups; "
                            "a dotted path reaches into objects (Keycloak: realm_access.roles)")
    role_map: dict[str, Role] = Field(min_length=1, description="claim value -> role; the highest one wins")
    name_claim: str = Field("preferred_username", min_length=1, description="who the caller is (else `sub`)")
    leeway: float = Field(30.0, ge=0, le=600, description="clock skew allowed on exp/nbf/iat, in seconds")

    @field_validator("role_map", mode="before")
    @classmethod
    def _roles(cls, value: object) -> object:
        return {key: _role(role) for key, role in value.items()} if isinstance(value, dict) else value

    @field_validator("audience")
    @classmethod
    def _audience(cls, value: str | list[str]) -> str | list[str]:
        if not value or any(not item for item in ([value] if isinstance(value, str) else value)):
            raise ValueError("audience must name this stack's client id (one, or a list)")
        return value

    @field_validator("algorithms")
    @classmethod
    def _public_key_algorithms(cls, value: list[str]) -> list[str]:
        wrong = [name for name in value if name not in SIGNING_ALGORITHMS]
        if wrong:
            raise ValueError(f"algorithms {wrong} not allowed: only public-key ones ({', '.join(SIGNING_ALGORITHMS)})")
        return value

    @field_validator("jwks_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("https", "http") or not parts.hostname:
                raise ValueError("jwks_url must be an https:// URL")
            if parts.scheme == "http" and not _loopback(parts.hostname):
                raise ValueError("jwks_url must be https: keys fetched in clear could be swapped on the way")
        return value

    @field_validator("jwks_file")
    @classmethod
    def _key_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                data = value.read_bytes()[: MAX_BYTES + 1]
            except OSError as exc:
                raise ValueError(f"{value}: cannot read the key set: {exc.strerror}") from exc
            try:
                parse(data, str(value))
            except JwksError as exc:
                raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> OidcSettings:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("give exactly one of jwks_file and jwks_url")
        return self


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AuthSettings(_Section):
    """The stack's tokens come from $CLARA_CREDENTIALS or $CLARA_HOME/credentials.yaml (one rule for services
    and clients); `api_keys` adds tokens known only by their digest, `trusted_clients` addresses."""

    enabled: bool = Field(True, description="false: every caller is admin (only behind another gate)")
    api_keys: list[ApiKey] = Field(default_factory=list)
    trusted_clients: list[TrustedClient] = Field(default_factory=list)
    audit_log: Path | None = Field(None, description="default: $CLARA_HOME/audit.log")
    oidc: OidcSettings | None = Field(None, description="also accept the hospital identity provider's JWTs")

    @property
    def audit_path(self) -> Path:
        return self.audit_log or clara_home() / "audit.log"

    def table(self) -> TokenTable:
        """The tokens this service accepts: the stack's file (created when missing) and `api_keys`."""
        tokens = [(c.name, c.role, digest(c.token)) for c in load_or_create(default_path())]
        tokens += [(k.name, k.role, k.sha256) for k in self.api_keys]
        trusted = [TrustedNetwork(t.network, t.role) for t in self.trusted_clients]
        verifier = OidcVerifier(self.oidc) if self.oidc is not None else None
        return TokenTable(tokens, trusted, enabled=self.enabled, verifier=verifier)
