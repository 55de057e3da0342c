"""A synthetic chest: Hounsfield units and the ground-truth labels they were drawn from.

Shapes (patient LPS, mm, isocentre at the origin): an elliptic body cylinder of soft tissue under a fat
layer, two lung ellipsoids of air-filled parenchyma, a trachea above them, the heart between them
(soft tissue, no extra shape needed) and a vertebral body behind. Noise is seeded, so a seed always
gives the same voxels. Used by `sample_study` and by the segmentation tests as their ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

AIR_HU = -1000
FAT_HU = -100
SOFT_TISSUE_HU = 40
LUNG_HU = -850
BONE_HU = 700

BODY_LABEL = 1
LUNG_LABEL = 2

FIELD_OF_VIEW_MM = 380.0


@dataclass(frozen=True)
class PhantomSpec:
    """Size and sampling of the phantom; spacing in mm."""

    slices: int = 200
    matrix: int = 512
    slice_spacing: float = 1.5
    seed: int = 0

    @property
    def pixel_spacing(self) -> float:
        return FIELD_OF_VIEW_MM / self.matrix

    def slice_z(self, index: int) -> float:
        """Table position of slice `index`; slice 0 is the most cranial (head-first supine)."""
        extent = (self.slices - 1) * self.slice_spacing
        return extent / 2.0 - index * self.slice_spacing


@dataclass(frozen=True)
class Phantom:
    """HU per voxel (int16) and labels (0 outside, 1 body, 2 lungs), both (slice, row, column)."""

    hounsfield: npt.NDArray[np.int16]
    labels: npt.NDArray[np.uint8]
    spec: PhantomSpec


def build_phantom(spec: PhantomSpec) -> Phantom:
    """Draw the phantom slice by slice (bounded memory for 512² × several hundred slices)."""
    rng = np.random.default_rng(spec.seed)
    coords = (np.arange(spec.matrix) - (spec.matrix - 1) / 2.0) * spec.pixel_spacing
    y, x = np.meshgrid(coords, coords, indexing="ij")  # rows run posterior (+y), columns run left (+x)
    z_half = max((spec.slices - 1) * spec.slice_spacing / 2.0, spec.slice_spacing)
    hounsfield = np.empty((spec.slices, spec.matrix, spec.matrix), dtype=np.int16)
    labels = np.zeros_like(hounsfield, dtype=np.uint8)
    for index in range(spec.slices):
        hu, label = _slice(x, y, spec.slice_z(index) / z_half, rng)
        hounsfield[index] = hu
        labels[index] = label
    return Phantom(hounsfield, labels, spec)


def _slice(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], zn: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.uint8]]:
    """One axial slice at normalised height `zn` in [-1, 1] (1 = cranial end)."""
    body = (x / 160.0) ** 2 + (y / 110.0) ** 2 <= 1.0
    inner = (x / 150.0) ** 2 + (y / 100.0) ** 2 <= 1.0
    hu = np.full(x.shape, float(AIR_HU))
    hu[body] = FAT_HU
    hu[inner] = SOFT_TISSUE_HU
    lungs = _lungs(x, y, zn)
    hu[lungs] = LUNG_HU
    hu[(x**2 + (y - 78.0) ** 2) <= 15.0**2] = BONE_HU
    if zn > 0.55:  # the trachea ends above the lungs' apex, so it stays a separate small air component
        hu[(x**2 + (y + 20.0) ** 2) <= 8.0**2] = AIR_HU
    noise = rng.normal(0.0, 12.0, size=x.shape)
    hu = np.where(body, hu + noise, hu)
    label = np.zeros(x.shape, dtype=np.uint8)
    label[body] = BODY_LABEL
    label[lungs] = LUNG_LABEL
    return np.clip(np.rint(hu), -1024, 3071).astype(np.int16), label


def _lungs(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], zn: float) -> npt.NDArray[np.bool_]:
    """Two ellipsoids centred below mid-height; their cross-section shrinks towards apex and base."""
    zc = (zn + 0.1) / 0.6  # lungs span zn in [-0.7, 0.5]
    if abs(zc) >= 1.0:
        return np.zeros(x.shape, dtype=bool)
    scale = np.sqrt(1.0 - zc**2)
    shape = ((y + 5.0) / (70.0 * scale)) ** 2
    left = ((x - 68.0) / (50.0 * scale)) ** 2 + shape <= 1.0
    right = ((x + 68.0) / (50.0 * scale)) ** 2 + shape <= 1.0
    return np.asarray(left | right)
