"""The stack's metric naming scheme, held by all three services, and reading a scrape back."""

from __future__ import annotations

import re
from collections import namedtuple
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from dicom_adapter.metrics import AdapterMetrics
from openclara.metrics import Figures, metric_name
from platform_server.metrics import PlatformMetrics
from results_service.metrics import Metrics as ResultsMetrics

Disk = namedtuple("Disk", "total available reserved")
DOC = Path(__file__).resolve().parents[2] / "docs/monitoring.md"
SCHEME = re.compile(r"^openclara_(platform|dicom|results)_[a-z][a-z0-9_]*$")


def test_names_are_built_from_service_thing_and_unit() -> None:
    assert metric_name("platform", "queue_wait", "seconds") == "openclara_platform_queue_wait_seconds"
    assert metric_name("dicom", "associations") == "openclara_dicom_associations"


@pytest.mark.parametrize(("service", "thing", "unit"), [
    ("adapter", "x", ""), ("dicom", "Bytes", ""), ("dicom", "sent_total", ""), ("dicom", "x", "ms"),
    ("results", "latency_count", ""), ("platform", "_x", ""),
])
def test_names_outside_the_scheme_are_refused(service: str, thing: str, unit: str) -> None:
    with pytest.raises(ValueError, match="metric"):
        metric_name(service, thing, unit)


def registries() -> dict[str, bytes]:
    adapter = AdapterMetrics()
    adapter.watch_spares(lambda: 3, lambda: 0)
    adapter.watch_disk(lambda: Disk(100, 60, 15))
    return {"platform": PlatformMetrics(2).render(), "dicom": adapter.render(), "results": ResultsMetrics().render()}


@pytest.mark.parametrize("service", ["platform", "dicom", "results"])
def test_every_metric_of_every_service_follows_the_scheme(service: str) -> None:
    figures = Figures.parse(registries()[service].decode())
    assert figures.types, "no metric at all"
    for name, kind in figures.types.items():
        assert SCHEME.match(name) and name.startswith(f"openclara_{service}_"), name
        if kind == "gauge":  # a gauge named like a counter's series would mislead every query
            assert not name.endswith("_total"), name


@pytest.mark.parametrize("service", ["platform", "dicom", "results"])
def test_docs_list_every_metric(service: str) -> None:
    listed = set(re.findall(r"`(openclara_[a-z0-9_]+)`", DOC.read_text()))
    for name, kind in Figures.parse(registries()[service].decode()).types.items():
        if name.endswith("_created"):
            continue  # prometheus_client's companion series, described once in the doc's naming section
        assert (f"{name}_total" if kind == "counter" else name) in listed, name


def test_the_adapter_reports_its_spool_disk_against_the_watermark() -> None:
    figures = Figures.parse(registries()["dicom"].decode())
    assert figures.value("openclara_dicom_spool_disk_size_bytes") == 100
    assert figures.value("openclara_dicom_spool_disk_available_bytes") == 60
    assert figures.value("openclara_dicom_spool_disk_reserved_bytes") == 15


def test_figures_give_values_by_labels_and_types_by_family() -> None:
    registry = CollectorRegistry()
    Counter("openclara_dicom_things", "h", ["ae"], registry=registry).labels("A").inc(2)
    counter = Counter("openclara_dicom_more", "h", ["ae"], registry=registry)
    counter.labels("A").inc(1)
    counter.labels("B").inc(4)
    Gauge("openclara_dicom_level", "h", registry=registry).set(7)
    Histogram("openclara_dicom_wait_seconds", "h", registry=registry, buckets=(1, 2)).observe(1.5)
    figures = Figures.parse(generate_latest(registry).decode())
    assert figures.types["openclara_dicom_things"] == "counter"
    assert figures.types["openclara_dicom_wait_seconds"] == "histogram"
    assert figures.value("openclara_dicom_things_total", ae="A") == 2
    assert figures.value("openclara_dicom_things_total", ae="B") is None
    assert figures.total("openclara_dicom_more_total") == 5
    assert figures.value("openclara_dicom_level") == 7
    assert figures.value("openclara_dicom_wait_seconds_bucket", le="2.0") == 1
    assert figures.value("openclara_dicom_wait_seconds_count") == 1
    assert figures.samples("missing") == [] and "openclara_dicom_level" in figures.names


def test_a_page_that_is_not_prometheus_text_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Figures.parse("<html><body>sign in</body></html>")
