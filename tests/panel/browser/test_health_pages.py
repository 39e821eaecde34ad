"""axe-core in Chromium on the population upload, preview, panel health and planner pages."""

import pytest
from selenium.webdriver.common.by import By

from panel.demo_seed import SCB_EXPORT
from tests.browser import assert_accessible, click_through, log_in
from tests.factories import PASSWORD, make_staff
from tests.panel.health.test_health import make_wave, seed

pytestmark = pytest.mark.browser


def test_upload_preview_health_and_planner_pages_are_accessible(browser, live_server, session):
    districts = seed(session)
    make_wave(session, "Våren", districts, [("N", "kvinna", 30, 40, 10), ("N", "man", 20, 50, 4)])
    user = make_staff(session, "analyst")
    session.commit()
    log_in(browser, live_server.url, user.email, PASSWORD)

    browser.get(live_server.url + "/staff/health/")
    assert "Det finns inga befolkningsuppgifter ännu" in browser.page_source
    assert_accessible(browser, "the panel health page without population figures")

    browser.get(live_server.url + "/staff/population/")
    assert_accessible(browser, "the population upload page")
    browser.find_element(By.ID, "population").send_keys(str(SCB_EXPORT.with_name("PROVENANCE.md")))
    browser.find_element(By.ID, "name").send_keys("Fel fil")
    click_through(browser, By.CSS_SELECTOR, "main form button[type=submit].button")
    assert "Filen lästes inte in" in browser.page_source
    assert_accessible(browser, "the population upload page with a refused file")

    browser.find_element(By.ID, "population").send_keys(str(SCB_EXPORT))
    name = browser.find_element(By.ID, "name")
    name.clear()
    name.send_keys("Gotland 2020")
    click_through(browser, By.CSS_SELECTOR, "main form button[type=submit].button")
    assert "/staff/population/preview/" in browser.current_url
    assert_accessible(browser, "the population preview page")
    click_through(browser, By.CSS_SELECTOR, "main form button[type=submit].button")
    assert browser.current_url.endswith("/staff/population/")
    assert "Används" in browser.page_source
    assert_accessible(browser, "the population versions page")

    browser.get(live_server.url + "/staff/health/")
    assert 'role="img"' in browser.page_source
    assert_accessible(browser, "the panel health page")

    browser.get(live_server.url + "/staff/health/planner?tolerance=2")
    assert "Brev per grupp" in browser.page_source
    assert_accessible(browser, "the recruitment planner")
    browser.get(live_server.url + "/staff/health/planner?tolerance=abc")
    assert_accessible(browser, "the recruitment planner with a form error")
