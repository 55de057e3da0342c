"""console.viewer.volume and nifti: DICOM slices -> voxels on the right grid, written as NIfTI-1."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import RLELossless

from console.viewer import nifti
from console.viewer.errors import UnreadableSeries
from console.viewer.volume import read_series
from tests.support.instances import make_series

SAGITTAL = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]  # along a row: towards posterior (+y LPS); down a column: to the feet


def _restage(paths: list[Path], orientation: list[float], origin: np.ndarray, step: np.ndarray) -> None:
    """Give the series `make_series` wrote another orientation, slice step and origin."""
    for index, path in enumerate(paths):
        ds = dcmread(path)
        ds.ImageOrientationPatient = orientation
        ds.ImagePositionPatient = [float(v) for v in origin + index * step]
        ds.save_as(path)


def test_slices_are_ordered_by_position_not_by_file_name(tmp_path: Path) -> None:
    paths = make_series(tmp_path, 12, size=16)
    shuffled = paths[:]
    random.Random(4).shuffle(shuffled)
    volume = read_series(shuffled)
    # make_ct draws `index` into every pixel of slice `index` (HU = stored - 1024 + 1024 inside the disc)
    assert [int(volume.voxels[k, 0, 0]) for k in range(12)] == [-1024 + k for k in range(12)]
    assert volume.grid.shape == (12, 16, 16)
    assert volume.voxels.dtype == np.int16
    assert volume.grid.sop_instance_uids == tuple(str(dcmread(p).SOPInstanceUID) for p in paths)


def test_axial_affine_maps_lps_to_ras(tmp_path: Path) -> None:
    volume = read_series(make_series(tmp_path, 4, size=8))
    # make_ct: identity orientation, 0.7 mm pixels, slices 1 mm apart from z = 0
    expected = np.diag([-0.7, -0.7, 1.0, 1.0])
    np.testing.assert_allclose(volume.grid.affine, expected)


def test_sagittal_series_with_descending_positions(tmp_path: Path) -> None:
    paths = make_series(tmp_path, 5, size=8)
    origin, step = np.array([30.0, -20.0, 40.0]), np.array([-2.0, 0.0, 0.0])  # file i+1 is 2 mm to the right
    _restage(paths, SAGITTAL, origin, step)
    volume = read_series(paths[::-1])
    normal = np.cross(SAGITTAL[:3], SAGITTAL[3:])  # (-1, 0, 0) in LPS: slices sort from left to right
    assert normal.tolist() == [-1.0, 0.0, 0.0]
    assert volume.grid.sop_instance_uids[0] == str(dcmread(paths[0]).SOPInstanceUID)
    lps = np.array([[0.0, 0.0, -2.0, 30.0], [0.7, 0.0, 0.0, -20.0], [0.0, -0.7, 0.0, 40.0], [0, 0, 0, 1]])
    np.testing.assert_allclose(volume.grid.affine, np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps)
    # voxel (column 3, row 2, slice 1) lands where DICOM's formula puts that pixel (PS3.3 C.7.6.2.1.1)
    column, row, k = 3, 2, 1
    position_lps = origin + k * step + column * 0.7 * np.array(SAGITTAL[:3]) + row * 0.7 * np.array(SAGITTAL[3:])
    ras = volume.grid.affine @ np.array([column, row, k, 1.0])
    np.testing.assert_allclose(ras[:3], position_lps * [-1, -1, 1])


def test_compressed_slices_decode_to_the_same_volume(tmp_path: Path) -> None:
    plain = read_series(make_series(tmp_path / "plain", 3, size=16))
    rle = read_series(make_series(tmp_path / "rle", 3, size=16, transfer_syntax=RLELossless))
    np.testing.assert_array_equal(plain.voxels, rle.voxels)


def test_fractional_rescale_gives_float_voxels(tmp_path: Path) -> None:
    paths = make_series(tmp_path, 2, size=8)
    for path in paths:
        ds = dcmread(path)
        ds.RescaleSlope = 0.5
        ds.save_as(path)
    volume = read_series(paths)
    assert volume.voxels.dtype == np.float32
    assert float(volume.voxels[1, 0, 0]) == pytest.approx(0.5 * 1 - 1024)


def test_two_series_are_refused(tmp_path: Path) -> None:
    paths = make_series(tmp_path / "a", 2, size=8) + make_series(tmp_path / "b", 2, size=8)
    with pytest.raises(UnreadableSeries, match="more than one series"):
        read_series(paths)


def test_an_image_without_position_is_refused(tmp_path: Path) -> None:
    paths = make_series(tmp_path, 2, size=8)
    ds = dcmread(paths[1])
    del ds.ImagePositionPatient
    ds.save_as(paths[1])
    with pytest.raises(UnreadableSeries, match="position"):
        read_series(paths)


def test_a_file_that_is_not_dicom_is_refused(tmp_path: Path) -> None:
    paths = make_series(tmp_path, 2, size=8)
    paths[0].write_bytes(b"not dicom")
    with pytest.raises(UnreadableSeries, match="not readable DICOM"):
        read_series(paths)


def test_nifti_header_and_voxels_round_trip(tmp_path: Path) -> None:
    volume = read_series(make_series(tmp_path / "ct", 3, size=8))
    out = tmp_path / "ct.nii"
    nifti.write(out, volume.voxels, volume.grid.affine)
    shape, datatype, srow = nifti.read_header(out)
    assert shape == (8, 8, 3)  # x (columns), y (rows), z (slices)
    assert datatype == 4  # int16
    np.testing.assert_allclose(srow, volume.grid.affine[:3], rtol=1e-6)
    voxels = np.fromfile(out, dtype="<i2", offset=nifti.VOX_OFFSET).reshape(3, 8, 8)
    np.testing.assert_array_equal(voxels, volume.voxels)
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_bytes()[344:348] == b"n+1\x00"
