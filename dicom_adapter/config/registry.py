"""`AeRegistry`: the live, in-memory view of the configuration that the SCP and the export agent read.

Reloaded from SQLite after every REST change, so changes apply to the next association without a
restart. Matching rules (documented in docs/dicom-adapter.md):
- the called AE title is matched exactly (case-sensitive, like Clara and the DICOM standard);
- the calling AE title is matched case-insensitively (Clara 0.7 did so; PACS admins type it either way);
- a source's `hostIp` may be an IP address, a CIDR block or a host name. Host names are resolved off the
  event loop when the registry loads and again every `resolve_ttl` seconds; lookups on the loop only
  read the cache. Unlike Clara 0.8 (exact string compare) a host name therefore matches its addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from dicom_adapter.models import ClaraAeTitle, DestinationAeTitle, SourceAeTitle

if TYPE_CHECKING:
    from dicom_adapter.db.config_repository import ConfigRepository

log = structlog.get_logger()

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], set[str]]


def resolve_host(name: str) -> set[str]:
    """Every address `name` resolves to (blocking: call it in a thread)."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return set()
    return {str(info[4][0]) for info in infos}


def parse_network(text: str) -> IpNetwork | None:
    """An IP address or CIDR block as a network, or None when `text` is a host name."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


@dataclass
class _Snapshot:
    clara: dict[str, ClaraAeTitle] = field(default_factory=dict)  # by exact AE title
    sources: dict[str, list[str]] = field(default_factory=dict)  # upper-case calling AE -> hostIp values
    destinations: dict[str, DestinationAeTitle] = field(default_factory=dict)  # by lower-case name


class AeRegistry:
    """Implements the SCP's `AeTitleLookup` and the export agent's `DestinationLookup` protocols."""

    def __init__(
        self,
        repository: ConfigRepository,
        *,
        reject_unknown_sources: bool = True,
        resolver: Resolver = resolve_host,
        resolve_ttl: float = 60.0,
    ) -> None:
        self._repository = repository
        self._reject_unknown_sources = reject_unknown_sources
        self._resolver = resolver
        self._resolve_ttl = resolve_ttl
        self._snapshot = _Snapshot()
        self._resolved: dict[str, set[str]] = {}
        self._resolved_at = 0.0
        self._refresh: asyncio.Task[None] | None = None

    @property
    def reject_unknown_sources(self) -> bool:
        return self._reject_unknown_sources

    async def reload(self) -> None:
        """Re-read every entity from the database and resolve source host names."""
        clara = await self._repository.list_clara_ae_titles()
        sources = await self._repository.list_sources()
        destinations = await self._repository.list_destinations()
        await self._resolve([s.host_ip for s in sources], force=True)
        self._snapshot = _Snapshot(
            clara={ae.ae_title: ae for ae in clara},
            sources=_group_sources(sources),
            destinations={d.name.lower(): d for d in destinations},
        )
        log.info("registry.reloaded", clara_ae_titles=len(clara), sources=len(sources), destinations=len(destinations))

    async def start(self) -> None:
        await self.reload()
        self._refresh = asyncio.create_task(self._refresh_loop(), name="registry-resolve")

    async def stop(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)
            self._refresh = None

    # AeTitleLookup protocol (sync, on the event loop) ---------------------------------------------------

    def clara_ae_title(self, ae_title: str) -> ClaraAeTitle | None:
        return self._snapshot.clara.get(ae_title.strip())

    def source_allowed(self, calling_ae_title: str, host: str) -> bool:
        hosts = self._snapshot.sources.get(calling_ae_title.strip().upper())
        if not hosts:
            return False
        return any(self._host_matches(pattern, host) for pattern in hosts)

    def clara_ae_titles(self) -> list[ClaraAeTitle]:
        return list(self._snapshot.clara.values())

    def group_tag(self, called_ae_title: str) -> str | None:
        """The `groupBy` tag of a Clara AE title; None when it is not configured (any more)."""
        ae = self.clara_ae_title(called_ae_title)
        return ae.group_by if ae is not None else None

    # DestinationLookup protocol ----------------------------------------------------------------------

    async def destination(self, name: str) -> DestinationAeTitle | None:
        return self._snapshot.destinations.get(name.lower())

    def _host_matches(self, pattern: str, host: str) -> bool:
        network = parse_network(pattern)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return pattern.strip().lower() == host.strip().lower()
        if network is not None:
            return address in network
        return host in self._resolved.get(pattern.strip().lower(), set())

    async def _resolve(self, patterns: list[str], *, force: bool = False) -> None:
        names = sorted({p.strip().lower() for p in patterns if parse_network(p) is None})
        if not force and time.monotonic() - self._resolved_at < self._resolve_ttl:
            return
        results = await asyncio.gather(*(asyncio.to_thread(self._resolver, name) for name in names))
        self._resolved = dict(zip(names, results, strict=True))
        self._resolved_at = time.monotonic()
        for name, addresses in self._resolved.items():
            if not addresses:
                log.warning("registry.source_unresolved", host=name)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._resolve_ttl)
            patterns = [p for hosts in self._snapshot.sources.values() for p in hosts]
            await self._resolve(patterns, force=True)


def _group_sources(sources: list[SourceAeTitle]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for source in sources:
        grouped.setdefault(source.ae_title.strip().upper(), []).append(source.host_ip)
    return grouped
