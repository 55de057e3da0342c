"""console.viewer routes, service and cache: an item's files -> manifest -> NIfTI levels, converted once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.viewer import PayloadFolders, Viewer, create_router, nifti
from console.viewer import conversion as conversion_module
from console.viewer.cache import VolumeCache, fingerprint
from console.viewer.routes import require_session
from tests.support.instances import make_series
from tests.support.viewer import LungStudy, write_lung_study


@pytest.fixture(scope="module")
def lung_study(tmp_path_factory: pytest.TempPathFactory) -> LungStudy:
    return write_lung_study(tmp_path_factory.mktemp("lung"))


@pytest.fixture
def payloads(tmp_path: Path, lung_study: LungStudy) -> Path:
    """A job's payload folder as the platform lays it out: input/ (the CT) and an operator's output (the SEG)."""
    root = tmp_path / "payloads"
    shutil.copytree(lung_study.root / "ct", root / "job1" / "input")
    shutil.copytree(lung_study.root / "seg", root / "job1" / "operators" / "seg-writer" / "output")
    (root / "job1" / "operators" / "seg-writer" / "output" / "log.txt").write_text("not DICOM\n")
    return root


@pytest.fixture
def viewer(payloads: Path, tmp_path: Path) -> Iterator[Viewer]:
    found = Viewer({"payloads": PayloadFolders(payloads)}, tmp_path / "cache")
    yield found
    found.close()


def _app(viewer: Viewer, require_user=lambda: None) -> TestClient:  # noqa: ANN001 - a FastAPI dependency
    app = FastAPI()
    app.include_router(create_router(require_user))
    app.state.viewer = viewer
    return TestClient(app)


def _voxels(body: bytes, shape: tuple[int, int, int], dtype: str) -> np.ndarray:
    return np.frombuffer(body, dtype=dtype, offset=nifti.VOX_OFFSET).reshape(shape)


def test_manifest_names_the_ct_and_its_seg(viewer: Viewer) -> None:
    manifest = _app(viewer).get("/viewer/api/payloads/job1/manifest").json()
    ct, seg = manifest["series"]
    assert (ct["modality"], ct["instances"], ct["segmentation"]) == ("CT", 24, False)
    assert (seg["modality"], seg["segmentation"], seg["references"]) == ("SEG", True, ct["key"])
    assert manifest["default"] == ct["key"]
    assert ct["levels"] == {"preview": 1, "medium": 1, "full": 1}  # 24 x 96 x 96 fits every budget


def test_volume_and_labels_share_the_grid(viewer: Viewer, lung_study: LungStudy) -> None:
    client = _app(viewer)
    ct, seg = client.get("/viewer/api/payloads/job1/manifest").json()["series"]
    volume = client.get(f"/viewer/api/payloads/job1/series/{ct['key']}/full.nii")
    labels = client.get(f"/viewer/api/payloads/job1/labels/{seg['key']}/full.nii")
    meaning = client.get(f"/viewer/api/payloads/job1/labels/{seg['key']}/segments.json").json()
    assert volume.status_code == labels.status_code == 200
    assert volume.headers["cache-control"] == "no-store"
    assert nifti.HEADER.itemsize == 348
    (tmp := viewer.conversions.cache.root / "check.nii").write_bytes(volume.content)
    shape, _, ct_srow = nifti.read_header(tmp)
    tmp.write_bytes(labels.content)
    label_shape, datatype, label_srow = nifti.read_header(tmp)
    assert shape == label_shape == (96, 96, 24)
    assert datatype == 2  # uint8 bits
    np.testing.assert_array_equal(ct_srow, label_srow)
    assert meaning["encoding"] == "bits"
    assert [s["label"] for s in meaning["segments"]] == ["Body", "Lung"]
    hu = _voxels(volume.content, (24, 96, 96), "<i2")
    bits = _voxels(labels.content, (24, 96, 96), "u1")
    assert float(np.median(hu[(bits & 2) != 0])) < -500  # lung voxels are air
    assert float(np.median(hu[bits == 0])) < -900  # outside the body too
    assert float(np.median(hu[bits == 1])) > -200  # body without lung: soft tissue


def test_a_large_series_gets_smaller_levels(tmp_path: Path) -> None:
    make_series(tmp_path / "payloads" / "big" / "input", 40, size=256)  # 2.6 M voxels: over the preview budget
    viewer = Viewer({"payloads": PayloadFolders(tmp_path / "payloads")}, tmp_path / "cache")
    try:
        client = _app(viewer)
        [ct] = client.get("/viewer/api/payloads/big/manifest").json()["series"]
        assert ct["levels"] == {"preview": 2, "medium": 1, "full": 1}
        preview = client.get(f"/viewer/api/payloads/big/series/{ct['key']}/preview.nii")
        (tmp := tmp_path / "p.nii").write_bytes(preview.content)
        shape, _, srow = nifti.read_header(tmp)
        assert shape == (128, 128, 20)
        np.testing.assert_allclose(np.abs(np.diag(srow[:, :3])), [1.4, 1.4, 2.0], rtol=1e-6)  # twice the spacing
        # The preview is read from every second file only, yet it is exactly every second voxel of the full level.
        full = client.get(f"/viewer/api/payloads/big/series/{ct['key']}/full.nii").content
        (tmp_full := tmp_path / "f.nii").write_bytes(full)
        full_shape, _, full_srow = nifti.read_header(tmp_full)
        assert full_shape == (256, 256, 40)
        np.testing.assert_array_equal(
            _voxels(preview.content, (20, 128, 128), "<i2"), _voxels(full, (40, 256, 256), "<i2")[::2, ::2, ::2]
        )
        np.testing.assert_allclose(srow, full_srow @ np.diag([2.0, 2.0, 2.0, 1.0]), rtol=1e-6)
    finally:
        viewer.close()


def test_a_series_is_converted_once(viewer: Viewer, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = []
    real = conversion_module.read_series
    monkeypatch.setattr(conversion_module, "read_series", lambda paths: reads.append(1) or real(paths))
    client = _app(viewer)
    [ct, _] = client.get("/viewer/api/payloads/job1/manifest").json()["series"]
    for level in ("preview", "medium", "full", "full"):
        assert client.get(f"/viewer/api/payloads/job1/series/{ct['key']}/{level}.nii").status_code == 200
    assert len(reads) == 1
    # A new Viewer (a restarted console) finds the files on disk.
    again = Viewer(viewer.sources, viewer.conversions.cache.root)
    try:
        assert _app(again).get(f"/viewer/api/payloads/job1/series/{ct['key']}/full.nii").status_code == 200
    finally:
        again.close()
    assert len(reads) == 1


def test_the_cache_is_private(viewer: Viewer) -> None:
    client = _app(viewer)
    ct, seg = client.get("/viewer/api/payloads/job1/manifest").json()["series"]
    client.get(f"/viewer/api/payloads/job1/series/{ct['key']}/full.nii")
    client.get(f"/viewer/api/payloads/job1/labels/{seg['key']}/full.nii")
    root = viewer.conversions.cache.root
    folders = [root, *[p for p in root.rglob("*") if p.is_dir()]]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(folders) >= 3 and len(files) >= 6
    assert all(p.stat().st_mode & 0o777 == 0o700 for p in folders)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in files)
    assert not any(".partial" in p.name for p in files)


def test_a_changed_series_gets_a_new_key(payloads: Path, viewer: Viewer, tmp_path: Path) -> None:
    client = _app(viewer)
    before = client.get("/viewer/api/payloads/job1/manifest").json()["series"][0]["key"]
    first = sorted((payloads / "job1" / "input").glob("*.dcm"))[0]
    first.unlink()
    after = client.get("/viewer/api/payloads/job1/manifest").json()["series"][0]
    assert after["key"] != before and after["instances"] == 23


def test_fingerprint_depends_on_content_stamps(tmp_path: Path) -> None:
    path = tmp_path / "a"
    path.write_bytes(b"1")
    key = fingerprint([path])
    path.write_bytes(b"22")
    assert fingerprint([path]) != key
    with pytest.raises(ValueError):
        VolumeCache(tmp_path).folder("../../etc")


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/viewer/api/payloads/nope/manifest", 404),
        ("/viewer/api/payloads/..%2F..%2Fetc/manifest", 404),
        ("/viewer/api/elsewhere/job1/manifest", 404),
        ("/viewer/api/payloads/job1/series/0123456789abcdef01234567/full.nii", 404),
        ("/viewer/api/payloads/job1/series/KEY/huge.nii", 404),
        ("/viewer/nowhere/job1", 404),
    ],
)
def test_unknown_things_are_404(viewer: Viewer, url: str, status: int) -> None:
    client = _app(viewer)
    key = client.get("/viewer/api/payloads/job1/manifest").json()["default"]
    response = client.get(url.replace("KEY", key))
    assert response.status_code == status


def test_errors_are_problem_documents(viewer: Viewer) -> None:
    response = _app(viewer).get("/viewer/api/payloads/nope/manifest")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "no such payload"


def test_a_seg_asked_for_as_a_volume_is_refused(viewer: Viewer) -> None:
    client = _app(viewer)
    _, seg = client.get("/viewer/api/payloads/job1/manifest").json()["series"]
    assert client.get(f"/viewer/api/payloads/job1/series/{seg['key']}/full.nii").status_code == 404


def test_broken_files_give_a_clear_error(payloads: Path, viewer: Viewer) -> None:
    for path in (payloads / "job1" / "input").glob("*.dcm"):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])  # cut in the pixel data: headers still read
    client = _app(viewer)
    key = client.get("/viewer/api/payloads/job1/manifest").json()["default"]
    response = client.get(f"/viewer/api/payloads/job1/series/{key}/full.nii")
    assert response.status_code == 422
    assert "input" not in response.json()["detail"]  # no file paths in the answer


def test_without_a_session_nothing_is_shown(viewer: Viewer) -> None:
    client = _app(viewer, require_user=require_session)  # the default: the console's session
    assert client.get("/viewer/api/payloads/job1/manifest").status_code == 401
    assert client.get("/viewer/payloads/job1").status_code == 401


def test_the_page_loads_the_viewer_code(viewer: Viewer) -> None:
    page = _app(viewer).get("/viewer/payloads/job1")
    assert page.status_code == 200
    assert '<script type="module" src="/static/viewer/viewer.js">' in page.text
    assert 'data-item="job1"' in page.text


def test_key_image_is_the_middle_slice_as_png(viewer: Viewer) -> None:
    response = _app(viewer).get("/viewer/api/payloads/job1/key.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(response.content))
    assert image.size == (96, 96) and image.mode == "L"
    grey = np.asarray(image)
    assert grey[0, 0] == 0  # air at the soft-tissue window
    assert grey.max() == 255 and (grey > 100).mean() > 0.1  # the body (lungs are dark too)


def test_key_image_of_nothing_is_404(tmp_path: Path) -> None:
    (tmp_path / "payloads" / "empty").mkdir(parents=True)
    viewer = Viewer({"payloads": PayloadFolders(tmp_path / "payloads")}, tmp_path / "cache")
    try:
        assert _app(viewer).get("/viewer/api/payloads/empty/key.png").status_code == 404
    finally:
        viewer.close()


def test_payload_folders_do_not_follow_links(tmp_path: Path) -> None:
    """A link inside a payload must not show files from elsewhere on the machine."""
    (outside := tmp_path / "outside").mkdir()
    (outside / "secret.dcm").write_bytes(b"x")
    (payload := tmp_path / "payloads" / "p1").mkdir(parents=True)
    (payload / "real.dcm").write_bytes(b"y")
    (payload / "folder-link").symlink_to(outside)
    (payload / "file-link.dcm").symlink_to(outside / "secret.dcm")
    assert PayloadFolders(tmp_path / "payloads").files("p1") == [payload / "real.dcm"]
