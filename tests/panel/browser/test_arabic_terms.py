"""The terms in Arabic in Chromium: axe-core (WCAG 2.1 A/AA), right to left, also at 320 px."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser import assert_accessible, shows

pytestmark = pytest.mark.browser


def test_the_arabic_terms_page(browser, live_server):
    browser.get(live_server.url + "/panel/terms?lang=ar")
    assert shows(browser, "شروط لجنة المواطنين")
    html = browser.find_element(By.TAG_NAME, "html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    text = browser.find_element(By.CSS_SELECTOR, "main div[lang]")
    assert (text.get_attribute("lang"), text.get_attribute("dir")) == ("ar", "rtl")
    assert_accessible(browser, "the Arabic terms page")
    browser.set_window_size(320, 800)
    try:
        width = browser.execute_script("return document.documentElement.clientWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= width, f"the Arabic terms page scrolls sideways at 320 px ({scroll} > {width})"
        assert_accessible(browser, "the Arabic terms page at 320 px")
    finally:
        browser.set_window_size(1280, 900)
