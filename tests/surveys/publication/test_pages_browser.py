"""The publication pages in Chromium: axe-core (WCAG 2.1 A/AA) on the committee list, the committee
report page, the print page, the public results page and the analyst's pages, and 320 px."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from surveys.publication import services
from tests.browser import assert_accessible
from tests.factories import PASSWORD, make_staff
from tests.surveys.publication.conftest import field_survey
from tests.surveys.publication.support import document_from_answers, park_answers
from tests.surveys.publication.test_publication import _answers

pytestmark = pytest.mark.browser


def _log_in(browser, live_server, session, role):
    user = make_staff(session, role)
    session.commit()
    browser.get(live_server.url + "/staff/login")
    browser.find_element(By.ID, "email").send_keys(user.email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    WebDriverWait(browser, 20).until(lambda driver: driver.current_url.endswith("/staff/"))


def _published(app, session):
    fielded = field_survey(session, _answers())
    session.commit()
    with app.app_context():
        survey = session.merge(fielded.survey)
        services.publish(session, survey, by=None, expected_version=1,
                         document=document_from_answers(park_answers(), survey_id=survey.id).to_dict())
        services.add_decision(session, survey, text="Nämnden beslutade:\n\n- bygga parken\n- fler **bänkar**", by=None)
        session.commit()
    return fielded.survey.id


def _fits_320(browser, what):
    browser.set_window_size(320, 700)
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{what} scrolls sideways at 320 px: {width}"
    assert_accessible(browser, f"{what} at 320 px")
    browser.set_window_size(1280, 900)


def test_committee_pages_are_accessible(app, browser, live_server, session):
    survey_id = _published(app, session)
    _log_in(browser, live_server, session, "committee")
    browser.get(live_server.url + "/committee/reports")
    assert "Parken" in browser.page_source
    assert_accessible(browser, "the committee's list of reports")
    browser.get(live_server.url + f"/committee/reports/{survey_id}")
    assert "<svg" in browser.page_source and "bygga parken" in browser.page_source
    assert_accessible(browser, "the committee's report page")
    _fits_320(browser, "the committee's report page")
    browser.get(live_server.url + f"/committee/reports/{survey_id}/versions/1/print")
    assert_accessible(browser, "the print page")


def test_public_results_page_is_accessible_in_swedish_and_english(app, browser, live_server, session):
    survey_id = _published(app, session)
    browser.get(live_server.url + f"/resultat/{survey_id}")
    assert "Resultat: Parken" in browser.page_source
    assert_accessible(browser, "the public results page")
    _fits_320(browser, "the public results page")
    browser.get(live_server.url + f"/resultat/{survey_id}?lang=en")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert_accessible(browser, "the public results page in English")


def test_analyst_publication_pages_are_accessible(app, browser, live_server, session):
    survey_id = _published(app, session)
    _log_in(browser, live_server, session, "analyst")
    browser.get(live_server.url + f"/staff/surveys/{survey_id}/publication")
    assert_accessible(browser, "the analyst's publication page")
    browser.get(live_server.url + f"/staff/surveys/{survey_id}/publication/free-text")
    assert "Fler bänkar vore bra" in browser.page_source
    assert_accessible(browser, "the free-text approval page")


def test_the_arabic_page_of_a_swedish_only_survey_is_accessible(app, browser, live_server, session):
    """Swedish parts marked lang="sv" dir="ltr" inside the right-to-left page: axe-core finds nothing."""
    from tests.surveys.publication.test_language_of_parts import _publish as publish_swedish_only

    fielded, _report = publish_swedish_only(app, session, swedish=True)
    browser.get(f"{live_server.url}/resultat/{fielded.survey.id}?lang=ar")
    html = browser.find_element(By.TAG_NAME, "html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    heading = browser.find_element(By.CSS_SELECTOR, "#q-park span")
    assert (heading.get_attribute("lang"), heading.text) == ("sv", "Vill du ha en park?")
    # The Swedish heading runs left to right inside the right-to-left page.
    assert browser.execute_script("return getComputedStyle(arguments[0]).direction", heading) == "ltr"
    assert browser.execute_script("return getComputedStyle(document.querySelector('main h1')).direction") == "rtl"
    assert_accessible(browser, "the Arabic public results page of a Swedish-only survey")
    _fits_320(browser, "the Arabic public results page of a Swedish-only survey")
