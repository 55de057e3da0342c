"""`catalog(paths) -> list[Series]`: a study's or a job's files grouped into series, SEGs tied to their images.

Only the headers are read here (no pixel data). A SEG is tied to the image series it names in
ReferencedSeriesSequence, else to the one image series sharing its frame of reference. Files that are
not DICOM (logs, JSON, a job's other outputs) are skipped, not errors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import structlog
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import SegmentationStorage

from console.viewer import levels
from console.viewer.cache import fingerprint

log = structlog.get_logger()
# The header elements the catalog needs: reading stops caring about the rest.
TAGS = [
    "SOPClassUID",
    "SeriesInstanceUID",
    "Modality",
    "SeriesDescription",
    "SeriesNumber",
    "FrameOfReferenceUID",
    "ReferencedSeriesSequence",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "Rows",
    "Columns",
]


@dataclass(frozen=True)
class Series:
    key: str  # fingerprint of the files: the cache key and the id in URLs (no UID, no PHI)
    uid: str
    modality: str
    description: str
    number: int | None
    paths: tuple[Path, ...]
    segmentation: bool
    frame_of_reference_uid: str
    shape: tuple[int, int, int]  # slices, rows, columns (a SEG: frames)
    placed: tuple[Path, ...] = ()  # the files in slice order (along the image normal); empty if unknown

    @property
    def middle(self) -> Path | None:
        """The slice half way along the image normal: the key image."""
        return self.placed[len(self.placed) // 2] if self.placed else None

    references: str | None = None  # a SEG: the key of the image series it segments

    def summary(self) -> dict[str, object]:
        """What the browser is told (the description is shown to people allowed to see the study)."""
        steps = {name: level.step for name, level in levels.steps(self.shape).items()}
        return {
            "key": self.key,
            "levels": steps,
            "modality": self.modality,
            "description": self.description,
            "number": self.number,
            "instances": len(self.paths),
            "segmentation": self.segmentation,
            "references": self.references,
        }


def catalog(paths: Sequence[Path]) -> list[Series]:
    """Group `paths` into series (largest image series first, then SEGs); unreadable files are skipped."""
    groups: dict[str, list[tuple[Path, Dataset]]] = defaultdict(list)
    skipped = 0
    for path in paths:
        header = _header(path)
        if header is None or "SeriesInstanceUID" not in header:
            skipped += 1
            continue
        groups[str(header.SeriesInstanceUID)].append((path, header))
    if skipped:
        log.debug("viewer.catalog.skipped", files=skipped)
    series = [_series(uid, members) for uid, members in groups.items()]
    images = [s for s in series if not s.segmentation]
    segs = [_tie(s, images, groups[s.uid][0][1]) for s in series if s.segmentation]
    images.sort(key=lambda s: (-len(s.paths), s.number or 0))
    return images + segs


def _header(path: Path) -> Dataset | None:
    try:
        return dcmread(path, stop_before_pixels=True, specific_tags=TAGS)
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return None


def _series(uid: str, members: list[tuple[Path, Dataset]]) -> Series:
    first = members[0][1]
    paths = tuple(sorted(path for path, _ in members))
    number = first.get("SeriesNumber")
    return Series(
        key=fingerprint(paths, salt=uid),
        uid=uid,
        modality=str(first.get("Modality", "")),
        description=str(first.get("SeriesDescription", "")),
        number=int(number) if number not in (None, "") else None,
        paths=paths,
        segmentation=first.get("SOPClassUID") == SegmentationStorage,
        frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "")),
        shape=(len(paths), int(first.get("Rows", 0) or 0), int(first.get("Columns", 0) or 0)),
        placed=_placed(members),
    )


def _placed(members: list[tuple[Path, Dataset]]) -> tuple[Path, ...]:
    """The files along the normal of the first image's plane (file names say nothing of order)."""
    try:
        cosines = np.asarray(members[0][1].ImageOrientationPatient, dtype=np.float64)
        normal = np.cross(cosines[:3], cosines[3:])
        placed = sorted(members, key=lambda m: float(np.dot(normal, np.asarray(m[1].ImagePositionPatient, float))))
    except (AttributeError, ValueError, TypeError):
        return ()
    return tuple(path for path, _ in placed)


def _tie(seg: Series, images: list[Series], header: Dataset) -> Series:
    named = {str(item.get("SeriesInstanceUID", "")) for item in header.get("ReferencedSeriesSequence", [])}
    target = next((s for s in images if s.uid in named), None)
    if target is None:
        same_frame = [
            s for s in images if s.frame_of_reference_uid and s.frame_of_reference_uid == seg.frame_of_reference_uid
        ]
        target = same_frame[0] if len(same_frame) == 1 else None
    return Series(**{**seg.__dict__, "references": target.key if target else None})


def find(series: Sequence[Series], key: str) -> Series | None:
    return next((s for s in series if s.key == key), None)
