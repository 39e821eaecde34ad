"""The residents' pages in Chromium: axe-core (WCAG 2.1 A/AA) in normal and error states, and 320 px wide."""

from __future__ import annotations

from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from panel.db import utcnow
from panel.extensions import db
from panel.members import tokens
from panel.models import Member
from panel.models.member import TokenPurpose
from tests.browser import assert_accessible, click_through, shows
from tests.factories import make_district, make_member

pytestmark = pytest.mark.browser


def issue_link(app, member_id: int, purpose: str) -> str:
    with app.app_context():
        token = tokens.issue(db.session, db.session.get(Member, member_id), purpose, timedelta(hours=1),
                             now=utcnow())
        db.session.commit()
    return token


def fill(browser, field_id: str, text: str) -> None:
    """Replace what a text field holds (select all, then type), and check that it took."""
    field = browser.find_element(By.ID, field_id)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(text)
    assert field.get_attribute("value") == text


def submit(browser) -> None:
    click_through(browser, By.CSS_SELECTOR, "main form button[type=submit].button")


def assert_fits_320(browser, what: str) -> None:
    """No sideways scrolling on a 320 px wide screen (WCAG 1.4.10 Reflow)."""
    browser.set_window_size(320, 800)
    try:
        width = browser.execute_script("return document.documentElement.clientWidth")
        scroll = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= width, f"{what} scrolls sideways at 320 px ({scroll} > {width})"
    finally:
        browser.set_window_size(1280, 900)


def test_join_form_normal_error_and_sent_states(browser, live_server, session):
    make_district(session, name="Visby")
    make_district(session, name="Hemse")
    session.commit()
    browser.get(live_server.url + "/?lang=sv")  # Chromium asks for English otherwise; the session remembers
    assert_accessible(browser, "the home page")
    assert_fits_320(browser, "the home page")
    click_through(browser, By.LINK_TEXT, "Gå med i panelen")
    assert_accessible(browser, "the join form")

    fill(browser, "email", "inte-en-adress")
    fill(browser, "birth_year", "2020")
    submit(browser)
    assert shows(browser, "Det finns fel i formuläret")
    assert browser.find_element(By.ID, "birth_year").get_attribute("aria-invalid") == "true"
    assert "birth_year-error" in browser.find_element(By.ID, "birth_year").get_attribute("aria-describedby")
    assert_accessible(browser, "the join form with errors")
    assert_fits_320(browser, "the join form with errors")

    fill(browser, "email", "greta@example.se")
    fill(browser, "birth_year", "1990")
    browser.find_element(By.CSS_SELECTOR, "label[for=gender-1]").click()
    browser.find_element(By.CSS_SELECTOR, "#district option:nth-child(2)").click()
    browser.find_element(By.ID, "accept_terms").click()
    submit(browser)
    assert shows(browser, "Titta i din e-post")
    assert_accessible(browser, "the page after signing up")


def test_confirm_page_and_broken_link_page(app, browser, live_server, session):
    member = make_member(session, status="pending")
    session.commit()
    token = issue_link(app, member.id, TokenPurpose.CONFIRM)
    browser.get(f"{live_server.url}/panel/confirm/{token}?lang=sv")
    assert_accessible(browser, "the confirmation page")
    submit(browser)
    assert shows(browser, "Nu är du med i panelen")
    assert browser.current_url.endswith("/panel/me/profile")
    assert_accessible(browser, "my page after confirming")
    browser.get(f"{live_server.url}/panel/confirm/{token}")
    assert shows(browser, "redan använd")
    assert_accessible(browser, "a used link")


def test_magic_link_request_in_normal_and_error_states(browser, live_server, session):
    browser.get(live_server.url + "/panel/me?lang=sv")
    assert_accessible(browser, "the magic-link request page")
    fill(browser, "email", "fel@")
    submit(browser)
    assert shows(browser, "namn@exempel.se")
    assert_accessible(browser, "the magic-link request page with an error")
    fill(browser, "email", "someone@example.se")
    submit(browser)
    assert shows(browser, "Titta i din e-post")
    assert_accessible(browser, "the page after asking for a link")


def test_profile_in_normal_and_error_states_and_leaving(app, browser, live_server, session):
    member = make_member(session, email="hugo@example.se")
    session.commit()
    token = issue_link(app, member.id, TokenPurpose.MANAGE)
    browser.get(f"{live_server.url}/panel/me/{token}?lang=sv")
    assert_accessible(browser, "the magic-link login page")
    submit(browser)
    assert shows(browser, "hugo@example.se")
    assert_accessible(browser, "my page")
    assert_fits_320(browser, "my page")

    fill(browser, "birth_year", "12")
    click_through(browser, By.XPATH, "//button[text()='Spara ändringarna']")
    assert shows(browser, "Det finns fel i formuläret")
    assert_accessible(browser, "my page with an error")

    browser.find_element(By.CSS_SELECTOR, "label[for=pause-period-0]").click()
    click_through(browser, By.XPATH, "//button[text()='Pausa']")
    assert shows(browser, "Avsluta pausen nu")
    assert_accessible(browser, "my page while paused")

    click_through(browser, By.LINK_TEXT, "Gå ur panelen")
    assert_accessible(browser, "the leave confirmation page")
    click_through(browser, By.XPATH, "//button[text()='Ja, ta bort mig ur panelen']")
    assert shows(browser, "Du har gått ur panelen")
    assert_accessible(browser, "the page after leaving")


def test_terms_and_unsubscribe_pages(app, browser, live_server, session):
    member = make_member(session)
    session.commit()
    browser.get(live_server.url + "/panel/terms?lang=sv")
    assert_accessible(browser, "the terms")
    browser.get(live_server.url + "/panel/terms?lang=en")
    assert shows(browser, "Terms of the citizen panel")
    assert_accessible(browser, "the terms in English")
    with app.test_request_context():
        token = tokens.unsubscribe_token(db.session.get(Member, member.id))
    browser.get(f"{live_server.url}/panel/unsubscribe/{token}?lang=sv")
    assert_accessible(browser, "the unsubscribe page")
    submit(browser)
    assert shows(browser, "Du får inga fler mejl")
    assert_accessible(browser, "the page after unsubscribing")
