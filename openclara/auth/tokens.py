"""TokenTable: a presented token (or a trusted address) -> the Principal it stands for.

Tokens are kept as SHA-256 digests, so a table (and a log or a core dump of it) never holds a usable
token; looking a digest up in a dict takes the same time whether or not a prefix matches.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from openclara.auth.roles import Principal, Role

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TrustedNetwork:
    """Callers from `network` get `role` without a token (Clara's own client cannot send one)."""

    network: Network
    role: Role


class TokenTable:
    def __init__(self, tokens: Iterable[tuple[str, Role, str]] = (), trusted: Iterable[TrustedNetwork] = (),
                 enabled: bool = True) -> None:
        """`tokens`: (name, role, sha256 hex digest of the token)."""
        self.enabled = enabled
        self._by_digest = {d: Principal(name, role) for name, role, d in tokens}
        self._trusted = tuple(trusted)

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
