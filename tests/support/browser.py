"""Headless Chromium for the console's tests and benchmarks: Debian's /usr/bin/chromium driven by Playwright.

Nothing is downloaded: Playwright launches the system browser (`executable_path`). Every page refuses
requests to any origin but the console's (`open_page`), so a page that needs a CDN fails the test.
axe-core (from console/web/node_modules, vendored by scripts/build-web) checks accessibility in the page.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.processes import ROOT

CHROMIUM = Path(os.environ.get("CLARA_TEST_CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "console" / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
SERIOUS = ("serious", "critical")


def require_chromium() -> Path:
    """The browser, or a failure under CI=true (the browser tests must run there), else a skip."""
    problems = []
    if not CHROMIUM.is_file():
        problems.append(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        problems.append("the playwright package is missing (pip install -e '.[dev]')")
    if not AXE.is_file():
        problems.append(f"{AXE.relative_to(ROOT)} is missing (run scripts/build-web)")
    if not problems:
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail("; ".join(problems))
    pytest.skip("; ".join(problems))


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright Browser); WebGL runs on SwiftShader."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(executable), headless=True,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"])
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, base_url: str, width: int = 1366, height: int = 900) -> Any:
    """A new page whose requests may only go to `base_url`'s origin; the others are aborted and recorded
    in `page.foreign_requests` (a test asserts it stays empty: no CDN)."""
    page = browser.new_page(base_url=base_url, viewport={"width": width, "height": height})
    origin = urlsplit(base_url).netloc
    page.foreign_requests = []

    def guard(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc in (origin, "") or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            page.foreign_requests.append(url)
            route.abort()

    page.route("**/*", guard)
    return page


def log_in(page: Any, token: str, target: str = "/") -> None:
    page.goto(f"/login?next={target}")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{target}")


def axe_violations(page: Any, impacts: tuple[str, ...] = SERIOUS) -> list[dict[str, Any]]:
    """axe-core's violations in the page at `impacts` (serious and critical by default)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the page's CSP (no inline scripts) does not govern.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    found = json.loads(result)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in found if v["impact"] in impacts]


def screenshot(page: Any, name: str) -> Path:
    """docs/screenshots/<name>.png of the whole page (the README shows two of them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
