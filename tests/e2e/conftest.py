"""Fixtures for the page tests: the app in a thread on a free port, and Debian's chromium.

The browser tests are marked ``e2e``; they use ``/usr/bin/chromium`` through
Playwright's ``executable_path`` (Playwright never downloads a browser here) and
fail with a clear message when that binary is missing (scripts/test.sh installs it).
Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from chefoskop.settings import Settings
from notifications.sink import free_port
from tests.e2e.world import World, build_world
from tests.live import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def pytest_configure(config: pytest.Config) -> None:
    """Register the e2e marker."""
    config.addinivalue_line("markers", "e2e: drives a real browser against the running app")


def app_settings(tmp_path: Path, base_url: str = "http://testserver", **extra) -> Settings:
    """Settings for an app under test: test environment, its own data folder."""
    return Settings(environment="test", data_dir=tmp_path, base_url=base_url,
                    database_url=os.environ.get("CHEFOSKOP_DATABASE_URL"), **extra)


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    """An organisation with step 1 of its process open, and people who can sign in."""
    return build_world(session_factory, datetime.now(UTC))


@pytest.fixture
def client(session_factory: sessionmaker[Session], tmp_path: Path) -> Iterator[TestClient]:
    """The app in-process (no browser), following no redirects."""
    with TestClient(create_app(app_settings(tmp_path)), base_url="https://testserver",
                    follow_redirects=False) as c:
        yield c


@pytest.fixture
def live_server(session_factory: sessionmaker[Session], tmp_path: Path) -> Iterator[LiveServer]:
    """The app on 127.0.0.1:<free port>, on the test database."""
    port = free_port()
    server = LiveServer(create_app(app_settings(tmp_path, f"http://127.0.0.1:{port}")), port).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")  # its event loop must not outlive tests/e2e
def browser():
    """Debian's chromium driven by Playwright (one per test session)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing at /usr/bin/chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server: LiveServer):
    """A fresh browser page (own cookies) aimed at the live server."""
    context = browser.new_context(base_url=live_server.url, locale="sv-SE",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)  # generous: CI machines are shared
    p = context.new_page()
    errors: list[str] = []
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.console_errors = errors
    yield p
    context.close()


def screenshot(page, name: str) -> None:
    """Keep a full-page screenshot as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
