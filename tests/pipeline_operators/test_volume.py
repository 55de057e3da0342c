"""Volumes saved and loaded as .npy plus geometry JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline_operators.errors import InputDataError
from pipeline_operators.volume import Geometry, Volume, find_volumes, load_volume, save_volume


def _geometry(shape: tuple[int, int, int] = (2, 3, 4)) -> Geometry:
    return Geometry(
        series_instance_uid="1.2.3.4",
        study_instance_uid="1.2.3",
        frame_of_reference_uid="1.2.3.5",
        modality="CT",
        shape=shape,
        origin=(0.0, 0.0, 0.0),
        spacing=(2.0, 1.0, 1.0),
        direction=((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
        sop_instance_uids=("1.1", "1.2"),
        frame_numbers=(0, 0),
        source_files=("a.dcm", "b.dcm"),
    )


def test_volume_round_trips_with_a_dotted_uid_as_file_name(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    path = save_volume(Volume(array, _geometry()), tmp_path)
    assert path.name == "1.2.3.4.npy"
    assert (tmp_path / "1.2.3.4.json").is_file()
    loaded = load_volume(path)
    assert np.array_equal(loaded.array, array)
    assert loaded.geometry == _geometry()


def test_labels_and_algorithm_travel_with_the_geometry(tmp_path: Path) -> None:
    geometry = _geometry().with_labels({"2": "Lung"}, {"name": "x", "version": "1", "family": "ArtificialIntelligence"})
    path = save_volume(Volume(np.zeros((2, 3, 4), np.uint8), geometry), tmp_path)
    assert load_volume(path).geometry.labels == {"2": "Lung"}
    assert load_volume(path).geometry.algorithm["name"] == "x"


def test_shape_mismatch_is_reported(tmp_path: Path) -> None:
    path = save_volume(Volume(np.zeros((2, 3, 4)), _geometry()), tmp_path)
    data = json.loads(path.with_suffix(".json").read_text())
    data["shape"] = [9, 9, 9]
    path.with_suffix(".json").write_text(json.dumps(data))
    with pytest.raises(InputDataError, match=r"does not match geometry shape \(9, 9, 9\)"):
        load_volume(path)


def test_missing_geometry_file_is_reported(tmp_path: Path) -> None:
    np.save(tmp_path / "lonely.npy", np.zeros(3))
    with pytest.raises(InputDataError, match="geometry file lonely.json is missing"):
        load_volume(tmp_path / "lonely.npy")


def test_invalid_geometry_field_is_reported(tmp_path: Path) -> None:
    path = save_volume(Volume(np.zeros((2, 3, 4)), _geometry()), tmp_path)
    path.with_suffix(".json").write_text(json.dumps({"series_instance_uid": "1"}))
    with pytest.raises(InputDataError, match="missing or has an invalid field"):
        load_volume(path)


def test_find_volumes_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match=f"no volumes .* found in {tmp_path}"):
        find_volumes([tmp_path])
