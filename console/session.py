"""Browser sessions: the login trades an API token for a signed, HttpOnly, SameSite=Strict cookie.

The cookie holds who logged in, their role, when it expires and a CSRF secret, signed with HMAC-SHA256
under a key made at start-up (a restart logs everyone out; nothing is stored server-side). The token
itself never reaches the cookie. Mutating requests must echo the CSRF secret in `X-CSRF-Token`
(pages carry it in a <meta> tag), which a cross-site page cannot read: with SameSite=Strict that is
two independent guards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from openclara.auth.roles import Principal, Role

COOKIE = "clara_console"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Session:
    name: str
    role: Role
    expires: float
    csrf: str


class SessionKeeper:
    """Issues and checks session cookies; `secure` adds the cookie's Secure flag (HTTPS in front)."""

    def __init__(self, lifetime_seconds: int, secure: bool = False, key: bytes | None = None) -> None:
        self.lifetime = lifetime_seconds
        self.secure = secure
        self._key = key or secrets.token_bytes(32)

    def issue(self, principal: Principal) -> tuple[str, Session]:
        session = Session(principal.name, principal.role, time.time() + self.lifetime, secrets.token_urlsafe(24))
        body = json.dumps({"n": session.name, "r": int(session.role), "e": session.expires, "c": session.csrf})
        encoded = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
        return f"{encoded}.{self._sign(encoded)}", session

    def read(self, cookie: str | None) -> Session | None:
        """The cookie's session, or None when it is missing, forged, damaged or expired."""
        if not cookie or "." not in cookie:
            return None
        encoded, signature = cookie.rsplit(".", 1)
        if not hmac.compare_digest(signature, self._sign(encoded)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            session = Session(str(data["n"]), Role(int(data["r"])), float(data["e"]), str(data["c"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    def cookie_header(self, value: str) -> str:
        flags = f"Max-Age={self.lifetime}; Path=/; HttpOnly; SameSite=Strict"
        return f"{COOKIE}={value}; {flags}{'; Secure' if self.secure else ''}"

    def clearing_header(self) -> str:
        return f"{COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict{'; Secure' if self.secure else ''}"

    def _sign(self, encoded: str) -> str:
        digest = hmac.new(self._key, encoded.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
