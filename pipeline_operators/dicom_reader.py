"""Operator `dicom_reader`: DICOM files (any folder layout) -> one volume per series.

Reads every file under the input recursively, skips what is not a DICOM image, groups frames by
SeriesInstanceUID, orders them with `series.plan_series`, decodes pixels (compressed transfer
syntaxes through pylibjpeg), applies the modality rescale (HU for CT) and writes `<series>.npy` +
`<series>.json` (`volume.Geometry`). A series that cannot be stacked is reported and skipped; the
operator fails only when no series could be read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np
import numpy.typing as npt
import structlog
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from pipeline_operators.entrypoint import io_options, run_operator
from pipeline_operators.environment import load_environment
from pipeline_operators.errors import InputDataError, PixelDataError, SeriesGeometryError
from pipeline_operators.series import Frame, SeriesPlan, plan_series
from pipeline_operators.volume import Geometry, Volume, save_volume

log = structlog.get_logger()

# Objects with pixel data that are not images of the patient: never stack them.
NON_IMAGE_MODALITIES = frozenset({"SEG", "SR", "RTSTRUCT", "RTPLAN", "PR", "KO", "REG"})


def read_series(input_dir: Path, gaps_are_errors: bool = False) -> tuple[list[Volume], list[str]]:
    """Every stackable series under `input_dir` as a volume, plus one message per skipped series."""
    headers = _collect_frames(input_dir)
    if not headers:
        raise InputDataError(f"no DICOM images found under {input_dir}")
    volumes: list[Volume] = []
    failures: list[str] = []
    for series_uid, (frames, header) in sorted(headers.items()):
        try:
            plan = plan_series(series_uid, frames, gaps_are_errors)
            pixels = _load_pixels(series_uid, plan)
        except (SeriesGeometryError, PixelDataError) as exc:
            log.error("reader.series.skipped", series_instance_uid=series_uid, reason=str(exc))
            failures.append(str(exc))
            continue
        for warning in plan.warnings:
            log.warning("reader.series.irregular_spacing", series_instance_uid=series_uid, detail=warning)
        volumes.append(Volume(pixels, _geometry(series_uid, header, plan, input_dir)))
    return volumes, failures


def _collect_frames(input_dir: Path) -> dict[str, tuple[list[Frame], Dataset]]:
    series: dict[str, list[Frame]] = defaultdict(list)
    first_header: dict[str, Dataset] = {}
    for path in sorted(p for p in input_dir.rglob("*") if p.is_file()):
        header = _read_header(path)
        if header is None:
            continue
        uid = str(header.SeriesInstanceUID)
        relative = path.relative_to(input_dir).as_posix()
        try:
            frames = list(_frames(path, relative, header))
        except InputDataError as exc:
            # One malformed file must not sink its series: the gap it leaves is reported by plan_series.
            log.warning("reader.file.skipped", file=relative, reason=str(exc))
            continue
        series[uid].extend(frames)
        first_header.setdefault(uid, header)
    return {uid: (frames, first_header[uid]) for uid, frames in series.items()}


def _read_header(path: Path) -> Dataset | None:
    try:
        header = dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError):
        log.debug("reader.file.not_dicom", file=path.name)
        return None
    if "Rows" not in header or "SeriesInstanceUID" not in header:
        return None
    if str(header.get("Modality", "")) in NON_IMAGE_MODALITIES:
        log.info("reader.file.not_an_image", file=path.name, modality=str(header.Modality))
        return None
    return header


def _frames(path: Path, relative: str, header: Dataset) -> Iterator[Frame]:
    count = int(header.get("NumberOfFrames", 1) or 1)
    if "PerFrameFunctionalGroupsSequence" in header:
        for index in range(count):
            yield _enhanced_frame(path, relative, header, index)
        return
    if count > 1:
        log.error("reader.file.unsupported", file=relative, reason="multi-frame without per-frame functional groups")
        return
    yield Frame(
        path=path,
        relative_path=relative,
        frame_number=0,
        sop_instance_uid=str(header.SOPInstanceUID),
        position=_floats(header.get("ImagePositionPatient", [0.0, 0.0, 0.0]), 3),
        orientation=_floats(header.get("ImageOrientationPatient", [1, 0, 0, 0, 1, 0]), 6),
        pixel_spacing=_floats(header.get("PixelSpacing", [1.0, 1.0]), 2),
        rows=int(header.Rows),
        columns=int(header.Columns),
        slope=float(header.get("RescaleSlope", 1.0) or 1.0),
        intercept=float(header.get("RescaleIntercept", 0.0) or 0.0),
        slice_thickness=float(header.get("SliceThickness", 0.0) or 0.0),
    )


def _enhanced_frame(path: Path, relative: str, header: Dataset, index: int) -> Frame:
    """A frame of an enhanced object: per-frame groups override the shared ones (PS3.3 C.7.6.16)."""
    position = _group(header, index, "PlanePositionSequence")
    orientation = _group(header, index, "PlaneOrientationSequence")
    measures = _group(header, index, "PixelMeasuresSequence")
    transform = _group(header, index, "PixelValueTransformationSequence")
    return Frame(
        path=path,
        relative_path=relative,
        frame_number=index + 1,
        sop_instance_uid=str(header.SOPInstanceUID),
        position=_floats(position.get("ImagePositionPatient", [0.0, 0.0, float(index)]), 3),
        orientation=_floats(orientation.get("ImageOrientationPatient", [1, 0, 0, 0, 1, 0]), 6),
        pixel_spacing=_floats(measures.get("PixelSpacing", [1.0, 1.0]), 2),
        rows=int(header.Rows),
        columns=int(header.Columns),
        slope=float(transform.get("RescaleSlope", header.get("RescaleSlope", 1.0)) or 1.0),
        intercept=float(transform.get("RescaleIntercept", header.get("RescaleIntercept", 0.0)) or 0.0),
        slice_thickness=float(measures.get("SliceThickness", 0.0) or 0.0),
    )


def _group(header: Dataset, index: int, name: str) -> Dataset:
    for container in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        groups = header.get(container)
        if not groups:
            continue
        item = groups[index] if container.startswith("PerFrame") else groups[0]
        if name in item and item[name].value:
            return item[name].value[0]  # type: ignore[no-any-return]
    return Dataset()


def _floats(values: Any, count: int) -> Any:
    try:
        items = tuple(float(value) for value in values)
    except (TypeError, ValueError) as exc:
        raise InputDataError(f"expected {count} numbers, got {values!r}") from exc
    if len(items) != count:
        raise InputDataError(f"expected {count} numbers, got {len(items)}: {items}")
    return items


def _load_pixels(series_uid: str, plan: SeriesPlan) -> npt.NDArray[Any]:
    """Decode frames in slice order (each file once) and rescale; int16 when the rescale is integral."""
    first = plan.frames[0]
    volume = np.empty((len(plan.frames), first.rows, first.columns), dtype=np.float32)
    by_file: dict[Path, list[tuple[int, Frame]]] = defaultdict(list)
    for slot, frame in enumerate(plan.frames):
        by_file[frame.path].append((slot, frame))
    for path, entries in by_file.items():
        pixels = _decode(series_uid, path, entries[0][1].relative_path)
        for slot, frame in entries:
            stored = pixels[frame.frame_number - 1] if frame.frame_number else pixels
            volume[slot] = stored.astype(np.float32) * frame.slope + frame.intercept
    integral = all(float(f.slope).is_integer() and float(f.intercept).is_integer() for f in plan.frames)
    if integral and volume.min() >= np.iinfo(np.int16).min and volume.max() <= np.iinfo(np.int16).max:
        return volume.astype(np.int16)
    return volume


def _decode(series_uid: str, path: Path, relative: str) -> npt.NDArray[Any]:
    try:
        return np.asarray(dcmread(path).pixel_array)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError, OSError, EOFError) as exc:
        # pydicom reports a corrupt stream or a syntax without an installed decoder with these types.
        raise PixelDataError(f"series {series_uid}: cannot decode the pixel data of {relative}: {exc}") from exc


def _geometry(series_uid: str, header: Dataset, plan: SeriesPlan, input_dir: Path) -> Geometry:
    first = plan.frames[0]
    return Geometry(
        series_instance_uid=series_uid,
        study_instance_uid=str(header.get("StudyInstanceUID", "")),
        frame_of_reference_uid=str(header.get("FrameOfReferenceUID", "")),
        modality=str(header.get("Modality", "")),
        shape=(len(plan.frames), first.rows, first.columns),
        origin=plan.origin,
        spacing=plan.spacing,
        direction=plan.direction,
        sop_instance_uids=tuple(frame.sop_instance_uid for frame in plan.frames),
        frame_numbers=tuple(frame.frame_number for frame in plan.frames),
        source_files=tuple(frame.relative_path for frame in plan.frames),
        uniform_spacing=plan.uniform_spacing,
        warnings=plan.warnings,
        source_root=str(input_dir.resolve()),
    )


@click.command()
@io_options
@click.option(
    "--on-gap",
    type=click.Choice(["warn", "error"]),
    default="warn",
    show_default=True,
    help="Non-uniform slice spacing: record a warning in the geometry, or skip the series.",
)
def main(inputs: tuple[Path, ...], output: Path | None, on_gap: str) -> None:
    """Read DICOM files under --input and write one .npy + geometry .json per series to --output."""

    def body() -> None:
        env = load_environment(inputs, output)
        volumes, failures = [], []
        for folder in (item.path for item in env.inputs):
            found, failed = read_series(folder, gaps_are_errors=on_gap == "error")
            volumes += found
            failures += failed
        if not volumes:
            raise InputDataError("no series could be read: " + "; ".join(failures))
        for volume in volumes:
            save_volume(volume, env.output)
            log.info(
                "reader.series.written",
                series_instance_uid=volume.geometry.series_instance_uid,
                shape=list(volume.geometry.shape),
                uniform_spacing=volume.geometry.uniform_spacing,
            )
        for failure in failures:
            click.echo(f"dicom_reader: warning: skipped {failure}", err=True)

    run_operator("dicom_reader", body)


if __name__ == "__main__":
    main()
