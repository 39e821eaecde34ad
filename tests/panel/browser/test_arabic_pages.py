"""Arabic resident pages in Chromium: axe-core (WCAG 2.1 A/AA), right to left, 320 px wide."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser import assert_accessible, click_through, shows
from tests.factories import make_district
from tests.surveys.answering.builders import invite, make_survey

pytestmark = pytest.mark.browser


def check(browser, what: str) -> None:
    """Right to left in Arabic; axe-core finds nothing, also at 320 px, where nothing scrolls sideways."""
    html = browser.find_element(By.TAG_NAME, "html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl"), what
    assert_accessible(browser, what)
    browser.set_window_size(320, 800)
    try:
        width = browser.execute_script("return document.documentElement.clientWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= width, f"{what} scrolls sideways at 320 px ({scroll} > {width})"
        assert_accessible(browser, f"{what} at 320 px")
    finally:
        browser.set_window_size(1280, 900)


def test_the_arabic_join_page_in_its_normal_and_error_states(browser, live_server, session):
    make_district(session, name="Visby")
    session.commit()
    browser.get(live_server.url + "/panel/join?lang=ar")
    assert shows(browser, "انضم إلى اللجنة")
    check(browser, "the Arabic join page")
    # The main column starts on the right: the heading's right edge is near the window's.
    edge = browser.execute_script(
        "const r = document.querySelector('main h1').getBoundingClientRect();"
        "return [r.right, document.documentElement.clientWidth];")
    assert edge[1] - edge[0] < edge[1] / 4, f"the heading is not on the right: {edge}"

    click_through(browser, By.CSS_SELECTOR, "main form button[type=submit].button")
    assert shows(browser, "يوجد خطأ في النموذج")
    check(browser, "the Arabic join page with errors")


def test_an_arabic_survey_in_arabic_from_landing_to_errors(browser, live_server, session):
    survey = make_survey(session)
    _invitation, token = invite(session, survey, language="ar")
    session.commit()

    browser.get(f"{live_server.url}/s/{token}")
    assert shows(browser, "ابدأ الإجابة")
    check(browser, "the Arabic landing page")
    click_through(browser, By.CSS_SELECTOR, "main form button[type=submit]")
    assert shows(browser, "التالي")
    check(browser, "the first Arabic survey page")
    click_through(browser, By.CSS_SELECTOR, "main form button[name=nav][value=next]")
    assert shows(browser, "يوجد خطأ في النموذج")
    check(browser, "the first Arabic survey page with errors")


def test_the_public_results_page_in_arabic(app, browser, live_server, session):
    from tests.surveys.publication.test_pages_browser import _published

    survey_id = _published(app, session)
    browser.get(f"{live_server.url}/resultat/{survey_id}?lang=ar")
    assert shows(browser, "النتائج: Parken")
    check(browser, "the Arabic public results page")
    # The charts keep matplotlib's left-to-right geometry inside the right-to-left page.
    assert "<svg" in browser.page_source
    assert browser.execute_script("return getComputedStyle(document.querySelector('svg.chart')).direction") == "ltr"
