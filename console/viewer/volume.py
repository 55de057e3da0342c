"""`read_series(paths) -> Volume`: one DICOM image series stacked into a voxel array with its RAS affine.

Each file is read once, fully (pydicom), and uncompressed pixel data goes straight from the file's bytes
into the volume with no per-slice decoding step; compressed transfer syntaxes go through pydicom's
decoders. Slices are ordered along the normal of the image plane, not by InstanceNumber.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from console.viewer.errors import UnreadableSeries

log = structlog.get_logger()

# DICOM patient coordinates are LPS; NIfTI (and so NiiVue) expects RAS: flip the first two axes.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
UNCOMPRESSED = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
SPACING_TOLERANCE = 0.01  # relative: slices further off than this from even spacing are reported


@dataclass(frozen=True)
class Grid:
    """Where a volume's voxels are: shape [slice, row, column], voxel-to-RAS affine, the image of each slice."""

    shape: tuple[int, int, int]
    affine: npt.NDArray[np.float64]
    sop_instance_uids: tuple[str, ...]  # one per slice, in slice order
    frame_of_reference_uid: str

    def to_json(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "affine": self.affine.tolist(),
            "sop_instance_uids": list(self.sop_instance_uids),
            "frame_of_reference_uid": self.frame_of_reference_uid,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grid:
        shape = tuple(int(v) for v in data["shape"])
        return cls(
            (shape[0], shape[1], shape[2]),
            np.asarray(data["affine"], dtype=np.float64),
            tuple(data["sop_instance_uids"]),
            str(data["frame_of_reference_uid"]),
        )


@dataclass(frozen=True)
class Volume:
    """Voxels indexed [slice, row, column] (modality values: HU for CT) on their grid."""

    voxels: npt.NDArray[np.generic]
    grid: Grid
    modality: str


def read_series(paths: Sequence[Path]) -> Volume:
    """Read the single-frame image files of one series and stack them; raises UnreadableSeries."""
    if not paths:
        raise UnreadableSeries("the series has no files")
    datasets = [_read(path) for path in paths]
    first = datasets[0]
    _check_one_grid(datasets)
    normal = np.cross(*_orientation(first))
    datasets.sort(key=lambda ds: float(np.dot(normal, _position(ds))))
    voxels = _stack(datasets)
    affine = _affine(datasets, normal)
    grid = Grid(
        shape=(voxels.shape[0], voxels.shape[1], voxels.shape[2]),
        affine=affine,
        sop_instance_uids=tuple(str(ds.SOPInstanceUID) for ds in datasets),
        frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "")),
    )
    return Volume(voxels=voxels, grid=grid, modality=str(first.get("Modality", "")))


def _read(path: Path) -> Dataset:
    try:
        ds = dcmread(path)
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise UnreadableSeries(f"a file of the series is not readable DICOM ({type(exc).__name__})") from exc
    if "PixelData" not in ds or int(ds.get("NumberOfFrames", 1) or 1) != 1:
        raise UnreadableSeries("the viewer stacks single-frame images; this series has none or multi-frame ones")
    if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds or "PixelSpacing" not in ds:
        raise UnreadableSeries("an image has no position, orientation or pixel spacing: it cannot be placed in 3D")
    return ds


def _orientation(ds: Dataset) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    cosines = np.asarray(ds.ImageOrientationPatient, dtype=np.float64)
    return cosines[:3], cosines[3:]


def _position(ds: Dataset) -> npt.NDArray[np.float64]:
    return np.asarray(ds.ImagePositionPatient, dtype=np.float64)


def _check_one_grid(datasets: list[Dataset]) -> None:
    first = datasets[0]
    series = first.SeriesInstanceUID
    shape = (first.Rows, first.Columns)
    cosines = np.asarray(first.ImageOrientationPatient, dtype=np.float64)
    spacing = np.asarray(first.PixelSpacing, dtype=np.float64)
    for ds in datasets[1:]:
        if ds.SeriesInstanceUID != series:
            raise UnreadableSeries("the files belong to more than one series")
        if (ds.Rows, ds.Columns) != shape:
            raise UnreadableSeries("the images of the series differ in size")
        if not np.allclose(np.asarray(ds.ImageOrientationPatient, dtype=np.float64), cosines, atol=1e-4):
            raise UnreadableSeries("the images of the series differ in orientation")
        if not np.allclose(np.asarray(ds.PixelSpacing, dtype=np.float64), spacing, rtol=1e-4):
            raise UnreadableSeries("the images of the series differ in pixel spacing")


def pixels(ds: Dataset) -> npt.NDArray[np.generic]:
    """One slice's stored values: a view on the file's bytes when uncompressed, else pydicom's decoder."""
    if ds.file_meta.TransferSyntaxUID in UNCOMPRESSED and ds.BitsAllocated in (8, 16):
        kind = "i" if ds.PixelRepresentation else "u"
        dtype = np.dtype(f"<{kind}{ds.BitsAllocated // 8}")
        if len(ds.PixelData) < ds.Rows * ds.Columns * dtype.itemsize:
            raise UnreadableSeries("an image's pixel data is shorter than its size says (a truncated file?)")
        flat = np.frombuffer(ds.PixelData, dtype=dtype, count=ds.Rows * ds.Columns)
        return flat.reshape(ds.Rows, ds.Columns)
    try:
        return np.asarray(ds.pixel_array)
    except (ValueError, RuntimeError, NotImplementedError) as exc:
        raise UnreadableSeries(f"pixel data cannot be decoded ({exc})") from exc


def rescale(ds: Dataset) -> tuple[float, float]:
    return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)


def _stack(datasets: list[Dataset]) -> npt.NDArray[np.generic]:
    """Modality values (HU for CT): int16 when every slice's rescale keeps integers in range, else float32.

    Rescaled slice by slice while the slice is in cache: a whole-volume pass over 131 M voxels costs
    seconds on a small machine.
    """
    first = datasets[0]
    shape = (len(datasets), first.Rows, first.Columns)
    if all(_integral(ds) for ds in datasets):
        voxels = np.empty(shape, dtype=np.int16)
        for index, ds in enumerate(datasets):
            if not _to_int16(pixels(ds), rescale(ds)[1], voxels[index]):
                break
        else:
            return voxels
    floats = np.empty(shape, dtype=np.float32)
    for index, ds in enumerate(datasets):
        slope, intercept = rescale(ds)
        np.multiply(pixels(ds), np.float32(slope), out=floats[index], casting="unsafe")
        floats[index] += np.float32(intercept)
    return floats


def _integral(ds: Dataset) -> bool:
    slope, intercept = rescale(ds)
    return slope == 1 and intercept.is_integer()


def _to_int16(stored: npt.NDArray[np.generic], intercept: float, out: npt.NDArray[np.int16]) -> bool:
    """Write stored + intercept into `out`; False when a value would not fit in int16."""
    if stored.dtype.kind not in "iu":
        return False
    low, high = int(stored.min()) + int(intercept), int(stored.max()) + int(intercept)
    if low < -32768 or high > 32767:
        return False
    if stored.dtype == np.int16 or stored.dtype.itemsize == 1:
        np.add(stored, np.int16(intercept), out=out, casting="unsafe")
    else:
        np.add(stored.astype(np.int32), int(intercept), out=out, casting="unsafe")
    return True


def _affine(datasets: list[Dataset], normal: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    first = datasets[0]
    row_cosines, column_cosines = _orientation(first)
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    origin = _position(first)
    if len(datasets) > 1:
        step = (_position(datasets[-1]) - origin) / (len(datasets) - 1)
        _report_uneven(datasets, normal, float(np.dot(step, normal)))
    else:
        step = normal * float(first.get("SliceThickness", 1) or 1)
    lps = np.eye(4)
    lps[:3, 0] = row_cosines * column_spacing  # along a row: the column index grows
    lps[:3, 1] = column_cosines * row_spacing  # down a column: the row index grows
    lps[:3, 2] = step
    lps[:3, 3] = origin
    return LPS_TO_RAS @ lps


def _report_uneven(datasets: list[Dataset], normal: npt.NDArray[np.float64], mean_gap: float) -> None:
    """Uneven gaps are drawn at the mean spacing (a volume has one step); say so instead of hiding it."""
    offsets = np.array([np.dot(normal, _position(ds)) for ds in datasets])
    gaps = np.diff(offsets)
    if mean_gap == 0 or np.any(gaps == 0):
        raise UnreadableSeries("two images of the series share one position")
    if np.max(np.abs(gaps - mean_gap)) > SPACING_TOLERANCE * abs(mean_gap):
        log.warning(
            "viewer.volume.uneven_spacing", slices=len(datasets), min_gap=float(gaps.min()), max_gap=float(gaps.max())
        )
