"""Benchmark: the viewer opening a 500-slice CT in headless Chromium, cold cache, and changing slices.

    .venv/bin/python bench/viewer.py [--slices 500] [--size 512] [--runs 3] [--changes 40]

Each run starts the viewer's routes on a fresh app (the console's static files and CSP, uvicorn on
loopback) with an EMPTY volume cache, opens /viewer/payloads/<id> in a new headless Chromium page
(Debian's /usr/bin/chromium, WebGL on SwiftShader: no GPU) and reads the page's own clock:

- key image: performance.now() (0 = navigation start) when the server-drawn middle slice (PNG) had
  arrived (its Resource Timing responseEnd); the page shows it until NiiVue draws;
- first NiiVue image: when the preview level is drawn and the GL pipeline has finished (`gl.finish()`);
  this includes the server's conversion of the DICOM files;
- ready: the level the browser keeps (medium on a software renderer) is drawn;
- slice change: `moveCrosshairInVox(0, 0, ±1)` (what the arrow keys call) until the frame is complete
  (`gl.finish()` + a 1-pixel readPixels), in the MPR layout, after ready; median and p95 of --changes.

The server-side conversion alone (catalog + read + preview written) is timed in-process too.
Prints one JSON line per run and a summary (medians over runs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, as the other benchmarks

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from console.gate import SECURITY_HEADERS
from console.pages import STATIC_DIR
from console.viewer import PayloadFolders, Viewer, create_router
from console.viewer.levels import file_name
from console.viewer.service import default_series
from tests.support.browser import chromium, open_page
from tests.support.instances import make_series
from tests.support.network import free_port

STATE = "() => ['ready', 'error'].includes(document.getElementById('viewer').dataset.state)"
SLICE_CHANGES = """(count) => {
  const nv = window.openclaraViewer.nv, gl = nv.gl, pixel = new Uint8Array(4), took = [];
  for (let i = 0; i < count; i += 1) {
    const start = performance.now();
    nv.moveCrosshairInVox(0, 0, i % 2 ? -1 : 1);
    gl.finish();
    gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, pixel);
    took.push(performance.now() - start);
  }
  return took;
}"""


def serve(payloads: Path, cache: Path) -> tuple[str, uvicorn.Server, threading.Thread, Viewer]:
    viewer = Viewer({"payloads": PayloadFolders(payloads)}, cache)
    app = FastAPI()
    app.include_router(create_router(lambda: None))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.viewer = viewer

    @app.middleware("http")
    async def console_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS:
            response.headers[name.decode()] = value.decode()
        return response

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    return f"http://127.0.0.1:{port}", server, thread, viewer


def conversion_only(payloads: Path, item: str) -> float:
    """Seconds from nothing to the preview on disk, in-process (no browser competing for the cores)."""
    with tempfile.TemporaryDirectory(prefix="viewer-bench-cache-") as cache:
        viewer = Viewer({"payloads": PayloadFolders(payloads)}, Path(cache))
        try:
            start = time.perf_counter()
            series = default_series(viewer.catalog("payloads", item))
            assert series is not None
            viewer.conversions.volume(series, file_name("preview")).result()
            return time.perf_counter() - start
        finally:
            viewer.close()


def one_run(browser: Any, payloads: Path, item: str, changes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="viewer-bench-cache-") as cache:
        url, server, thread, viewer = serve(payloads, Path(cache))
        try:
            page = open_page(browser, url, width=1366, height=900)
            page.goto(f"/viewer/payloads/{item}")
            page.wait_for_function(STATE, timeout=300_000)
            data = page.evaluate("() => ({...document.getElementById('viewer').dataset})")
            timings = page.evaluate("() => window.openclaraViewer.timings")
            took = page.evaluate(SLICE_CHANGES, changes)
            page.close()
        finally:
            server.should_exit = True
            thread.join(10)
            viewer.close()
    took.sort()
    return {
        "state": data.get("state"),
        "level": data.get("level"),
        "key_image_s": round(float(data.get("keyImageMs", "nan")) / 1000, 3),
        "first_niivue_image_s": round(float(data["firstImageMs"]) / 1000, 3),
        "ready_s": round(max(timings.values()) / 1000, 3),
        "timings_ms": {name: round(value) for name, value in timings.items()},
        "slice_change_ms_median": round(statistics.median(took), 1),
        "slice_change_ms_p95": round(took[int(0.95 * (len(took) - 1))], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=500)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--changes", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="viewer-bench-") as work:
        payloads = Path(work) / "payloads"
        item = "ct"
        make_series(payloads / item / "input", args.slices, size=args.size)
        os.sync()
        conversions = [conversion_only(payloads, item) for _ in range(args.runs)]
        runs = []
        with chromium() as browser:
            for _ in range(args.runs):
                runs.append(one_run(browser, payloads, item, args.changes))
                print(json.dumps(runs[-1]), flush=True)
    summary = {
        "series": f"{args.slices} x {args.size}x{args.size} CT, int16",
        "load_average_1min": os.getloadavg()[0],
        "conversion_to_preview_s": round(statistics.median(conversions), 3),
        "key_image_s": statistics.median(r["key_image_s"] for r in runs),
        "first_niivue_image_s": statistics.median(r["first_niivue_image_s"] for r in runs),
        "ready_s": statistics.median(r["ready_s"] for r in runs),
        "slice_change_ms_median": statistics.median(r["slice_change_ms_median"] for r in runs),
        "slice_change_ms_p95": statistics.median(r["slice_change_ms_p95"] for r in runs),
        "level_kept": runs[-1]["level"],
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
