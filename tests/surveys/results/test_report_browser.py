"""The analyst's report page in Chromium: axe-core finds no WCAG 2.1 A/AA violation."""

from __future__ import annotations

import pytest

from tests.browser import assert_accessible, axe_violations, click_through, log_in
from tests.factories import PASSWORD, make_staff
from tests.surveys.results.builders import make_population, make_survey

pytestmark = pytest.mark.browser


def test_report_settings_and_trend_pages_are_accessible(browser, live_server, session):
    from selenium.webdriver.common.by import By

    analyst = make_staff(session, role="analyst")
    make_population(session)
    survey = make_survey(session, n_invited=150, seed=41)
    session.commit()
    browser.set_script_timeout(300)  # axe-core on a long page of tables and charts, on a busy machine
    log_in(browser, live_server.url, analyst.email, PASSWORD)
    browser.get(f"{live_server.url}/staff/surveys/{survey.id}/report")
    assert "Rapport" in browser.title
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart[role=img]")
    for details in browser.find_elements(By.TAG_NAME, "details"):
        browser.execute_script("arguments[0].open = true", details)
    assert_accessible(browser, "the analyst's report")
    # and every table's scrolling region has a name of its own (question, then table)
    assert [v["id"] for v in axe_violations(browser, ["best-practice"]) if v["id"] == "landmark-unique"] == []
    browser.get(f"{live_server.url}/staff/surveys/{survey.id}/report/settings")
    assert_accessible(browser, "the weighting settings")
    browser.find_element(By.NAME, "trim_upper").send_keys("0,5")
    click_through(browser, By.CSS_SELECTOR, "form[action$='/report/settings'] button[type=submit]", timeout=120)
    assert "Skriv ett tal större än 1" in browser.page_source
    assert_accessible(browser, "the weighting settings with an error")
    browser.get(f"{live_server.url}/staff/surveys/{survey.id}/report/trend/trygg")
    assert_accessible(browser, "the trend page")
