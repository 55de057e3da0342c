"""A series as a volume: a NumPy array plus the geometry JSON that ties it back to its DICOM source.

On disk each series is two files named after its SeriesInstanceUID: `<uid>.npy` (axes: slice, row,
column) and `<uid>.json` (the `Geometry` below). Every operator reads and writes this pair, so the
geometry of the reader's output travels unchanged to the SEG writer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline_operators.errors import InputDataError, OutputWriteError

GEOMETRY_VERSION = 1


@dataclass(frozen=True)
class Geometry:
    """Where the voxels are in patient space (LPS, mm) and which DICOM frames they came from.

    `spacing` and `direction` follow the array axes (slice, row, column); `origin` is the centre of
    voxel [0, 0, 0]. `sop_instance_uids`, `frame_numbers` (1-based, 0 for single-frame files) and
    `source_files` (relative to the reader's input folder) are per slice, in slice order.
    """

    series_instance_uid: str
    study_instance_uid: str
    frame_of_reference_uid: str
    modality: str
    shape: tuple[int, int, int]
    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    direction: tuple[tuple[float, float, float], ...]
    sop_instance_uids: tuple[str, ...]
    frame_numbers: tuple[int, ...]
    source_files: tuple[str, ...]
    uniform_spacing: bool = True
    warnings: tuple[str, ...] = ()
    source_root: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    # Who drew the labels: {"name", "version", "family"}; family is a DICOM CID 7162 keyword.
    algorithm: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["version"] = GEOMETRY_VERSION
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Geometry:
        try:
            return cls(
                series_instance_uid=str(data["series_instance_uid"]),
                study_instance_uid=str(data["study_instance_uid"]),
                frame_of_reference_uid=str(data.get("frame_of_reference_uid", "")),
                modality=str(data.get("modality", "")),
                shape=_triple(data["shape"], int),
                origin=_triple(data["origin"], float),
                spacing=_triple(data["spacing"], float),
                direction=tuple(_triple(axis, float) for axis in data["direction"]),
                sop_instance_uids=tuple(str(uid) for uid in data["sop_instance_uids"]),
                frame_numbers=tuple(int(n) for n in data["frame_numbers"]),
                source_files=tuple(str(path) for path in data["source_files"]),
                uniform_spacing=bool(data.get("uniform_spacing", True)),
                warnings=tuple(str(w) for w in data.get("warnings", ())),
                source_root=str(data.get("source_root", "")),
                labels={str(k): str(v) for k, v in dict(data.get("labels", {})).items()},
                algorithm={str(k): str(v) for k, v in dict(data.get("algorithm", {})).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputDataError(f"geometry JSON is missing or has an invalid field: {exc}") from exc

    def with_labels(self, labels: dict[str, str], algorithm: dict[str, str]) -> Geometry:
        """The same geometry, describing a label volume (`{"1": "Body", "2": "Lung"}`) and its producer."""
        return replace(self, labels=dict(labels), algorithm=dict(algorithm))


def _triple(values: Any, kind: type[int] | type[float]) -> Any:
    items = tuple(kind(v) for v in values)
    if len(items) != 3:
        raise ValueError(f"expected 3 values, got {len(items)}")
    return items


@dataclass(frozen=True)
class Volume:
    """A voxel array with its geometry."""

    array: npt.NDArray[Any]
    geometry: Geometry


def save_volume(volume: Volume, folder: Path) -> Path:
    """Write `<uid>.npy` and `<uid>.json` into `folder`; return the `.npy` path."""
    folder.mkdir(parents=True, exist_ok=True)
    # UIDs contain dots, so build the names instead of using Path.with_suffix.
    stem = volume.geometry.series_instance_uid
    npy_path, json_path = folder / f"{stem}.npy", folder / f"{stem}.json"
    try:
        np.save(npy_path, volume.array, allow_pickle=False)
        json_path.write_text(json.dumps(volume.geometry.to_json(), indent=2), encoding="utf-8")
    except OSError as exc:
        raise OutputWriteError(f"cannot write {npy_path}: {exc.strerror}") from exc
    return npy_path


def load_volume(npy_path: Path) -> Volume:
    """Read a volume and its sibling geometry JSON, checking that their shapes agree."""
    json_path = npy_path.with_suffix(".json")
    if not json_path.is_file():
        raise InputDataError(f"{npy_path.name}: geometry file {json_path.name} is missing")
    try:
        geometry = Geometry.from_json(json.loads(json_path.read_text(encoding="utf-8")))
        array = np.load(npy_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputDataError(f"{npy_path.name}: cannot read volume: {exc}") from exc
    if tuple(array.shape) != geometry.shape:
        raise InputDataError(
            f"{npy_path.name}: array shape {tuple(array.shape)} does not match geometry shape {geometry.shape}"
        )
    return Volume(array, geometry)


def find_volumes(folders: list[Path]) -> list[Path]:
    """Every `.npy` with a sibling `.json` under `folders`, sorted; raise when there is none."""
    candidates = {path for folder in folders for path in folder.rglob("*.npy")}
    found = sorted(path for path in candidates if path.with_suffix(".json").is_file())
    if not found:
        names = ", ".join(str(folder) for folder in folders)
        raise InputDataError(f"no volumes (<series>.npy + <series>.json) found in {names}")
    return found
