"""`read_segmentation(path, grid) -> Labels`: a DICOM SEG laid on the voxel grid of the series it segments.

Segments may overlap (the reference pipeline's "Body" contains its "Lung"), so one label value per voxel
cannot say everything. With up to 8 segments each voxel holds a bit per segment (`bits`: voxel value
2^(n-1) means segment n alone); the browser colours a voxel by the smallest enabled segment it belongs
to, so hiding "Lung" shows "Body" underneath. With more segments each voxel holds the number of the
smallest segment covering it (`index`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import numpy.typing as npt
import structlog
from pydicom.errors import InvalidDicomError

from console.viewer.errors import UnreadableSegmentation
from console.viewer.volume import Grid

log = structlog.get_logger()
MAX_BIT_SEGMENTS = 8
# Used when a segment has no RecommendedDisplayCIELabValue: distinct, readable over grey CT.
PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
]


@dataclass(frozen=True)
class Segment:
    number: int
    label: str
    colour: tuple[int, int, int]
    voxels: int  # how many voxels it covers (smaller segments are drawn over larger ones)

    def to_json(self) -> dict[str, object]:
        return {"number": self.number, "label": self.label, "colour": list(self.colour), "voxels": self.voxels}


@dataclass(frozen=True)
class Labels:
    voxels: npt.NDArray[np.generic]  # same shape as the grid: uint8 bits, or uint16 segment numbers
    encoding: str  # "bits" | "index"
    segments: tuple[Segment, ...]


def read_segmentation(path: Path, grid: Grid) -> Labels:
    """Read the SEG at `path` onto `grid` (the image series it references); raises UnreadableSegmentation."""
    try:
        seg = hd.seg.segread(path)
    except (InvalidDicomError, OSError, ValueError, AttributeError) as exc:
        raise UnreadableSegmentation(f"the SEG cannot be read ({type(exc).__name__})") from exc
    numbers = [int(n) for n in seg.segment_numbers]
    masks = _masks(seg, grid, numbers)
    counts = [int(np.count_nonzero(masks[..., i])) for i in range(len(numbers))]
    segments = tuple(
        Segment(n, str(seg.get_segment_description(n).segment_label), _colour(seg, n, i), counts[i])
        for i, n in enumerate(numbers)
    )
    if len(numbers) <= MAX_BIT_SEGMENTS:
        return Labels(_bits(masks), "bits", segments)
    return Labels(_smallest_on_top(masks, numbers, counts), "index", segments)


def _masks(seg: hd.seg.Segmentation, grid: Grid, numbers: list[int]) -> npt.NDArray[np.uint8]:
    """[slice, row, column, segment] masks in the grid's slice order, matched through the source images."""
    try:
        masks = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=list(grid.sop_instance_uids),
            segment_numbers=numbers,
            assert_missing_frames_are_empty=True,
            dtype=np.uint8,
        )
    except (ValueError, KeyError, RuntimeError) as exc:
        raise UnreadableSegmentation(f"the SEG's frames do not map onto its image series: {exc}") from exc
    if masks.shape[:3] != grid.shape:
        raise UnreadableSegmentation(
            f"the SEG's frames are {masks.shape[1]}x{masks.shape[2]}, its images {grid.shape[1]}x{grid.shape[2]}"
        )
    return np.asarray(masks, dtype=np.uint8)


def _bits(masks: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    out = np.zeros(masks.shape[:3], dtype=np.uint8)
    for i in range(masks.shape[3]):
        out |= (masks[..., i] != 0).astype(np.uint8) << np.uint8(i)
    return out


def _smallest_on_top(masks: npt.NDArray[np.uint8], numbers: list[int], counts: list[int]) -> npt.NDArray[np.uint16]:
    out = np.zeros(masks.shape[:3], dtype=np.uint16)
    for i in sorted(range(len(numbers)), key=lambda i: -counts[i]):
        out[masks[..., i] != 0] = numbers[i]
    return out


def _colour(seg: hd.seg.Segmentation, number: int, index: int) -> tuple[int, int, int]:
    item = seg.SegmentSequence[number - 1] if len(seg.SegmentSequence) >= number else None
    lab = item.get("RecommendedDisplayCIELabValue") if item is not None else None
    if lab is None or len(lab) != 3:
        return PALETTE[index % len(PALETTE)]
    return dicom_lab_to_rgb(tuple(int(v) for v in lab))


def dicom_lab_to_rgb(scaled: tuple[int, ...]) -> tuple[int, int, int]:
    """DICOM's scaled CIELab (PS3.3 C.10.7.1.1: 0..65535 per component, D65) to 8-bit sRGB."""
    lightness = scaled[0] * 100.0 / 65535.0
    a_star = scaled[1] * 255.0 / 65535.0 - 128.0
    b_star = scaled[2] * 255.0 / 65535.0 - 128.0
    fy = (lightness + 16.0) / 116.0
    fx, fz = fy + a_star / 500.0, fy - b_star / 200.0

    def inverse(f: float) -> float:
        return f**3 if f**3 > 0.008856 else (f - 16.0 / 116.0) / 7.787

    x, y, z = 0.95047 * inverse(fx), 1.0 * inverse(fy), 1.08883 * inverse(fz)
    linear = (
        3.2406 * x - 1.5372 * y - 0.4986 * z,
        -0.9689 * x + 1.8758 * y + 0.0415 * z,
        0.0557 * x - 0.2040 * y + 1.0570 * z,
    )

    def gamma(c: float) -> int:
        c = min(max(c, 0.0), 1.0)
        value = 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055
        return round(value * 255)

    return gamma(linear[0]), gamma(linear[1]), gamma(linear[2])
