"""The default ports: every service, client and the documented config/ files agree with openclara.ports."""

from __future__ import annotations

from pathlib import Path

from clara_cli.config import DEFAULT_DICOM, DEFAULT_PLATFORM, DEFAULT_RESULTS
from dicom_adapter.settings import AdapterSettings
from openclara import ports
from openclara.settings import load_settings
from pipeline_operators.register_results import results_endpoint
from platform_server.settings import PlatformSettings
from results_service.settings import ResultsSettings

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_the_shipped_config_files_spell_out_the_same_defaults() -> None:
    platform = load_settings(PlatformSettings, CONFIG / "platform-server.yaml")
    results = load_settings(ResultsSettings, CONFIG / "results-service.yaml")
    adapter = load_settings(AdapterSettings, CONFIG / "dicom-adapter.yaml")
    assert (platform.server.port, platform.results_service.url) == (ports.PLATFORM_PORT, ports.RESULTS_URL)
    assert (platform.metrics_host, platform.metrics_port) == (ports.LOOPBACK, ports.PLATFORM_METRICS_PORT)
    assert (results.port, results.platform_endpoint) == (ports.RESULTS_PORT, ports.PLATFORM_ENDPOINT)
    assert (adapter.scp.port, adapter.api.port) == (ports.DICOM_SCP_PORT, ports.DICOM_API_PORT)
    assert (adapter.platform.endpoint, adapter.results.endpoint) == (ports.PLATFORM_ENDPOINT, ports.RESULTS_URL)


def test_clients_default_to_the_services_defaults() -> None:
    assert (DEFAULT_PLATFORM, DEFAULT_RESULTS, DEFAULT_DICOM) == (
        ports.PLATFORM_ENDPOINT,
        ports.RESULTS_URL,
        ports.DICOM_API_URL,
    )
    assert results_endpoint(None, {"CLARA_RESULTSSERVICE_SERVICE_HOST": "results"}) == "http://results:8088"
