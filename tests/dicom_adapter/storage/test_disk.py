from __future__ import annotations

from dicom_adapter.storage.disk import DiskGuard


def test_room_when_the_reserve_is_zero(tmp_path):
    guard = DiskGuard(tmp_path, watermark_percent=100, reserve_space_gb=0)
    assert guard.has_room()


def test_no_room_when_the_reserve_exceeds_the_disk(tmp_path):
    guard = DiskGuard(tmp_path, watermark_percent=100, reserve_space_gb=1e9)
    assert not guard.has_room()


def test_watermark_percent_reserves_a_fraction_of_the_disk(tmp_path):
    usage = DiskGuard(tmp_path, watermark_percent=50, reserve_space_gb=0).usage()
    assert usage.reserved == int(usage.total * 0.5)
    assert DiskGuard(tmp_path, watermark_percent=0.001, reserve_space_gb=0).has_room() is False


def test_incoming_bytes_count_against_the_room(tmp_path):
    guard = DiskGuard(tmp_path, watermark_percent=100, reserve_space_gb=0)
    assert not guard.has_room(incoming=guard.usage().available)


def test_missing_directory_is_measured_at_its_parent(tmp_path):
    assert DiskGuard(tmp_path / "not" / "yet", 100, 0).usage().total > 0
