"""A real browser for the page tests: Debian's Chromium driven by Playwright.

- browser: one headless Chromium per test session (its executable from
  ``shutil.which("chromium")``; .ci/run installs the package when it is missing);
- opened(browser, path, width): the page at ``file://path`` in a fresh context, waited on until
  its scripts ran; it records console errors, uncaught exceptions and every request, and on
  leaving fails the test on any of them (a request that is not ``file:`` or ``data:`` is one).

Import the fixture into a test module (from browser_fixtures import browser).
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
LOCAL = ("file:", "data:")


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("the page tests need Chromium: apt-get install chromium (.ci/run does it)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        yield chromium
        chromium.close()


class Problems(list):
    """Console errors, page errors and requests that left the file, as they happen."""

    def request(self, request):
        if not request.url.startswith(LOCAL):
            self.append(f"request {request.url}")

    def console(self, message):
        if message.type == "error":
            self.append(f"console error: {message.text}")


@contextlib.contextmanager
def opened(browser, path: Path, width: int = 1280, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    problems = Problems()
    page.on("request", problems.request)
    page.on("console", problems.console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    try:
        page.goto(Path(path).resolve().as_uri())
        page.wait_for_function("window.zooPage && window.zooPage.ready", timeout=20_000)
        yield page
        assert problems == [], problems
    finally:
        context.close()
