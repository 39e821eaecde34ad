import pytest
from selenium.webdriver.common.by import By

from panel.recruitment.services import format_code
from tests.browser import assert_accessible, click_through, log_in
from tests.factories import PASSWORD, make_staff
from tests.panel.recruitment.conftest import districts  # noqa: F401  (fixture)
from tests.panel.recruitment.helpers import make_wave

pytestmark = pytest.mark.browser


def submit(browser):
    """Press the form's button and wait until the next page has replaced this one."""
    click_through(browser, By.CSS_SELECTOR, "main button[type=submit].button")


def test_joining_with_a_code_is_accessible_and_fits_a_phone(browser, live_server, app, session, districts):  # noqa: F811
    wave = make_wave(app, session)
    invite = next(i for i in wave.invites if i.person_ref == "P002")
    browser.set_window_size(320, 800)
    browser.get(live_server.url + "/join")
    assert_accessible(browser, "the code form")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 320

    browser.find_element(By.ID, "code").send_keys("AAAA-AAAA")
    submit(browser)
    assert "Vi hittar ingen inbjudan" in browser.page_source
    assert browser.find_element(By.ID, "code").get_attribute("aria-describedby") == "code-hint code-error"
    assert_accessible(browser, "the code form with an error")

    code = browser.find_element(By.ID, "code")
    code.clear()
    code.send_keys(format_code(invite.code).lower())
    submit(browser)
    assert browser.current_url.endswith("/join/details")
    assert browser.find_element(By.ID, "birth_year").get_attribute("value") == "1950"
    assert browser.find_element(By.CSS_SELECTOR, "input[name=gender][value=man]").is_selected()
    assert_accessible(browser, "the pre-filled sign-up form")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 320

    browser.find_element(By.ID, "email").send_keys("bjorn@example.se")
    browser.find_element(By.ID, "accept_terms").click()
    submit(browser)
    assert browser.current_url.endswith("/panel/join/sent")


def test_recruitment_staff_pages_are_accessible(browser, live_server, app, session, districts, tmp_path):  # noqa: F811
    analyst = make_staff(session, "analyst")
    session.commit()
    wave = make_wave(app, session)
    log_in(browser, live_server.url, analyst.email, PASSWORD)
    browser.get(live_server.url + f"/staff/recruitment/{wave.id}")
    assert_accessible(browser, "a recruitment wave's statistics")
    browser.get(live_server.url + "/staff/recruitment/new")
    bad = tmp_path / "urval.csv"
    bad.write_text("id;kön\n1;K\n", encoding="utf-8")
    browser.find_element(By.ID, "name").send_keys("Test")
    browser.find_element(By.ID, "sample").send_keys(str(bad))
    submit(browser)
    assert "Kolumner saknas" in browser.page_source
    assert_accessible(browser, "the upload page listing a file's problems")
