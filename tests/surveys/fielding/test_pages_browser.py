"""The fielding pages in Chromium: axe-core (WCAG 2.1 A/AA) on every page and state, and 320 px."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import assert_accessible
from tests.surveys.fielding.support import base, make_panel, make_survey

pytestmark = pytest.mark.browser


def submit(browser, selector="form[novalidate] button[type=submit].button"):
    """Press the button and wait for the next page."""
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, selector).click()
    # While the old page is torn down Chromium may answer "node does not belong to the
    # document" instead of "stale element": both mean the next page is on its way.
    WebDriverWait(browser, 20, ignored_exceptions=(WebDriverException,)).until(expected_conditions.staleness_of(old))


def fits_320(browser, what):
    browser.set_window_size(320, 700)
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{what} scrolls sideways at 320 px: {width}"
    assert_accessible(browser, f"{what} at 320 px")
    browser.set_window_size(1280, 900)


def test_target_preview_send_progress_and_statistics_pages(analyst_browser, live_server, session, example_text):
    browser = analyst_browser
    make_panel(session, [(3, "kvinna", 20, "0101"), (2, "man", 70, "0102")])
    make_panel(session, [(1, "man", 40, "0101")], status="paused")
    survey = make_survey(session, example_text)
    session.commit()
    url = live_server.url + base(survey.id)

    browser.get(url + "/?lang=sv")  # the messages below are Swedish; the browser asks for English
    assert_accessible(browser, "the fielding page before sending")
    browser.get(url + "/target")
    assert_accessible(browser, "the target form")
    fits_320(browser, "the target form")
    browser.find_element(By.ID, "mode-1").click()  # a sample, without saying how large or when it closes
    submit(browser)
    assert "Skriv när enkäten stänger" in browser.page_source
    assert_accessible(browser, "the target form with errors")
    browser.find_element(By.ID, "sample_size").send_keys("4")
    browser.execute_script("document.getElementById('closes_at').value = arguments[0]", "2099-05-04T18:00")
    submit(browser)
    assert browser.current_url.endswith("/preview"), browser.page_source[:2000]
    assert_accessible(browser, "the preview")
    fits_320(browser, "the preview")
    submit(browser, "form[action$='/send'] button")
    assert "4 inbjudningar är köade" in browser.page_source
    assert_accessible(browser, "the fielding page after sending")
    browser.get(url + "/stats")
    assert_accessible(browser, "the statistics per stratum")
    fits_320(browser, "the statistics per stratum")
