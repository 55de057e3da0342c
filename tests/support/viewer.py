"""Shared helpers of the viewer's tests: a lung-seg job's payload (the phantom CT and the reference
pipeline's SEG of it), and reading the overlay back off the pixels NiiVue draws in headless Chromium."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from console.viewer import Grid
from pipeline_operators.dicom_reader import read_series as pipeline_read
from pipeline_operators.dicom_seg_writer import write_segmentation
from pipeline_operators.lung_segmentation import Thresholds, segment_volume
from pipeline_operators.phantom import PhantomSpec
from pipeline_operators.sample_study import write_study

# The viewer page is done loading (or failed): the browser tests wait for this before reading pixels.
READY = "() => ['ready', 'error'].includes(document.getElementById('viewer').dataset.state)"


@dataclass(frozen=True)
class LungStudy:
    """A phantom chest CT (`ct/`), the reference pipeline's SEG of it (`seg/`) and its labels by CT file."""

    root: Path
    seg: Path
    labels: dict[str, np.ndarray]  # SOPInstanceUID -> that slice's labels (0 air, 1 body, 2 lung)

    @property
    def ct(self) -> list[Path]:
        return sorted((self.root / "ct").glob("*.dcm"))


def write_lung_study(root: Path, slices: int = 24, matrix: int = 96) -> LungStudy:
    """What a lung-seg job leaves in its payload: the CT it was sent and the SEG it produced."""
    ct = root / "ct"
    ct.mkdir(parents=True)
    write_study(PhantomSpec(slices=slices, matrix=matrix, slice_spacing=5.0), ct)
    [volume], _ = pipeline_read(ct)
    labels = segment_volume(volume, Thresholds())
    seg = write_segmentation(labels, ct, root / "seg")
    by_uid = dict(zip(labels.geometry.sop_instance_uids, labels.array, strict=True))
    return LungStudy(root, seg, by_uid)



def axial_slice_with_most_lung(page: Any, grid: Grid, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Show the axial slice with the most lung (labels: 0 air, 1 body, 2 lung), crosshair hidden; return that
    slice's labels and its (column, row) -> RAS mm map."""
    k = int(np.argmax((labels == 2).sum(axis=(1, 2))))
    page.get_by_role("button", name="Axial").click()
    centre = grid.affine @ np.array([grid.shape[2] / 2, grid.shape[1] / 2, k, 1.0])
    page.evaluate(
        """(mm) => { const nv = window.openclaraViewer.nv; nv.setCrosshairWidth(0);
                     nv.scene.crosshairPos = nv.mm2frac(mm); nv.drawScene(); }""",
        [float(v) for v in centre[:3]],
    )
    slice_affine = grid.affine.copy()
    slice_affine[:3, 3] += grid.affine[:3, 2] * k  # (column, row) on slice k -> mm
    return labels[k], slice_affine


def canvas_points(page: Any, affine: np.ndarray, voxels: np.ndarray) -> list[tuple[int, int]]:
    """Where NiiVue draws the centres of these (row, column) voxels of the shown slice, in canvas pixels."""
    mm = [(affine @ np.array([c, r, 0, 1.0]))[:3].tolist() for r, c in voxels]
    found = page.evaluate(
        """(points) => { const nv = window.openclaraViewer.nv;
                         return points.map((p) => nv.frac2canvasPos(nv.mm2frac(p))); }""",
        mm,
    )
    return [(round(p[0]), round(p[1])) for p in found]


def pixels(page: Any, points: list[tuple[int, int]]) -> np.ndarray:
    shot = Image.open(io.BytesIO(page.locator("#viewer-canvas").screenshot())).convert("RGB")
    image = np.asarray(shot).astype(int)
    return np.array([image[y, x] for x, y in points])


def sample(mask: np.ndarray, count: int = 40) -> np.ndarray:
    found = np.argwhere(mask)
    assert len(found) >= count
    return found[np.linspace(0, len(found) - 1, count).astype(int)]


def regions(labels: np.ndarray) -> dict[str, np.ndarray]:
    lung = ndimage.binary_erosion(labels == 2, iterations=2)  # away from edges: no partial-voxel blending
    body_only = ndimage.binary_erosion(labels == 1, iterations=2)
    air = ~ndimage.binary_dilation(labels >= 1, iterations=4)
    return {"lung": sample(lung), "body": sample(body_only), "air": sample(air)}


def greenish(rgb: np.ndarray) -> np.ndarray:
    return (rgb[:, 1] > rgb[:, 0] + 30) & (rgb[:, 1] > rgb[:, 2] + 30)


def reddish(rgb: np.ndarray) -> np.ndarray:
    return (rgb[:, 0] > rgb[:, 1] + 40) & (rgb[:, 0] > rgb[:, 2] + 20)



def assert_overlay_inside_the_lungs_only(page: Any, labels: np.ndarray, affine: np.ndarray) -> None:
    where = regions(labels)
    lung, body, air = (pixels(page, canvas_points(page, affine, where[name])) for name in ("lung", "body", "air"))
    assert greenish(lung).all(), lung
    assert reddish(body).all(), body
    assert (air.max(axis=1) < 20).all(), air  # no overlay outside the body, and air is black at soft tissue W/L
