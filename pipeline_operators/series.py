"""Turn the frames of one DICOM series into a slice order and a geometry, or say why it cannot.

Frames come from single-frame files or from the per-frame functional groups of enhanced
(multi-frame) objects. They are sorted by ImagePositionPatient projected on the slice normal
(row × column direction), never by InstanceNumber or file name. Policy, per series:

- mixed orientations, mixed matrix sizes or pixel spacings, or two frames at one position:
  `SeriesGeometryError` (the series is skipped; other series are still read);
- non-uniform slice spacing (gaps): a warning recorded in the geometry (`uniform_spacing: false`,
  `warnings`), the median spacing is used; `--on-gap error` turns it into an error instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline_operators.errors import SeriesGeometryError

# Direction cosines in real files carry 4-6 decimals; 1e-3 tolerates rounding, not a tilted slice.
ORIENTATION_TOLERANCE = 1e-3
# A spacing more than 1 % (and 0.01 mm) off the median is a gap, not rounding.
GAP_RELATIVE_TOLERANCE = 0.01
GAP_ABSOLUTE_TOLERANCE = 0.01
DUPLICATE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Frame:
    """One 2-D image of a series and where it sits in patient space."""

    path: Path
    relative_path: str
    frame_number: int  # 1-based within a multi-frame object, 0 for a single-frame file
    sop_instance_uid: str
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float, float, float]
    pixel_spacing: tuple[float, float]
    rows: int
    columns: int
    slope: float
    intercept: float
    slice_thickness: float = 0.0


@dataclass(frozen=True)
class SeriesPlan:
    """Frames in slice order with the geometry derived from them."""

    frames: tuple[Frame, ...]
    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]  # slice, row, column
    direction: tuple[tuple[float, float, float], ...]  # slice normal, column direction, row direction
    uniform_spacing: bool
    warnings: tuple[str, ...]


def plan_series(series_uid: str, frames: list[Frame], gaps_are_errors: bool = False) -> SeriesPlan:
    """Sort `frames` along the slice normal and check that they form a regular volume."""
    if not frames:
        raise SeriesGeometryError(f"series {series_uid}: no image frames")
    _check_orientation(series_uid, frames)
    _check_matrix(series_uid, frames)
    row = np.array(frames[0].orientation[:3])
    column = np.array(frames[0].orientation[3:])
    normal = np.cross(row, column)
    ordered = sorted(frames, key=lambda frame: float(np.dot(frame.position, normal)))
    projections = np.array([np.dot(frame.position, normal) for frame in ordered])
    slice_spacing, uniform, warnings = _slice_spacing(series_uid, ordered, projections, gaps_are_errors)
    return SeriesPlan(
        frames=tuple(ordered),
        origin=ordered[0].position,
        spacing=(slice_spacing, ordered[0].pixel_spacing[0], ordered[0].pixel_spacing[1]),
        direction=(_triple(normal), _triple(column), _triple(row)),
        uniform_spacing=uniform,
        warnings=tuple(warnings),
    )


def _triple(vector: np.ndarray) -> tuple[float, float, float]:
    return (float(vector[0]), float(vector[1]), float(vector[2]))


def _check_orientation(series_uid: str, frames: list[Frame]) -> None:
    reference = np.array(frames[0].orientation)
    odd = [frame for frame in frames if not np.allclose(frame.orientation, reference, atol=ORIENTATION_TOLERANCE)]
    if odd:
        raise SeriesGeometryError(
            f"series {series_uid}: mixed orientations ({len(odd)} of {len(frames)} frames differ from "
            f"{_fmt(frames[0].orientation)}, e.g. {_fmt(odd[0].orientation)} in {odd[0].relative_path}); "
            "cannot stack it into one volume"
        )


def _check_matrix(series_uid: str, frames: list[Frame]) -> None:
    sizes = {(frame.rows, frame.columns) for frame in frames}
    if len(sizes) > 1:
        raise SeriesGeometryError(f"series {series_uid}: mixed matrix sizes {sorted(sizes)}")
    spacings = {tuple(round(value, 4) for value in frame.pixel_spacing) for frame in frames}
    if len(spacings) > 1:
        raise SeriesGeometryError(f"series {series_uid}: mixed pixel spacings {sorted(spacings)}")


def _slice_spacing(
    series_uid: str, ordered: list[Frame], projections: np.ndarray, gaps_are_errors: bool
) -> tuple[float, bool, list[str]]:
    if len(ordered) == 1:
        return (ordered[0].slice_thickness or 1.0), True, []
    steps = np.diff(projections)
    duplicates = np.flatnonzero(steps < DUPLICATE_TOLERANCE)
    if duplicates.size:
        first = ordered[int(duplicates[0])]
        second = ordered[int(duplicates[0]) + 1]
        raise SeriesGeometryError(
            f"series {series_uid}: {duplicates.size} pair(s) of frames share a position "
            f"(e.g. {first.relative_path} and {second.relative_path} at {_fmt(first.position)}); "
            "the series holds more than one volume"
        )
    median = float(np.median(steps))
    tolerance = max(GAP_RELATIVE_TOLERANCE * median, GAP_ABSOLUTE_TOLERANCE)
    irregular = np.flatnonzero(np.abs(steps - median) > tolerance)
    if not irregular.size:
        return median, True, []
    message = (
        f"series {series_uid}: slice spacing is not uniform: median {median:.3f} mm, "
        f"{irregular.size} irregular step(s), largest {float(steps.max()):.3f} mm after slice "
        f"{int(np.argmax(steps))} ({ordered[int(np.argmax(steps))].relative_path})"
    )
    if gaps_are_errors:
        raise SeriesGeometryError(message)
    return median, False, [message + "; the volume uses the median spacing"]


def _fmt(values: tuple[float, ...]) -> str:
    return "[" + ", ".join(f"{value:g}" for value in values) + "]"
