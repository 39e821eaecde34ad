"""Pages reached from a member's emails speak the language the email was written in (the
member's language), unless the resident chose a language on the site (?lang=, the language
switch). Emails are sent over a real local SMTP server; the browser asks for Swedish."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from panel import catalogs
from panel.models import MemberToken
from tests.conftest import csrf_token
from tests.factories import make_district, make_member
from tests.panel.members.support import deliver, join_form, later, link_to, links_in, path_of, press_button
from tests.panel.members.test_unsubscribe import unsubscribe_path

SWEDISH_BROWSER = {"Accept-Language": "sv-SE,sv;q=0.9"}


@pytest.fixture(scope="module")
def arabic():
    catalog = catalogs.read_catalog("ar")
    return lambda text: catalog.get(text).string


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([a-z]+)"', page).group(1)


def mail_to(app, smtp_server, address: str):
    deliver(app)
    return smtp_server.to(address)[-1]


def ask_for_link(client, address: str):
    return client.post("/panel/me", data={"email": address, "csrf_token": csrf_token(client, "/panel/me")},
                       headers=SWEDISH_BROWSER)


def test_the_unsubscribe_page_of_an_arabic_email_is_arabic(app, session, arabic):
    member = make_member(session, email="amal@example.se", language="ar")
    session.commit()
    # The List-Unsubscribe link every panel email to the member carries (the welcome email's is
    # followed in test_sign_up_in_arabic_then_confirm_in_another_browser).
    path = unsubscribe_path(app, member.id)

    browser = app.test_client()  # a browser with no language chosen, asking for Swedish
    for headers in (SWEDISH_BROWSER, {}):
        page = browser.get(path, headers=headers).get_data(as_text=True)
        assert html_lang(page) == "ar" and 'dir="rtl"' in page
        assert arabic("Sluta få mejl från panelen") in page and "Sluta få mejl från panelen" not in page
    done = browser.post(path, data={"List-Unsubscribe": "One-Click"}, headers=SWEDISH_BROWSER)
    assert html_lang(done.get_data(as_text=True)) == "ar"

    # The resident's own choice wins: the language switch on the page, or one made earlier.
    assert html_lang(browser.get(path + "?lang=en").get_data(as_text=True)) == "en"
    assert html_lang(browser.get(path, headers=SWEDISH_BROWSER).get_data(as_text=True)) == "en"
    chose_swedish = app.test_client()
    chose_swedish.get("/?lang=sv")
    assert html_lang(chose_swedish.get(path).get_data(as_text=True)) == "sv"


def test_an_arabic_magic_link_opens_arabic_pages_through_to_my_page(app, client, session, smtp_server, arabic):
    make_member(session, email="amal@example.se", language="ar")
    session.commit()
    ask_for_link(client, "amal@example.se")
    mail = mail_to(app, smtp_server, "amal@example.se")
    path = link_to(mail, "/panel/me/")

    browser = app.test_client()
    page = browser.get(path, headers=SWEDISH_BROWSER).get_data(as_text=True)
    assert html_lang(page) == "ar" and arabic("Logga in på Mina uppgifter") in page
    response = browser.post(path, data={"csrf_token": csrf_token(browser, path)}, headers=SWEDISH_BROWSER)
    assert response.status_code == 302
    profile = browser.get("/panel/me/profile", headers=SWEDISH_BROWSER).get_data(as_text=True)
    assert html_lang(profile) == "ar" and arabic("Mina uppgifter") in profile
    leave = browser.get("/panel/me/leave", headers=SWEDISH_BROWSER).get_data(as_text=True)
    assert html_lang(leave) == "ar"

    # The email's link to /panel/me (no token: nothing names the member) says the language.
    [request_link] = [link for link in links_in(mail) if urlsplit(link).path == "/panel/me"]
    assert parse_qs(urlsplit(request_link).query) == {"lang": ["ar"]}
    assert html_lang(app.test_client().get(path_of(request_link), headers=SWEDISH_BROWSER)
                     .get_data(as_text=True)) == "ar"

    # The link again, used: the page saying so is Arabic too.
    used = app.test_client().get(path, headers=SWEDISH_BROWSER)
    assert used.status_code == 410 and html_lang(used.get_data(as_text=True)) == "ar"
    assert arabic("Länken har redan använts. Be om en ny länk.") in used.get_data(as_text=True)


def test_choosing_english_on_my_page_wins_over_the_emails_language(app, client, session, smtp_server):
    make_member(session, email="amal@example.se", language="ar")
    session.commit()
    ask_for_link(client, "amal@example.se")
    path = link_to(mail_to(app, smtp_server, "amal@example.se"), "/panel/me/")
    browser = app.test_client()
    press_button(browser, path)
    assert html_lang(browser.get("/panel/me/profile?lang=en").get_data(as_text=True)) == "en"
    assert html_lang(browser.get("/panel/me/profile", headers=SWEDISH_BROWSER).get_data(as_text=True)) == "en"


def test_a_swedish_members_pages_are_swedish_in_an_english_browser(app, client, session, smtp_server):
    make_member(session, email="sven@example.se", language="sv")
    session.commit()
    ask_for_link(client, "sven@example.se")
    path = link_to(mail_to(app, smtp_server, "sven@example.se"), "/panel/me/")
    browser = app.test_client()
    english = {"Accept-Language": "en-GB,en"}
    assert html_lang(browser.get(path, headers=english).get_data(as_text=True)) == "sv"


def test_sign_up_in_arabic_then_confirm_in_another_browser(app, client, session, smtp_server, arabic):
    home = make_district(session)
    session.commit()
    client.get("/panel/join?lang=ar")
    assert client.post("/panel/join", data=join_form(client, home, email="amal@example.se",
                                                     language="ar")).status_code == 302
    mail = mail_to(app, smtp_server, "amal@example.se")
    path = link_to(mail, "/panel/confirm/")

    phone = app.test_client()  # the email is opened on a phone whose browser asks for Swedish
    page = phone.get(path, headers=SWEDISH_BROWSER).get_data(as_text=True)
    assert html_lang(page) == "ar" and arabic("Bekräfta att du vill vara med") in page
    response = phone.post(path, data={"csrf_token": csrf_token(phone, path)}, headers=SWEDISH_BROWSER)
    assert response.status_code == 302
    profile = phone.get(response.headers["Location"], headers=SWEDISH_BROWSER).get_data(as_text=True)
    assert html_lang(profile) == "ar"
    assert arabic("Tack! Nu är du med i panelen. Här ser du dina uppgifter.") in profile  # the flash too

    # The welcome email: its /panel/me link says Arabic, its unsubscribe link opens an Arabic page.
    welcome = mail_to(app, smtp_server, "amal@example.se")
    [manage] = [link for link in links_in(welcome) if urlsplit(link).path == "/panel/me"]
    assert parse_qs(urlsplit(manage).query) == {"lang": ["ar"]}
    unsubscribe = path_of(welcome["List-Unsubscribe"].strip("<>"))
    assert link_to(welcome, "/panel/unsubscribe/") == unsubscribe
    assert html_lang(app.test_client().get(unsubscribe, headers=SWEDISH_BROWSER).get_data(as_text=True)) == "ar"

    # An expired confirmation link (another sign-up, never confirmed) is explained in Arabic.
    client.post("/panel/join", data=join_form(client, home, email="hadi@example.se", language="ar"))
    expired = link_to(mail_to(app, smtp_server, "hadi@example.se"), "/panel/confirm/")
    for token in session.scalars(select(MemberToken)):
        token.expires_at = later(-1)
    session.commit()
    page = app.test_client().get(expired, headers=SWEDISH_BROWSER)
    assert page.status_code == 410 and html_lang(page.get_data(as_text=True)) == "ar"


def test_leaving_ends_on_a_page_in_the_same_language(app, client, session, smtp_server, arabic):
    make_member(session, email="amal@example.se", language="ar")
    session.commit()
    ask_for_link(client, "amal@example.se")
    browser = app.test_client()
    press_button(browser, link_to(mail_to(app, smtp_server, "amal@example.se"), "/panel/me/"))
    response = browser.post("/panel/me/leave", data={"csrf_token": csrf_token(browser, "/panel/me/leave")},
                            headers=SWEDISH_BROWSER)
    assert response.status_code == 302
    left = browser.get(response.headers["Location"], headers=SWEDISH_BROWSER).get_data(as_text=True)
    assert html_lang(left) == "ar"
    goodbye = mail_to(app, smtp_server, "amal@example.se")
    [join] = [link for link in links_in(goodbye) if urlsplit(link).path == "/panel/join"]
    assert parse_qs(urlsplit(join).query) == {"lang": ["ar"]}


def test_the_unsubscribe_link_of_a_survey_invitation_opens_in_its_language(app, session, smtp_server):
    """Invitations are built in bulk (surveys.fielding, one body per language, the links filled
    in per row): their List-Unsubscribe link needs no language in it, the page finds the member."""
    from tests.surveys.conftest import EXAMPLE
    from tests.surveys.fielding.support import configure, make_panel, make_survey, send_now

    [member] = make_panel(session, [(1, "kvinna", 30, "0101")], language="en")
    survey = make_survey(session, EXAMPLE.read_text(encoding="utf-8"))
    configure(session, survey)
    session.commit()
    send_now(app, survey.id)
    invitation = mail_to(app, smtp_server, member.email)
    path = path_of(invitation["List-Unsubscribe"].strip("<>"))
    assert link_to(invitation, "/panel/unsubscribe/") == path  # the link in the body is the same
    page = app.test_client().get(path, headers=SWEDISH_BROWSER).get_data(as_text=True)
    assert html_lang(page) == "en" and "Stop getting emails from the panel" in page
