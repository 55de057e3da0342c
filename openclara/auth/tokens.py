"""TokenTable: a presented token (or a trusted address) -> the Principal it stands for.

Tokens are kept as SHA-256 digests, so a table (and a log or a core dump of it) never holds a usable
token; looking a digest up in a dict takes the same time whether or not a prefix matches. A token the
table does not know may still be one a `Verifier` accepts (an identity provider's JWT: `oidc`);
`authenticate` is the one place both gates (REST and gRPC) turn a presented token into a caller.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from openclara.auth.roles import Principal, Role

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TrustedNetwork:
    """Callers from `network` get `role` without a token (Clara's own client cannot send one)."""

    network: Network
    role: Role


class Refused(Exception):
    """A caller was not admitted; `reason` goes to the audit log, so it never quotes the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidToken(Refused):
    """No token, or one that is unknown, malformed, expired or badly signed: 401 / UNAUTHENTICATED."""

    def __init__(self, reason: str, presented: bool) -> None:
        super().__init__(reason)
        self.presented = presented


class NoRole(Refused):
    """A genuine token whose holder has no role here: 403 / PERMISSION_DENIED."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name


class Verifier(Protocol):
    """Tokens the table cannot know in advance: checked by signature (`oidc.OidcVerifier`)."""

    def accepts(self, token: str) -> bool:
        """Whether `token` has this verifier's form (cheap, no I/O)."""

    async def principal(self, token: str) -> Principal:
        """The caller `token` proves; raises InvalidToken or NoRole."""


class TokenTable:
    def __init__(self, tokens: Iterable[tuple[str, Role, str]] = (), trusted: Iterable[TrustedNetwork] = (),
                 enabled: bool = True, verifier: Verifier | None = None) -> None:
        """`tokens`: (name, role, sha256 hex digest of the token); `verifier`: for tokens not in the table."""
        self.enabled = enabled
        self._by_digest = {d: Principal(name, role) for name, role, d in tokens}
        self._trusted = tuple(trusted)
        self._verifier = verifier

    async def authenticate(self, token: str | None, peer_host: str | None) -> Principal:
        """Who presents `token` from `peer_host`: the table's tokens and addresses first, then the verifier.

        Raises InvalidToken when nobody is known, NoRole when a verified caller has no role here.
        """
        known = self.principal(token, peer_host)
        if known is not None:
            return known
        if token and self._verifier is not None and self._verifier.accepts(token):
            return await self._verifier.principal(token)
        raise InvalidToken("no valid token", presented=bool(token))

    def principal(self, token: str | None, peer_host: str | None) -> Principal | None:
        """Who presents `token` from `peer_host`; None when neither the token nor the address is known."""
        if not self.enabled:
            return Principal("anonymous", Role.ADMIN)
        if token:
            return self._by_digest.get(digest(token))
        if peer_host:
            try:
                address = ipaddress.ip_address(peer_host)
            except ValueError:
                return None
            for trusted in self._trusted:
                if address.version == trusted.network.version and address in trusted.network:
                    return Principal(f"trusted:{trusted.network}", trusted.role)
        return None


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
