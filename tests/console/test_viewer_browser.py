"""The viewer in real headless Chromium (WebGL on SwiftShader): the CT with the SEG overlay, read off the pixels.

The viewer's router runs on a small app with the console's static files and content security policy (so
NiiVue must work under it), fed a job's payload made by the reference pipeline: a phantom chest CT and
its lung SEG. Pixels are sampled where the pipeline's own labels say lung, body or air.
"""

from __future__ import annotations

import io
import shutil
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image

from console.gate import SECURITY_HEADERS
from console.pages import STATIC_DIR
from console.viewer import PayloadFolders, Viewer, create_router, read_series
from tests.support.browser import chromium, open_page
from tests.support.network import free_port
from tests.support.viewer import (
    READY,
    LungStudy,
    assert_overlay_inside_the_lungs_only,
    axial_slice_with_most_lung,
    canvas_points,
    greenish,
    pixels,
    reddish,
    regions,
    write_lung_study,
)


@pytest.fixture(scope="module")
def lung_study(tmp_path_factory: pytest.TempPathFactory) -> LungStudy:
    return write_lung_study(tmp_path_factory.mktemp("lung"), slices=24, matrix=128)


@pytest.fixture(scope="module")
def viewer_url(lung_study: LungStudy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    payloads = tmp_path_factory.mktemp("payloads")
    shutil.copytree(lung_study.root / "ct", payloads / "job1" / "input")
    shutil.copytree(lung_study.root / "seg", payloads / "job1" / "operators" / "seg" / "output")
    viewer = Viewer({"payloads": PayloadFolders(payloads)}, tmp_path_factory.mktemp("cache"))
    app = FastAPI()
    app.include_router(create_router(lambda: None))  # no login here: test_viewer_routes checks the session rule
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.viewer = viewer

    @app.middleware("http")
    async def console_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS:  # the console's CSP: NiiVue must run under it
            response.headers[name.decode()] = value.decode()
        return response

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    viewer.close()


@pytest.fixture(scope="module")
def browser(viewer_url: str) -> Iterator[Any]:
    with chromium() as found:
        yield found


@pytest.fixture
def page(browser: Any, viewer_url: str) -> Iterator[Any]:
    opened = open_page(browser, viewer_url, width=1200, height=900)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto("/viewer/payloads/job1")
    opened.wait_for_function(READY, timeout=60_000)
    assert opened.locator("#viewer").get_attribute("data-state") == "ready", opened.locator("#live-status").inner_text()
    yield opened
    assert errors == [], errors
    assert opened.foreign_requests == []
    opened.close()


def _axial_slice_through_the_lungs(page: Any, lung_study: LungStudy) -> tuple[np.ndarray, np.ndarray]:
    grid = read_series(lung_study.ct).grid
    return axial_slice_with_most_lung(page, grid, np.stack([lung_study.labels[uid] for uid in grid.sop_instance_uids]))


def test_the_ct_shows_with_the_lung_overlay_inside_the_lungs_only(page: Any, lung_study: LungStudy) -> None:
    segments = {s["label"]: s["colour"] for s in page.evaluate("() => window.openclaraViewer.state.meaning.segments")}
    assert segments == {"Body": [230, 25, 75], "Lung": [60, 180, 75]}  # red body, green lung (no colour in the SEG)
    assert page.locator("#key-image").is_hidden()  # the server-drawn slice stood in only until NiiVue drew
    labels, affine = _axial_slice_through_the_lungs(page, lung_study)
    assert_overlay_inside_the_lungs_only(page, labels, affine)


def test_hiding_the_lung_segment_shows_the_body_beneath(page: Any, lung_study: LungStudy) -> None:
    labels, affine = _axial_slice_through_the_lungs(page, lung_study)
    points = canvas_points(page, affine, regions(labels)["lung"])
    page.get_by_label("Lung").uncheck()
    assert reddish(pixels(page, points)).all()  # overlapping segments: the lungs are body too
    page.get_by_label("Body").uncheck()
    hidden = pixels(page, points)
    assert not greenish(hidden).any() and not reddish(hidden).any()


def test_overlay_opacity_zero_leaves_the_ct(page: Any, lung_study: LungStudy) -> None:
    labels, affine = _axial_slice_through_the_lungs(page, lung_study)
    points = canvas_points(page, affine, regions(labels)["body"])
    page.locator("#seg-opacity").fill("0")
    grey = pixels(page, points)
    assert (np.ptp(grey, axis=1) < 12).all(), grey  # soft tissue in grey, no red left


def test_window_presets_change_the_image(page: Any, lung_study: LungStudy) -> None:
    labels, affine = _axial_slice_through_the_lungs(page, lung_study)
    page.locator("#seg-opacity").fill("0")
    points = canvas_points(page, affine, regions(labels)["lung"])
    dark = pixels(page, points).mean()
    page.get_by_role("button", name="Lung").click()
    assert page.locator("#window-width").input_value() == "1500"
    assert pixels(page, points).mean() > dark + 20  # lung parenchyma is visible in the lung window


def test_distance_measurement_reports_millimetres(page: Any) -> None:
    page.get_by_role("button", name="Axial").click()
    page.get_by_role("button", name="Distance").click()
    box = page.locator("#viewer-canvas").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2 - 100, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 100, y, steps=5)
    page.mouse.up()
    text = page.locator("#measurements li").first.inner_text()
    assert text.startswith("Distance ") and text.endswith(" mm")
    assert float(text.split()[1]) > 10


def test_3d_view_renders_the_volume(page: Any) -> None:
    before = np.asarray(Image.open(io.BytesIO(page.locator("#viewer-canvas").screenshot())).convert("L"))
    page.get_by_role("button", name="3D", exact=True).click()
    page.wait_for_timeout(300)
    after = np.asarray(Image.open(io.BytesIO(page.locator("#viewer-canvas").screenshot())).convert("L"))
    assert (after > 30).mean() > 0.02  # something is drawn
    assert not np.array_equal(before, after)
