"""httpx with the stack's admin token: what tests use to call the REST services (which require one).

`client_token()` is read per call, so the session's credentials file (tests/conftest.py) is the one used.
"""

from __future__ import annotations

from typing import Any

import httpx

from openclara.auth.credentials import auth_headers


def _with_token(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {**kwargs, "headers": {**auth_headers(), **dict(kwargs.get("headers") or {})}}


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, **_with_token(kwargs))


def post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, **_with_token(kwargs))


def put(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.put(url, **_with_token(kwargs))


def delete(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.delete(url, **_with_token(kwargs))


def Client(**kwargs: Any) -> httpx.Client:  # noqa: N802 - stands in for httpx.Client
    return httpx.Client(**_with_token(kwargs))


def AsyncClient(**kwargs: Any) -> httpx.AsyncClient:  # noqa: N802 - stands in for httpx.AsyncClient
    return httpx.AsyncClient(**_with_token(kwargs))
