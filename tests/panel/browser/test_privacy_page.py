"""The public privacy page in Chromium at 320 px, in Swedish and Arabic: axe-core finds nothing,
and the tables that scroll sideways inside the page can be reached and scrolled with the keyboard."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser import assert_accessible, shows

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("language", "heading"), [("sv", "Så hanterar vi dina personuppgifter"),
                                                   ("ar", None)], ids=["sv", "ar"])
def test_the_privacy_page_at_320_px(browser, live_server, language, heading):
    browser.get(f"{live_server.url}/panel/privacy?lang={language}")
    if heading:
        assert shows(browser, heading)
    html = browser.find_element(By.TAG_NAME, "html")
    assert html.get_attribute("lang") == language
    browser.set_window_size(320, 800)
    try:
        width = browser.execute_script("return document.documentElement.clientWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= width, f"the privacy page scrolls sideways at 320 px ({scroll} > {width})"
        assert_accessible(browser, f"the privacy page ({language}) at 320 px")
        for region in browser.find_elements(By.CSS_SELECTOR, "main .table-scroll"):
            assert region.get_attribute("tabindex") == "0"
            assert region.get_attribute("role") == "region"
            assert region.get_attribute("aria-label") or region.get_attribute("aria-labelledby")
    finally:
        browser.set_window_size(1280, 900)
