"""Operator `dicom_seg_writer`: label volumes -> DICOM Segmentation objects referencing the source series.

Inputs: the label volumes (`<series>.npy` + geometry JSON from a segmentation operator) and the
source DICOM files, found in this order: `--dicom DIR`; an input named `dicom`; any input folder that
holds no volumes; the `source_root` the reader recorded. Each label becomes one BINARY segment
(overlaps allowed, so "Body" is the whole body, lungs included). Output: `SEG-<SOPInstanceUID>.dcm`.
UIDs derive from the source series and the algorithm, so a re-run writes the same instance and the
PACS sees a duplicate, not a second result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import highdicom as hd
import numpy as np
import numpy.typing as npt
import structlog
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from pipeline_operators.entrypoint import io_options, run_operator
from pipeline_operators.environment import OperatorEnvironment, load_environment
from pipeline_operators.errors import EnvironmentConfigError, InputDataError, OutputWriteError
from pipeline_operators.volume import Volume, find_volumes, load_volume

log = structlog.get_logger()

# Segment label -> (category, type): SNOMED CT codes from DICOM CID 7150 / CID 7151.
KNOWN_SEGMENTS: dict[str, tuple[Code, Code]] = {
    "body": (codes.SCT.AnatomicalStructure, codes.SCT.EntireBody),
    "lung": (codes.SCT.AnatomicalStructure, codes.SCT.Lung),
}
FALLBACK_SEGMENT = (codes.SCT.AnatomicalStructure, codes.SCT.AnatomicalStructure)
SEG_SERIES_NUMBER = 900


def write_segmentation(labels: Volume, dicom_root: Path, output: Path) -> Path:
    """Write one SEG for `labels` whose source files are under `dicom_root`; return its path."""
    geometry = labels.geometry
    if not geometry.labels:
        raise InputDataError(f"series {geometry.series_instance_uid}: the geometry JSON names no labels")
    sources = _source_datasets(labels, dicom_root)
    masks, descriptions = _segments(labels)
    seg_series_uid = generate_uid(entropy_srcs=[geometry.series_instance_uid, "openclara-seg", _algorithm_key(labels)])
    seg_uid = generate_uid(entropy_srcs=[seg_series_uid, "instance"])
    try:
        seg = hd.seg.Segmentation(
            source_images=sources,
            pixel_array=_source_order(masks, geometry.frame_numbers),
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=seg_series_uid,
            series_number=SEG_SERIES_NUMBER,
            sop_instance_uid=seg_uid,
            instance_number=1,
            manufacturer="openclara",
            manufacturer_model_name="dicom_seg_writer",
            software_versions="0.1",
            device_serial_number="0",
            series_description=f"{geometry.algorithm.get('name', 'openclara')} segmentation"[:64],
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise OutputWriteError(f"series {geometry.series_instance_uid}: cannot build the SEG: {exc}") from exc
    path = output / f"SEG-{seg_uid}.dcm"
    try:
        output.mkdir(parents=True, exist_ok=True)
        seg.save_as(path)
    except OSError as exc:
        raise OutputWriteError(f"cannot write {path}: {exc.strerror}") from exc
    log.info(
        "seg_writer.seg.written", source_series_instance_uid=geometry.series_instance_uid, segments=len(descriptions)
    )
    return path


def _algorithm_key(labels: Volume) -> str:
    algorithm = labels.geometry.algorithm
    return f"{algorithm.get('name', '')}/{algorithm.get('version', '')}"


def _source_datasets(labels: Volume, dicom_root: Path) -> list[Dataset]:
    """The source instances, one per slice (single-frame) or the one enhanced object (multi-frame)."""
    geometry = labels.geometry
    files = list(dict.fromkeys(geometry.source_files))
    datasets: list[Dataset] = []
    for relative in files:
        path = dicom_root / relative
        try:
            datasets.append(dcmread(path, stop_before_pixels=True))
        except (OSError, InvalidDicomError) as exc:
            raise InputDataError(f"source DICOM file {relative} not readable under {dicom_root}: {exc}") from exc
    expected = list(dict.fromkeys(geometry.sop_instance_uids))
    found = [str(ds.SOPInstanceUID) for ds in datasets]
    if found != expected:
        raise InputDataError(f"source files under {dicom_root} do not hold the SOP instances the geometry lists")
    if any(number > 0 for number in geometry.frame_numbers) and len(datasets) != 1:
        raise InputDataError("a volume mixing several multi-frame objects cannot be referenced by one SEG")
    return datasets


def _segments(labels: Volume) -> tuple[npt.NDArray[np.bool_], list[hd.seg.SegmentDescription]]:
    """Boolean masks (slice, row, column, segment) and their descriptions, skipping empty labels."""
    geometry = labels.geometry
    algorithm = hd.AlgorithmIdentificationSequence(
        name=geometry.algorithm.get("name", "openclara"),
        version=geometry.algorithm.get("version", "0.1"),
        family=getattr(codes.cid7162, geometry.algorithm.get("family", "ArtificialIntelligence")),
    )
    masks: list[npt.NDArray[np.bool_]] = []
    descriptions: list[hd.seg.SegmentDescription] = []
    for value, name in sorted(geometry.labels.items(), key=lambda item: int(item[0])):
        mask = _label_mask(labels.array, int(value), name)
        if not mask.any():
            log.warning("seg_writer.segment.empty", label=name)
            continue
        category, kind = KNOWN_SEGMENTS.get(name.lower(), FALLBACK_SEGMENT)
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=len(descriptions) + 1,
                segment_label=name,
                segmented_property_category=category,
                segmented_property_type=kind,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=algorithm,
            )
        )
        masks.append(mask)
    if not masks:
        raise InputDataError(f"series {geometry.series_instance_uid}: every label is empty; no SEG to write")
    # Segment-major memory (stack on axis 0, then move it last): highdicom's overlap check sums over the
    # segment axis, which is 4x faster when that axis is not the innermost one.
    return np.moveaxis(np.stack(masks, axis=0), 0, -1), descriptions


def _label_mask(array: npt.NDArray[Any], value: int, name: str) -> npt.NDArray[np.bool_]:
    # The body contains the lungs: segments may overlap in a BINARY SEG, so "Body" is every labelled voxel.
    if name.lower() == "body":
        return np.asarray(array > 0)
    return np.asarray(array == value)


def _source_order(masks: npt.NDArray[np.bool_], frame_numbers: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """Slice order -> the frame order of a multi-frame source (single-frame sources keep slice order)."""
    if not any(frame_numbers):
        return masks
    reordered = np.empty_like(masks)
    for slot, number in enumerate(frame_numbers):
        reordered[number - 1] = masks[slot]
    return reordered


def resolve_dicom_root(env: OperatorEnvironment, flag: Path | None, label_folders: list[Path], volume: Volume) -> Path:
    """Where the source DICOM files are: flag, input named `dicom`, a non-volume input, then source_root."""
    if flag is not None:
        return flag
    named = env.input_named("dicom")
    if named is not None:
        return named
    others = [item.path for item in env.inputs if item.path not in label_folders]
    if others:
        return others[0]
    recorded = Path(volume.geometry.source_root) if volume.geometry.source_root else None
    if recorded is not None and recorded.is_dir():
        return recorded
    raise EnvironmentConfigError(
        "cannot find the source DICOM files: pass --dicom DIR or give the operator the reader's input as a second input"
    )


def _label_folders(env: OperatorEnvironment) -> list[Path]:
    return [item.path for item in env.inputs if any(item.path.rglob("*.npy"))]


@click.command()
@io_options
@click.option(
    "--dicom",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Folder of the source DICOM files (the dicom_reader's input).",
)
def main(inputs: tuple[Path, ...], output: Path | None, dicom: Path | None) -> None:
    """Write a DICOM SEG per label volume under --input, referencing the source series."""

    def body() -> None:
        env = load_environment(inputs, output)
        folders = _label_folders(env) or [item.path for item in env.inputs]
        for path in find_volumes(folders):
            labels = load_volume(path)
            write_segmentation(labels, resolve_dicom_root(env, dicom, folders, labels), env.output)

    run_operator("dicom_seg_writer", body)


if __name__ == "__main__":
    main()
