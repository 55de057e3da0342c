"""KeySet: an identity provider's public signing keys (a JWKS), from a file or a URL, by key id.

Keys are cached for `cache_seconds`; a token naming a key id the set does not hold triggers a refresh
(the IdP has rotated its keys), at most once per `min_refresh_seconds` so a stream of made-up key ids
cannot turn every request into a fetch. A fetch is bounded in time and size; when it fails the keys
already held stay in use. Once keys are held, an expired cache is refreshed in the background: a slow
or down IdP delays no request that names a known key.

PyJWT's own `PyJWKClient` is not used: it fetches with blocking `urllib` (it would stall the event loop
both gates run on) and reads a response of any size.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import structlog

log = structlog.get_logger()

MAX_BYTES = 1 << 20  # a JWKS holds a few keys (a few KB); anything near this is not one
SIGNING_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})  # never "oct": a shared secret is no public key


class JwksError(Exception):
    """A key set cannot be read, fetched or understood; the message names its source."""


def parse(data: bytes, source: str) -> dict[str | None, dict[str, Any]]:
    """The signing keys of a JWKS document by `kid` (None for a key without one)."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JwksError(f"{source}: not a JSON Web Key Set: {exc}") from exc
    found = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(found, list):
        raise JwksError(f"{source}: not a JSON Web Key Set (no 'keys' list)")
    keys = {key.get("kid"): key for key in found if _is_signing_key(key)}
    if not keys:
        raise JwksError(f"{source}: the key set holds no public signing key (RSA, EC or OKP)")
    return keys


def _is_signing_key(key: object) -> bool:
    return isinstance(key, dict) and key.get("kty") in SIGNING_KEY_TYPES and key.get("use", "sig") == "sig"


class KeySet:
    def __init__(self, source: Path | str, *, cache_seconds: float = 300.0, timeout: float = 5.0,
                 min_refresh_seconds: float = 10.0, verify: ssl.SSLContext | bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`source`: a JWKS file, or an http(s) URL to fetch one from (`verify`: its TLS check)."""
        self.source = source
        self._cache_seconds = cache_seconds
        self._timeout = timeout
        self._min_refresh = min_refresh_seconds
        self._verify = verify
        self._clock = clock
        self._keys: dict[str | None, dict[str, Any]] = {}
        self._usable: dict[tuple[str | None, str], jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._attempts = 0
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None

    async def key(self, kid: str | None, algorithm: str) -> jwt.PyJWK | None:
        """The key `kid` for verifying with `algorithm`; None when the set has no such key, even after a refresh."""
        if self._expired():
            if self._keys:
                self._refresh_in_background()
            else:
                await self.refresh()
        found = self._find(kid)
        if found is None and self._clock() - self._attempted_at >= self._min_refresh:
            await self.refresh()
            found = self._find(kid)
        return None if found is None else self._usable_key(found, algorithm)

    async def refresh(self) -> None:
        """Read the set again; on failure keep the keys held (logged, not raised: callers see unknown keys)."""
        attempts = self._attempts
        async with self._lock:
            if self._attempts != attempts:  # another caller refreshed while this one waited: that will do
                return
            self._attempts += 1
            self._attempted_at = self._clock()
            try:
                keys = parse(await self._read(), str(self.source))
            except (JwksError, httpx.HTTPError, OSError, TimeoutError) as exc:
                log.warning("auth.oidc.jwks_refresh_failed", source=str(self.source), error=str(exc) or repr(exc),
                            keys_held=len(self._keys))
                return
            self._keys, self._usable, self._fetched_at = keys, {}, self._clock()
            log.info("auth.oidc.jwks_loaded", source=str(self.source), keys=len(keys))

    def _expired(self) -> bool:
        now = self._clock()
        return now - self._fetched_at >= self._cache_seconds and now - self._attempted_at >= self._min_refresh

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.get_running_loop().create_task(self.refresh())

    def _find(self, kid: str | None) -> dict[str, Any] | None:
        if kid is None and len(self._keys) == 1:  # a token without `kid` is fine while the IdP has one key
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    def _usable_key(self, data: dict[str, Any], algorithm: str) -> jwt.PyJWK | None:
        """The key as PyJWT uses it, bound to the key's own `alg` (else the token's, if the key type fits)."""
        cached = (data.get("kid"), str(data.get("alg") or algorithm))
        if cached not in self._usable:
            try:
                self._usable[cached] = jwt.PyJWK(data, algorithm=cached[1])
            except jwt.PyJWTError:
                return None
        return self._usable[cached]

    async def _read(self) -> bytes:
        if isinstance(self.source, Path):
            return await asyncio.to_thread(_read_file, self.source)
        return await _download(self.source, self._timeout, self._verify)


def _read_file(path: Path) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise JwksError(f"{path}: larger than {MAX_BYTES} bytes: not a key set")
    return data


async def _download(url: str, timeout: float, verify: ssl.SSLContext | bool) -> bytes:
    """GET `url`, all of it within `timeout` seconds and MAX_BYTES (httpx's own timeouts are per read)."""
    async with asyncio.timeout(timeout):
        async with httpx.AsyncClient(timeout=timeout, verify=verify, follow_redirects=False) as client:
            async with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
                response.raise_for_status()
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise JwksError(f"{url}: larger than {MAX_BYTES} bytes: not a key set")
                return bytes(body)
