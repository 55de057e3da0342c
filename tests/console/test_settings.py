"""Where the console finds the platform's /metrics: as set, else beside the Platform API as the platform
defaults it (its port + 1, HTTPS when the API is reached over TLS)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from console.settings import ConsoleSettings
from openclara.tls import ClientTlsSettings


def test_the_default_is_the_port_after_the_platform_endpoints() -> None:
    assert ConsoleSettings().metrics_url == "http://127.0.0.1:30032/metrics"
    assert ConsoleSettings(platform_endpoint="platform.example:40000").metrics_url == \
        "http://platform.example:40001/metrics"
    assert ConsoleSettings(platform_endpoint="[::1]:30031").metrics_url == "http://[::1]:30032/metrics"
    assert ConsoleSettings(platform_endpoint="platform.example").metrics_url == \
        "http://platform.example:30032/metrics"


def test_https_when_the_platform_is_reached_over_tls() -> None:
    settings = ConsoleSettings(platform_endpoint="platform.example:30031", platform_tls=ClientTlsSettings(enabled=True))
    assert settings.metrics_url == "https://platform.example:30032/metrics"


def test_a_url_set_wins_and_must_be_http() -> None:
    assert ConsoleSettings(platform_metrics_url="http://127.0.0.1:9100/metrics").metrics_url == \
        "http://127.0.0.1:9100/metrics"
    with pytest.raises(ValidationError, match="not an http:// or https:// URL"):
        ConsoleSettings(platform_metrics_url="127.0.0.1:9100")
