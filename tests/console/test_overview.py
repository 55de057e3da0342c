"""The overview's disk: the DICOM adapter's own spool figures against its own watermark."""

from __future__ import annotations

import pytest

from console.views.overview import spool_disk
from openclara.metrics import Figures

GIB = 2**30


def _figures(size: int, available: int, reserved: int) -> Figures:
    return Figures.parse(
        "# TYPE openclara_dicom_spool_disk_size_bytes gauge\n"
        f"openclara_dicom_spool_disk_size_bytes {size}\n"
        "# TYPE openclara_dicom_spool_disk_available_bytes gauge\n"
        f"openclara_dicom_spool_disk_available_bytes {available}\n"
        "# TYPE openclara_dicom_spool_disk_reserved_bytes gauge\n"
        f"openclara_dicom_spool_disk_reserved_bytes {reserved}\n"
    )


def test_the_watermark_is_where_available_falls_to_reserved() -> None:
    disk = spool_disk(_figures(size=100 * GIB, available=40 * GIB, reserved=15 * GIB))
    assert disk is not None
    assert disk.used_fraction == pytest.approx(0.60)
    assert disk.watermark_fraction == pytest.approx(0.85)
    assert disk.free_gb == pytest.approx(40)
    assert not disk.over


def test_the_disk_is_over_when_the_adapter_would_refuse() -> None:
    disk = spool_disk(_figures(size=100 * GIB, available=15 * GIB, reserved=15 * GIB))
    assert disk is not None and disk.over


def test_no_disk_without_the_adapters_figures() -> None:
    assert spool_disk(Figures.parse("# TYPE openclara_dicom_payloads gauge\nopenclara_dicom_payloads 0\n")) is None
    assert spool_disk(_figures(size=0, available=0, reserved=0)) is None
