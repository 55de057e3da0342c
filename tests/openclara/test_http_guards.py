"""The REST services' shared guards: which Host headers are served, and the body limit (in process, ASGI)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from openclara.http_guards import AllowedHosts, BodyLimit, HostAllowList, check_allowed_hosts, host_name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost", "localhost"),
        ("LocalHost:8088", "localhost"),
        ("127.0.0.1:5000", "127.0.0.1"),
        ("[::1]:8088", "::1"),
        ("[::1]", "::1"),
        ("results.example.org.", "results.example.org"),
        ("a:b", None),
        ("[::1", None),
        ("[::1]x", None),
        ("", None),
    ],
)
def test_host_name_drops_the_port(header: str, name: str | None) -> None:
    assert host_name(header) == name


def test_loopback_names_addresses_and_configured_names_are_served() -> None:
    allowed = AllowedHosts("127.0.0.1", ["results.example.org", "*.svc.cluster.local"])
    for header in (
        "localhost:8088",
        "127.0.0.1",
        "[::1]:1",
        "10.0.2.2:8088",  # Podman's gateway to the host: an address cannot be rebound
        "results.example.org",
        "openclara-results.clara.svc.cluster.local:8088",
    ):
        assert allowed.permits(header), header
    for header in ("evil.example", "localhost.evil.example", "svc.cluster.local", "results.example.org.evil", "x:y"):
        assert not allowed.permits(header), header


def test_a_wildcard_listen_address_adds_this_machines_name_only() -> None:
    allowed = AllowedHosts("0.0.0.0")
    assert allowed.permits(socket.gethostname())
    assert not allowed.permits("evil.example")
    assert AllowedHosts("results.internal").permits("results.internal:8088")


def test_star_serves_any_host_only_when_configured() -> None:
    assert AllowedHosts("127.0.0.1", ["*"]).permits("anything.example")
    assert not AllowedHosts("127.0.0.1").permits("anything.example")


@pytest.mark.parametrize("entry", ["http://example.org", "example.org:8088", "exa mple.org", "*example.org", "a/b"])
def test_malformed_allowed_hosts_are_refused_with_the_rule(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host name: give names as clients type them in URLs"):
        check_allowed_hosts([entry])


async def _echo_body(scope: Scope, receive: Receive, send: Send) -> None:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def _client(max_bytes: int = 100, allowed: AllowedHosts | None = None) -> httpx.AsyncClient:
    app = HostAllowList(BodyLimit(_echo_body, max_bytes), allowed or AllowedHosts("127.0.0.1"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def test_bodies_up_to_the_limit_pass_larger_ones_get_413_problems() -> None:
    async with _client() as client:
        assert (await client.post("/x", content=b"a" * 100)).text == "a" * 100
        assert (await client.post("/x", content=b"")).text == ""
        refused = await client.post("/x", content=b"a" * 101)

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
            for _ in range(5):
                yield b"a" * 30

        chunked = await client.post("/x", content=chunks())
    for response in (refused, chunked):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "request body is larger than the limit of 100 bytes (max_body_bytes)"
        assert response.json()["instance"] == "/x"


async def test_a_foreign_host_gets_421_and_never_reaches_the_app() -> None:
    async with _client() as client:
        response = await client.get("/x", headers={"host": "evil.example:8088"})
        assert (await client.get("/x")).status_code == 200  # Host: localhost
    assert response.status_code == 421
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Misdirected Request"
    assert "does not answer for Host 'evil.example:8088'" in problem["detail"]
    assert "add the name to allowed_hosts" in problem["detail"]
