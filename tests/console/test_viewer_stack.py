"""The viewer on the real stack: the lung-seg job that ran (tests/console/conftest.py) opens in the console
with its SEG over its CT, behind the console's login, loading nothing from another origin."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from console.viewer.catalog import catalog
from console.viewer.segmentation import read_segmentation
from console.viewer.volume import read_series
from platform_api.client import PlatformClient
from tests.console.conftest import ConsoleStack
from tests.support.browser import screenshot
from tests.support.viewer import READY, assert_overlay_inside_the_lungs_only, axial_slice_with_most_lung

pytestmark = pytest.mark.integration


def _payload_of(stack: ConsoleStack, job_id: str) -> str:
    async def find() -> str:
        async with PlatformClient(stack.up.endpoint(r"Platform API \(gRPC\)"), token=stack.token) as client:
            return next(str(job.payload_id) for job in await client.list_jobs() if str(job.job_id) == job_id)

    # Playwright's sync API owns this thread's event loop: ask the platform from another thread.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, find()).result()


def _truth(folder: Path) -> tuple[Any, np.ndarray]:
    """The CT's grid and labels (0 air, 1 body, 2 lung) from the payload's own files."""
    series = catalog([p for p in folder.rglob("*") if p.is_file()])
    ct = next(s for s in series if not s.segmentation)
    seg = next(s for s in series if s.segmentation)
    grid = read_series(ct.paths).grid
    bits = read_segmentation(seg.paths[0], grid).voxels
    return grid, np.where(bits & 2, 2, np.where(bits & 1, 1, 0))


def test_the_lung_job_shows_its_seg_over_its_ct(page: Any, console_stack: ConsoleStack) -> None:
    payload = _payload_of(console_stack, console_stack.lung_job_id)
    page.goto(f"/viewer/payloads/{payload}")
    page.wait_for_function(READY, timeout=120_000)
    assert page.locator("#viewer").get_attribute("data-state") == "ready", page.locator("#live-status").inner_text()
    labels = [s["label"] for s in page.evaluate("() => window.openclaraViewer.state.meaning.segments")]
    assert labels == ["Body", "Lung"]
    screenshot(page, "console-viewer")
    folder = Path(console_stack.up.env["CLARA_HOME"]) / "platform" / "payloads" / payload
    grid, truth = _truth(folder)
    slice_labels, affine = axial_slice_with_most_lung(page, grid, truth)
    assert_overlay_inside_the_lungs_only(page, slice_labels, affine)
