"""The export and codebook pages in Chromium: axe-core (WCAG 2.1 A/AA), 320 px, and a
keyboard-only download that is logged."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from panel.models import AuditEvent
from surveys.exports.services import EXPORT_ACTION
from tests.browser import assert_accessible, click_through
from tests.surveys.exports.builders import make_population, make_survey

pytestmark = pytest.mark.browser


def fits_320(browser, what):
    browser.set_window_size(320, 700)
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{what} scrolls sideways at 320 px: {width}"
    assert_accessible(browser, f"{what} at 320 px")
    browser.set_window_size(1200, 900)


def test_export_and_codebook_pages_are_accessible(analyst_browser, live_server, session):
    survey = make_survey(session, responses=40, seed=2)
    empty = make_survey(session, responses=0)
    make_population(session)
    session.commit()
    browser = analyst_browser
    for target, what in ((survey, "the export page"), (empty, "the export page of a survey without responses")):
        browser.get(f"{live_server.url}/staff/surveys/{target.id}/export")
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Exportera svar")
        assert_accessible(browser, what)
        fits_320(browser, what)
    browser.get(f"{live_server.url}/staff/surveys/{survey.id}/export/codebook")
    assert "transport_annat_text" in browser.page_source
    assert_accessible(browser, "the codebook page")
    fits_320(browser, "the codebook page")

    # An invalid choice (a tampered form) shows the error summary, which must be accessible too.
    browser.get(f"{live_server.url}/staff/surveys/{survey.id}/export")
    browser.execute_script("document.querySelector('input[name=format][value=csv]').value = 'exe';")
    browser.find_element(By.CSS_SELECTOR, "input[name=format][value=exe]").click()
    click_through(browser, By.CSS_SELECTOR, "form[novalidate] button[type=submit]")
    assert "error-summary" in browser.page_source
    assert_accessible(browser, "the export page with an error")


def test_download_with_the_keyboard_only_is_logged(analyst_browser, live_server, session):
    survey = make_survey(session, responses=10, seed=4)
    session.commit()
    browser = analyst_browser
    browser.get(f"{live_server.url}/staff/surveys/{survey.id}/export")
    choice = browser.find_element(By.CSS_SELECTOR, "input[name=format][value=xlsx]")
    choice.send_keys(Keys.SPACE)
    assert choice.is_selected()
    browser.find_element(By.CSS_SELECTOR, "form[novalidate] button[type=submit]").send_keys(Keys.ENTER)

    def logged(_driver):
        session.expire_all()
        return session.scalars(select(AuditEvent).where(AuditEvent.action == EXPORT_ACTION)).all()

    events = WebDriverWait(browser, 20).until(logged)
    assert events[0].detail["format"] == "xlsx" and events[0].detail["rows"] == 10
