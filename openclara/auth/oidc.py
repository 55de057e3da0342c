"""OidcVerifier: a JWT signed by the hospital's identity provider -> the Principal it proves.

    token (three base64url segments) -> header: alg allowed? kid -> KeySet (file, or URL cached)
        -> signature, iss, aud, exp (and nbf, iat when present), within `leeway`
        -> name from `name_claim` (else `sub`), role: each value of `role_claim` through `role_map`, highest wins

A token that fails any check is InvalidToken (401 / UNAUTHENTICATED) with a fixed reason, never the
token or its claims (they are unverified); a genuine token that maps to no role is NoRole (403).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jwt

from openclara.auth.jwks import KeySet
from openclara.auth.roles import Principal, Role
from openclara.auth.tokens import InvalidToken, NoRole

if TYPE_CHECKING:
    from openclara.auth.settings import OidcSettings

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
MAX_TOKEN_CHARS = 16_384  # IdP tokens run to a few KB even with many groups; beyond this, refuse unparsed
REQUIRED_CLAIMS = ["exp", "iss", "aud"]

# Most specific first: ExpiredSignatureError etc. are InvalidTokenError subclasses, InvalidSignatureError a DecodeError.
_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not valid yet"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidIssuedAtError, "bad issued-at time"),
    (jwt.DecodeError, "malformed"),
)


def looks_like_jwt(token: str) -> bool:
    return len(token) <= MAX_TOKEN_CHARS and _JWT.match(token) is not None


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """Claim `path`: a top-level name as written (it may hold dots: URL-named claims), else a dotted path."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def mapped_role(value: Any, role_map: Mapping[str, Role]) -> Role | None:
    """The highest role any of the claim's values (a string or a list of them) maps to."""
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    roles = [role_map[item] for item in values if isinstance(item, str) and item in role_map]
    return max(roles, default=None)


def _refused(reason: str) -> InvalidToken:
    return InvalidToken(f"invalid token: {reason}", presented=True)


class OidcVerifier:
    def __init__(self, settings: OidcSettings, keys: KeySet | None = None) -> None:
        self._settings = settings
        self._keys = keys or _key_set(settings)

    def accepts(self, token: str) -> bool:
        return looks_like_jwt(token)

    async def principal(self, token: str) -> Principal:
        claims = await self._verified_claims(token)
        s = self._settings
        name = claim(claims, s.name_claim) or claims.get("sub")
        if not isinstance(name, str) or not name:
            raise _refused(f"no {s.name_claim} or sub claim")
        role = mapped_role(claim(claims, s.role_claim), s.role_map)
        if role is None:
            raise NoRole(f"oidc:{name}", f"no role: {s.role_claim} holds none of role_map")
        return Principal(f"oidc:{name}", role)

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refused("malformed") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in self._settings.algorithms:
            raise _refused("algorithm not allowed")
        if kid is not None and not isinstance(kid, str):
            raise _refused("malformed")
        key = await self._keys.key(kid, algorithm)
        if key is None:
            raise _refused("unknown signing key")
        if key.algorithm_name != algorithm:  # the key's own `alg` rules: a token may not pick another for it
            raise _refused("algorithm not allowed")
        return self._decode(token, key, algorithm)

    def _decode(self, token: str, key: jwt.PyJWK, algorithm: str) -> dict[str, Any]:
        s = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=[algorithm], audience=s.audience,
                                                issuer=s.issuer, leeway=s.leeway,
                                                options={"require": REQUIRED_CLAIMS})
        except jwt.MissingRequiredClaimError as exc:
            raise _refused(f"no {exc.claim} claim") from None
        except jwt.PyJWTError as exc:
            raise _refused(next((text for kind, text in _REASONS if isinstance(exc, kind)), "rejected")) from None
        return claims


def _key_set(settings: OidcSettings) -> KeySet:
    source = settings.jwks_file or settings.jwks_url
    assert source is not None  # OidcSettings requires one of them
    verify: ssl.SSLContext | bool = True
    if settings.jwks_ca_file is not None:
        verify = ssl.create_default_context(cafile=str(settings.jwks_ca_file))
    return KeySet(source, cache_seconds=settings.jwks_cache_seconds, timeout=settings.jwks_timeout, verify=verify)
