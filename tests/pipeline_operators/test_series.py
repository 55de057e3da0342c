"""Ordering frames into series along the slice normal; gaps, mixed orientations and duplicates."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pipeline_operators.errors import SeriesGeometryError
from pipeline_operators.series import Frame, plan_series

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _frame(z: float, orientation: tuple[float, ...] = AXIAL, name: str = "") -> Frame:
    return Frame(
        path=Path(name or f"{z}.dcm"),
        relative_path=name or f"{z}.dcm",
        frame_number=0,
        sop_instance_uid=f"1.{int(z * 10) + 1000}",
        position=(-10.0, -10.0, z),
        orientation=orientation,  # type: ignore[arg-type]
        pixel_spacing=(0.5, 0.5),
        rows=4,
        columns=4,
        slope=1.0,
        intercept=0.0,
    )


def test_frames_are_sorted_along_the_slice_normal() -> None:
    frames = [_frame(z) for z in (0.0, 2.5, 5.0, 7.5, 10.0)]
    random.Random(1).shuffle(frames)
    plan = plan_series("1.2", frames)
    assert [frame.position[2] for frame in plan.frames] == [0.0, 2.5, 5.0, 7.5, 10.0]
    assert plan.spacing == (2.5, 0.5, 0.5)
    assert plan.origin == (-10.0, -10.0, 0.0)
    assert plan.uniform_spacing and not plan.warnings


def test_sagittal_series_sorts_along_row_cross_column() -> None:
    sagittal = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    frames = [
        Frame(Path(f"{x}"), f"{x}", 0, f"1.{x}", (float(x), 0.0, 0.0), sagittal, (1.0, 1.0), 4, 4, 1.0, 0.0)
        for x in (3, 1, 2)
    ]
    plan = plan_series("1.2", frames)
    # normal = (0, 1, 0) x (0, 0, -1) = (-1, 0, 0): the volume runs from patient left to right.
    assert [frame.position[0] for frame in plan.frames] == [3.0, 2.0, 1.0]
    assert plan.direction[0] == (-1.0, 0.0, 0.0)


def test_a_gap_is_a_warning_by_default() -> None:
    plan = plan_series("1.2", [_frame(z) for z in (0.0, 2.5, 5.0, 10.0, 12.5)])
    assert not plan.uniform_spacing
    assert plan.spacing[0] == 2.5
    assert "slice spacing is not uniform: median 2.500 mm" in plan.warnings[0]
    assert "largest 5.000 mm" in plan.warnings[0]


def test_a_gap_is_an_error_when_asked() -> None:
    with pytest.raises(SeriesGeometryError, match="series 1.2: slice spacing is not uniform"):
        plan_series("1.2", [_frame(z) for z in (0.0, 2.5, 5.0, 10.0)], gaps_are_errors=True)


def test_mixed_orientations_are_an_error_naming_the_file() -> None:
    tilted = (1.0, 0.0, 0.0, 0.0, 0.9, 0.43589)
    frames = [_frame(0.0), _frame(2.5), _frame(5.0, tilted, name="odd.dcm")]
    with pytest.raises(SeriesGeometryError, match=r"mixed orientations \(1 of 3 frames .* in odd.dcm"):
        plan_series("1.2", frames)


def test_two_frames_at_one_position_are_an_error() -> None:
    frames = [_frame(0.0), _frame(2.5, name="a.dcm"), _frame(2.5, name="b.dcm")]
    with pytest.raises(SeriesGeometryError, match="1 pair\\(s\\) of frames share a position"):
        plan_series("1.2", frames)


def test_single_slice_uses_its_thickness() -> None:
    plan = plan_series("1.2", [_frame(0.0)])
    assert plan.spacing[0] == 1.0
