"""ASGI guards in front of every REST service: a request-body size limit and a Host allow-list.

Both wrap the whole application, so a refused request never reaches a route, and both answer with an
RFC 7807 `application/problem+json` body (the services' error format):

* `BodyLimit`: 413 when the body is larger than `max_bytes`, by its Content-Length (before reading a byte)
  or counted while reading a chunked body. The rest of the body is never held: uvicorn discards what
  arrives after the response. The connection is not closed at once: closing a socket with unread data
  sends a reset, which can destroy the 413 before the client reads it.
* `HostAllowList`: 421 when the Host header names a server we are not (DNS rebinding: a web page whose
  name an attacker re-points at 127.0.0.1 would otherwise drive the API from a browser on this machine).

`openapi_responses` declares both answers in a service's OpenAPI document. Below the application,
`bounded_headers` makes uvicorn's httptools protocol refuse a request line and headers longer than
`MAX_HEADER_BYTES` with 431 (its h11 protocol has such a bound already).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import socket
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

import structlog
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger()

PROBLEM_JSON = "application/problem+json"
DEFAULT_MAX_BODY_BYTES = 1_048_576
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")
ANY_HOST = "*"
# A host name (RFC 1123 labels, `_` tolerated as in Kubernetes-generated names), or `*.` and a domain.
_PATTERN = re.compile(r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$")
_SHOWN_HOST_CHARS = 100
# Request line plus headers. h11's bound is 16 KiB and nginx's 32 KiB; uvicorn's httptools protocol has
# none: 200 MB of one header line took the results service to 475 MB and stalled it for up to 25 s.
MAX_HEADER_BYTES = 65_536


def problem(status: HTTPStatus, detail: str, instance: str) -> JSONResponse:
    """The problem+json answer of a guard."""
    body = {"type": "about:blank", "title": status.phrase, "status": status.value, "detail": detail}
    return JSONResponse({**body, "instance": instance}, status_code=status.value, media_type=PROBLEM_JSON)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class BodyLimit:
    """Refuses bodies above `max_bytes` with 413; smaller ones are read whole and replayed to the app.

    A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 6.3) and passes
    through untouched, which keeps GET as cheap as before.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, setting: str = "max_body_bytes") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.setting = setting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is None and _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)
            return
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.info("http.body.too_large", path=scope["path"], limit=self.max_bytes)
        detail = f"request body is larger than the limit of {self.max_bytes} bytes ({self.setting})"
        await problem(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, detail, scope["path"])(scope, receive, send)


def replay(body: bytes, downstream: Receive) -> Receive:
    """A `receive` that hands `body` (already read) to the next app, then defers to the real one."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # Later reads wait for the real disconnect, as an unwrapped app would.
        return await downstream()

    return receive


def check_allowed_hosts(values: Iterable[str]) -> list[str]:
    """Validate `allowed_hosts` entries (for the settings models): names, `*.domain`, IP addresses or `*`."""
    result = []
    for value in values:
        entry = value.strip().lower()
        if entry != ANY_HOST and not _PATTERN.match(entry) and _ip(entry.strip("[]")) is None:
            raise ValueError(
                f"{value!r} is not a host name: give names as clients type them in URLs, without scheme or port "
                "(e.g. 'results.example.org', '*.svc.cluster.local', or '*' for any host)"
            )
        result.append(entry.strip("[]"))
    return result


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def host_name(header: str) -> str | None:
    """The name of a Host header value without its port (`[::1]:80` -> `::1`), lower-cased; None if malformed."""
    text = header.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        rest = text[end + 1 :]
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return text[1:end]
    name, colon, port = text.partition(":")
    if colon and not port.isdigit():
        return None
    return name.rstrip(".") or None


class AllowedHosts:
    """Which Host headers a service answers.

    Always: the loopback names, every IP address and the listen address; this machine's host name when
    listening on all interfaces; and the configured names (`*.example.org` takes any sub-domain, `*` any
    host). IP addresses are always served because DNS rebinding needs a name: a browser only sends the
    attacker's Host when it reached us through the attacker's name. Clients that use an address instead
    (a Podman gateway, a Kubernetes probe or Service IP) therefore need no configuration.
    """

    def __init__(self, listen_host: str, extra: Iterable[str] = ()) -> None:
        names = {*LOOPBACK_NAMES, *check_allowed_hosts(extra)}
        listen = listen_host.strip("[]").lower()
        if listen in WILDCARD_ADDRESSES:
            names.add(socket.gethostname().lower())
        else:
            names.add(listen)
        self.any = ANY_HOST in names
        self.names = frozenset(name.rstrip(".") for name in names if not name.startswith("*."))
        self.suffixes = tuple(name[1:].rstrip(".") for name in names if name.startswith("*."))

    def permits(self, header: str | None) -> bool:
        # No Host at all (HTTP/1.0, in-process callers) is no rebinding: a browser always sends one.
        if self.any or header is None:
            return True
        name = host_name(header)
        if name is None:
            return False
        return name in self.names or _ip(name) is not None or name.endswith(self.suffixes)


class HostAllowList:
    """Refuses requests whose Host header `allowed` does not permit: 421 Misdirected Request (RFC 9110 15.5.20)."""

    def __init__(self, app: ASGIApp, allowed: AllowedHosts, setting: str = "allowed_hosts") -> None:
        self.app = app
        self.allowed = allowed
        self.setting = setting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.allowed.any:
            await self.app(scope, receive, send)
            return
        raw = _header(scope, b"host")
        header = None if raw is None else raw.decode("latin-1")
        if header is None or self.allowed.permits(header):
            await self.app(scope, receive, send)
            return
        shown = repr(header[:_SHOWN_HOST_CHARS])
        log.warning("http.host.refused", host=shown, path=scope["path"])
        detail = (
            f"this service does not answer for Host {shown}: a protection against DNS rebinding. If clients reach "
            f"it under that name, add the name to {self.setting}"
        )
        await problem(HTTPStatus.MISDIRECTED_REQUEST, detail, scope["path"])(scope, receive, send)


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
        },
    }


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI response whose body is a problem+json document."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": _problem_schema()}}}


def openapi_responses() -> dict[int | str, dict[str, Any]]:
    """The guards' answers, for `FastAPI(responses=...)`: every route can give them."""
    return {
        413: problem_response("Request body larger than the configured limit"),
        421: problem_response("Host header not served here (DNS rebinding protection)"),
    }


def bounded_headers(base: type[asyncio.Protocol], max_bytes: int = MAX_HEADER_BYTES) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class `base`, answering 431 and closing when a request's line and headers
    exceed `max_bytes`. httptools keeps a header being received in memory whatever its length; here each
    read is counted once the parser has seen it, so at most one read (256 KiB) more is ever held."""
    if not hasattr(base, "on_headers_complete"):
        return base  # h11: uvicorn passes h11_max_incomplete_event_size (16 KiB), which bounds the same

    class BoundedHeaders(base):  # type: ignore[valid-type, misc]
        _in_head = False
        _head_bytes = 0

        def on_message_begin(self) -> None:
            self._in_head, self._head_bytes = True, 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            # Only a read that ends inside a request's head counts: one that completes the head (and
            # carries body bytes) does not, so a large body in one read is never mistaken for headers.
            if self._in_head and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > max_bytes:
                    self._refuse_head()

        def _refuse_head(self) -> None:
            status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
            detail = f"the request line and headers are longer than {max_bytes} bytes"
            log.info("http.headers.too_large", limit=max_bytes)
            body = json.dumps({"type": "about:blank", "title": status.phrase, "status": status.value,
                               "detail": detail}).encode()
            head = (
                f"HTTP/1.1 {status.value} {status.phrase}\r\ncontent-type: {PROBLEM_JSON}\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head.encode() + body)
            self.transport.close()

    BoundedHeaders.__name__ = BoundedHeaders.__qualname__ = f"BoundedHeaders{base.__name__}"
    return BoundedHeaders
