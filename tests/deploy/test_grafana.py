"""The Grafana dashboards in deploy/grafana/: valid JSON that Grafana imports, whose every query names only
series the services export (a renamed metric would otherwise leave an empty panel, silently)."""

from __future__ import annotations

import json
import re
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

from dicom_adapter.metrics import AdapterMetrics
from openclara.metrics import Figures
from platform_server.metrics import PlatformMetrics
from results_service.metrics import Metrics as ResultsMetrics

DASHBOARDS = sorted((Path(__file__).resolve().parents[2] / "deploy/grafana").glob("*.json"))
METRIC = re.compile(r"\bopenclara_[a-z0-9_]+")
SERIES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
          "gauge": ("",), "summary": ("", "_sum", "_count", "_created")}
Disk = namedtuple("Disk", "total available reserved")


def exported() -> set[str]:
    """Every series name the three services can answer with, from their own registries."""
    adapter = AdapterMetrics()
    adapter.watch_spares(lambda: 0, lambda: 0)
    adapter.watch_disk(lambda: Disk(1, 1, 0))
    names: set[str] = set()
    for text in (PlatformMetrics(1).render(), adapter.render(), ResultsMetrics().render()):
        for family, kind in Figures.parse(text.decode()).types.items():
            names.update(family + suffix for suffix in SERIES.get(kind, ("",)))
    return names


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())]


def test_there_is_a_dashboard_for_each_concern() -> None:
    assert [p.stem for p in DASHBOARDS] == ["openclara-exports", "openclara-ingest", "openclara-jobs",
                                            "openclara-node"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_query_names_only_exported_series(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    known = exported()
    assert queries(dashboard)
    for expr in queries(dashboard):
        used = set(METRIC.findall(expr))
        assert used, f"{path.name}: {expr!r} names no openclara metric"
        assert used <= known, f"{path.name}: {expr!r} names {sorted(used - known)}, which no service exports"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboards_import_into_any_grafana(path: Path) -> None:
    """A uid of its own, the data source as a variable (no site's data source uid), panels that do not overlap."""
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] == path.stem and dashboard["title"].startswith("openclara / ")
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        g = panel["gridPos"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"{path.name}: panel {panel['title']!r} overlaps another"
        assert g["x"] + g["w"] <= 24
        cells |= area
