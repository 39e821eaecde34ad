"""Real-browser testing: a live server, Debian's Chromium via Selenium, axe-core.

Browser tests are skipped when Chromium, chromedriver or axe-core (npm) is missing,
except under CI (PANEL_REQUIRE_BROWSER=1) where a missing piece is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _missing() -> str | None:
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver"), (AXE, "axe-core (npm ci)")):
        if not Path(path).exists():
            return what
    return None


def require_browser() -> None:
    missing = _missing()
    if missing:
        if os.environ.get("PANEL_REQUIRE_BROWSER"):
            pytest.fail(f"{missing} is not installed, and CI requires the browser tests")
        pytest.skip(f"{missing} is not installed")


class LiveServer:
    def __init__(self, app) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    """The test app served over HTTP on 127.0.0.1 (PANEL_BASE_URL points at it)."""
    with LiveServer(app) as server:
        app.config["PANEL_BASE_URL"] = server.url
        yield server


@pytest.fixture(scope="session")
def _driver():
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="panel-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900",
                 "--lang=sv-SE"):
        options.add_argument(flag)
    # Headless Chromium sends "Accept-Language: en-US" whatever --lang says: ask for Swedish,
    # the interface's default language, so pages render as a Swedish resident sees them.
    options.add_experimental_option("prefs", {"intl.accept_languages": "sv-SE,sv"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(_driver, live_server):
    """A Chromium window with cookies cleared, and the live server running."""
    _driver.delete_all_cookies()
    _driver.set_window_size(1280, 900)
    yield _driver


def axe_violations(driver, tags: list[str] = WCAG_TAGS) -> list[dict]:
    """Run axe-core on the current page; return its WCAG 2.1 A/AA violations."""
    driver.execute_script(AXE.read_text())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done(JSON.stringify(r.violations))).catch(e => done(JSON.stringify([{id: 'axe-error', help: String(e), nodes: []}])));",
        tags,
    )
    return json.loads(result)


def assert_accessible(driver, what: str) -> None:
    violations = axe_violations(driver)
    summary = "\n".join(
        f"- {v['id']}: {v['help']} ({', '.join(n['target'][0] if isinstance(n['target'][0], str) else str(n['target']) for n in v['nodes'][:3])})"
        for v in violations
    )
    assert not violations, f"axe-core found WCAG 2.1 A/AA violations on {what}:\n{summary}"


@contextmanager
def next_page(driver, timeout: float = 30):
    """Wait until what happens inside the block (a click that submits a form or follows a
    link) has replaced the page with a new, fully loaded one.

    Selenium's click returns before the navigation it starts has finished, so reading
    ``current_url`` or ``page_source`` right after it can see the old page. A mark set on the
    old window object disappears with the old document; while the old page is torn down
    Chromium may answer scripts with an error, which only means the next page is on its way.
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.stillTheOldPage = true;")
    yield
    WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return !window.stillTheOldPage && document.readyState === 'complete';")
    )


def click_through(driver, by: str, selector: str, timeout: float = 30) -> None:
    """Click the element (a submit button or a link) and wait for the page it loads."""
    with next_page(driver, timeout):
        driver.find_element(by, selector).click()


def shows(driver, text: str, timeout: float = 20) -> bool:
    """Wait until the page shows ``text``; fail with what the page's main part says instead."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, timeout).until(lambda d: text in d.page_source)
    except TimeoutException:
        mains = driver.find_elements(By.TAG_NAME, "main")
        raise AssertionError(f"{text!r} not on {driver.current_url}:\n{mains[0].text if mains else driver.page_source[:2000]}")
    return True


def log_in(driver, base_url: str, email: str, password: str) -> None:
    """Log a staff user in through the login page and wait until the overview has loaded."""
    from selenium.webdriver.common.by import By

    driver.get(base_url + "/staff/login")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    click_through(driver, By.CSS_SELECTOR, "main form button[type=submit]")
    assert driver.current_url.endswith("/staff/"), f"the login did not reach the overview: {driver.current_url}"
