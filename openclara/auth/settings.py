"""The `auth` section every service's settings share (config/*.yaml, env `CLARA_<SERVICE>_AUTH__*`)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, field_validator

from openclara.auth.credentials import default_path, load_or_create
from openclara.auth.roles import Role
from openclara.auth.tokens import TokenTable, TrustedNetwork, digest
from openclara.paths import clara_home

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


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


class AuthSettings(_Section):
    """The stack's tokens come from $CLARA_CREDENTIALS or $CLARA_HOME/credentials.yaml (one rule for services
    and clients); `api_keys` adds tokens known only by their digest, `trusted_clients` addresses."""

    enabled: bool = Field(True, description="false: every caller is admin (only behind another gate)")
    api_keys: list[ApiKey] = Field(default_factory=list)
    trusted_clients: list[TrustedClient] = Field(default_factory=list)
    audit_log: Path | None = Field(None, description="default: $CLARA_HOME/audit.log")

    @property
    def audit_path(self) -> Path:
        return self.audit_log or clara_home() / "audit.log"

    def table(self) -> TokenTable:
        """The tokens this service accepts: the stack's file (created when missing) and `api_keys`."""
        tokens = [(c.name, c.role, digest(c.token)) for c in load_or_create(default_path())]
        tokens += [(k.name, k.role, k.sha256) for k in self.api_keys]
        trusted = [TrustedNetwork(t.network, t.role) for t in self.trusted_clients]
        return TokenTable(tokens, trusted, enabled=self.enabled)
