"""In Chromium, with axe-core: the dev mailbox (a newcomer clicks the confirmation link
there) and the staff page for failed mail."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from panel.mail import devserver, dispatcher
from tests.browser import LiveServer, assert_accessible
from tests.factories import PASSWORD, make_staff
from tests.panel.mail.conftest import make_row

pytestmark = pytest.mark.browser


def test_newcomer_finds_the_mail_and_follows_its_link(_driver, dev_app, session):
    browser = _driver
    browser.delete_all_cookies()
    with LiveServer(dev_app) as server, devserver.DevSMTPServer(dev_app.config["PANEL_DEV_MAILBOX"]) as catcher:
        dev_app.config["MAIL_PORT"] = catcher.port
        make_row(session, to="asa@example.se", subject="Bekräfta att du vill vara med",
                 text=f"Hej!\n\nBekräfta här:\n{server.url}/dev/mail\n",
                 html=f'<!doctype html><html lang="sv"><head><title>Bekräfta</title></head><body>'
                      f'<p><a href="{server.url}/dev/mail">Bekräfta</a></p></body></html>')
        session.commit()
        assert dispatcher.dispatch_due(dev_app).sent == 1

        browser.set_window_size(1280, 900)
        browser.get(server.url + "/dev/mail?lang=sv")  # Chromium asks for English otherwise
        assert_accessible(browser, "the dev mailbox list")
        browser.find_element(By.LINK_TEXT, "Bekräfta att du vill vara med").click()
        assert "Textversionen" in browser.page_source
        assert_accessible(browser, "one caught message")

        browser.set_window_size(320, 800)  # reflow: nothing wider than the screen
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 320 + 1, f"the message page is {width}px wide at 320px"

        iframe = browser.find_element(By.CSS_SELECTOR, "iframe")
        browser.switch_to.frame(iframe)
        browser.find_element(By.LINK_TEXT, "Bekräfta").click()  # opens in the top window
        browser.switch_to.default_content()
        assert browser.current_url == server.url + "/dev/mail"


def test_staff_mail_page_is_accessible(browser, live_server, session):
    user = make_staff(session, "analyst")
    make_row(session, 1, to="anna.svensson@example.se", status="failed", attempts=8,
             last_error="gave up after 8 attempts: 451 4.7.1 try later")
    session.commit()
    browser.get(live_server.url + "/staff/login?lang=sv")  # Chromium asks for English otherwise
    browser.find_element(By.ID, "email").send_keys(user.email)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].button").click()
    WebDriverWait(browser, 10).until(lambda b: "/staff/login" not in b.current_url)  # logged in
    browser.get(live_server.url + "/staff/mail?lang=sv")
    assert "a…n@example.se" in browser.page_source
    assert_accessible(browser, "the staff mail page")
    browser.find_element(By.XPATH, "//button[starts-with(normalize-space(.), 'Skicka igen')]").click()
    # The click submits a form: wait for the page it redirects to, with its flash message.
    WebDriverWait(browser, 10).until(lambda b: "skickas igen" in b.page_source)
    assert_accessible(browser, "the staff mail page after a retry")
