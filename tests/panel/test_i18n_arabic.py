"""Arabic for residents: every text a resident meets is translated, pages are right to
left, emails go out in the member's language, and staff pages never turn Arabic."""

from __future__ import annotations

import re

import pytest
from babel.messages.mofile import read_mo
from sqlalchemy import select

from panel import catalogs
from panel.mail.outbox import render_email
from panel.models import Member, OutboxMessage
from datetime import timedelta

from panel.db import utcnow
from panel.extensions import db
from panel.members import tokens
from panel.models.member import TokenPurpose
from tests.conftest import csrf_token
from tests.factories import make_district, make_member, make_staff
from tests.panel.members.support import sign_up
from tests.panel.members.test_unsubscribe import unsubscribe_path
from tests.surveys.answering.builders import (BIBLIOTEKEN, PRIORITERINGAR, VARDAG, invite, make_survey, start,
                                              submit, token_on)

PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|%%")


@pytest.fixture(scope="module")
def arabic():
    return catalogs.read_catalog("ar")


@pytest.fixture(scope="module")
def swedish_texts(arabic) -> list[str]:
    """Resident texts long enough that finding one on a page means it was left in Swedish."""
    return [m.id for m in arabic if m.id and m.string and len(m.id) >= 8 and "%" not in m.id and m.string != m.id]


def leftover_swedish(page: str, texts: list[str]) -> list[str]:
    return [text for text in texts if text in page]


# ---------------------------------------------------------------- the catalog


def test_every_text_a_resident_can_meet_has_arabic(arabic):
    resident = catalogs.extract_resident()
    assert len(resident) > 300  # the templates and views were found
    missing = [m.id for m in resident if m.id and not (arabic.get(m.id, m.context) and arabic.get(m.id, m.context).string)]
    assert missing == [], (
        f"{len(missing)} resident texts lack Arabic; run `medborgarpanel i18n update ar` and translate "
        "panel/translations/ar/LC_MESSAGES/messages.po:\n" + "\n".join(map(str, missing[:40])))


def test_resident_texts_are_found_in_every_resident_file():
    resident = catalogs.extract_resident()
    files = {location for message in resident for location, _line in message.locations}
    for expected in ("templates/surveys/answering/page.html", "templates/members/join.html",
                     "templates/email/survey_invitation.txt", "templates/error.html", "surveys/forms.py",
                     "panel/recruitment/views.py", "templates/publication/_report_body.html"):
        assert expected in files
    # Only the resident parts of a staff file: the wave form's texts are not asked for.
    assert "Namn på rekryteringen" not in {m.id for m in resident}
    assert {m.id for m in resident if m.id} <= {m.id for m in catalogs.extract() if m.id}


def test_a_resident_source_naming_a_missing_definition_fails(monkeypatch):
    monkeypatch.setitem(catalogs.RESIDENT_SOURCES, "panel/recruitment/views.py", ("join", "no_such_view"))
    with pytest.raises(ValueError, match="no_such_view"):
        catalogs.extract_resident()


def test_arabic_placeholders_match_the_swedish(arabic):
    broken = []
    for message in arabic:
        if message.id and message.string:
            if sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string)):
                broken.append(message.id)
            broken += [f"{message.id}: {error}" for error in message.check(arabic)]
    assert broken == []


def test_compiled_arabic_catalog_matches_the_po_file(arabic):
    with catalogs.catalog_path("ar").with_suffix(".mo").open("rb") as handle:
        mo = read_mo(handle)
    assert {m.id: m.string for m in arabic if m.id and m.string} == {m.id: m.string for m in mo if m.id}


def test_i18n_update_keeps_arabic_current_by_default():
    assert "ar" in catalogs.LANGUAGES and "ar" in catalogs.RESIDENT_ONLY


# ---------------------------------------------------------------- resident pages


def test_the_join_page_in_arabic_is_right_to_left_without_swedish(client, session, swedish_texts):
    make_district(session, name="Visby")
    session.commit()
    page = client.get("/panel/join?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    assert "انضم إلى اللجنة" in page and "لجنة المواطنين" in page
    assert leftover_swedish(page, swedish_texts) == []
    # The language switch names Arabic in Arabic, and marks it as the current language.
    assert re.search(r'<a href="\?lang=ar" lang="ar" hreflang="ar" dir="rtl" aria-current="true">العربية</a>', page)
    # Emails in Arabic are offered, and chosen by default on an Arabic page.
    assert re.search(r'<input[^>]*checked[^>]*value="ar"|<input[^>]*value="ar"[^>]*checked', page)

    # The choice is remembered: the next resident page is Arabic without ?lang.
    assert '<html lang="ar" dir="rtl">' in client.get("/panel/privacy").get_data(as_text=True)


def test_joining_in_arabic_stores_the_language_and_the_emails_are_arabic(client, session):
    home = make_district(session, name="Visby")
    session.commit()
    client.get("/panel/join?lang=ar")
    response = sign_up(client, home, email="amal@example.se", language="ar")
    assert response.status_code == 302
    sent = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "تفقّد بريدك الإلكتروني" in sent and 'dir="rtl"' in sent
    member = session.scalars(select(Member)).one()
    assert member.language == "ar"
    mail = session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == "amal@example.se")).one()
    assert "لجنة المواطنين" in mail.subject
    assert '<html lang="ar" dir="rtl">' in mail.body_html
    assert "افتح الرابط واضغط على الزر" in mail.body_text


def test_a_language_the_panel_does_not_offer_is_refused_when_joining(app, client, session):
    home = make_district(session, name="Visby")
    session.commit()
    app.config["PANEL_RESIDENT_LANGUAGES"] = ("sv", "en")
    page = client.get("/panel/join").get_data(as_text=True)
    assert 'value="ar"' not in page and "العربية" not in page
    response = sign_up(client, home, email="amal@example.se", language="ar")
    assert response.status_code == 400
    assert session.scalars(select(Member)).all() == []


def test_the_staff_languages_stay_resident_languages_whatever_the_setting_lists(app, client, session):
    # Pages always offer residents the staff languages (sv, en) too: so must the email
    # language, or a member who chose English could not save a profile.
    home = make_district(session, name="Visby")
    session.commit()
    app.config["PANEL_RESIDENT_LANGUAGES"] = ("sv", "ar")
    page = client.get("/panel/join").get_data(as_text=True)
    assert 'value="en"' in page and 'value="ar"' in page
    assert sign_up(client, home, email="eve@example.se", language="en").status_code == 302
    assert session.scalars(select(Member.language)).all() == ["en"]


def test_invitations_and_reminders_render_in_arabic(app):
    with app.test_request_context():
        for template in ("survey_invitation", "survey_reminder", "welcome", "magic_link", "left_panel"):
            subject, text, html = render_email(template, "ar", {
                "survey_title": "الأمان", "link": "http://panel.test/s/x", "unsubscribe_link": "http://panel.test/u",
                "closes_at": None, "anonymous": True, "profile_link": "http://panel.test/p",
                "join_link": "http://panel.test/j", "minutes": 30})
            assert re.search(r"[\u0600-\u06ff]", subject), (template, subject)
            assert '<html lang="ar" dir="rtl">' in html
            assert "Medborgarpanelen" not in text and "Hälsningar" not in text


def test_answering_in_arabic_shows_arabic_chrome_in_every_state(client, session, swedish_texts):
    survey = make_survey(session)
    _invitation, token = invite(session, survey, language="ar")
    session.commit()

    landing = client.get(f"/s/{token}").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in landing and "ابدأ الإجابة" in landing
    assert leftover_swedish(landing, swedish_texts) == []

    first = start(client, token)
    page = client.get(first).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    assert "التالي" in page and "الصفحة 1 من" in page and "انتقل إلى المحتوى" in page
    assert leftover_swedish(page, swedish_texts) == []

    # An unanswered required question: the error summary and message are Arabic too.
    invalid = client.post(first, data={"csrf_token": token_on(page), "nav": "next"})
    assert invalid.status_code == 400
    errors = invalid.get_data(as_text=True)
    assert "يوجد خطأ في النموذج" in errors or "خطأ:" in errors
    assert leftover_swedish(errors, swedish_texts) == []


def arabic_page(client, path: str, texts: list[str], status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    page = response.get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page, path
    assert leftover_swedish(page, texts) == [], path
    return page


def test_the_public_pages_are_arabic(client, session, swedish_texts):
    make_district(session, name="Visby")
    session.commit()
    assert "ما هي لجنة المواطنين؟" in arabic_page(client, "/?lang=ar", swedish_texts)
    for path, text in (("/panel/join", "أرسل التسجيل"), ("/join", "انضم برمزك"), ("/panel/me", "أرسل الرابط"),
                       ("/panel/join/sent", "تفقّد بريدك الإلكتروني"), ("/panel/me/sent", "حاول مرة أخرى"),
                       ("/panel/left", "لقد غادرت اللجنة"), ("/panel/privacy", "كيف نتعامل مع بياناتك الشخصية")):
        assert text in arabic_page(client, path, swedish_texts), path
    # The terms are in Arabic too (a translation saying the Swedish text applies).
    response = client.get("/panel/terms")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and '<html lang="ar" dir="rtl">' in page
    before, rest = page.split('<div lang="ar" dir="rtl">', 1)
    chrome = before + rest.split('<p class="hint">', 1)[1]
    assert "النسخة 2026-11" in chrome and leftover_swedish(chrome, swedish_texts) == []


def test_the_members_own_pages_are_arabic(app, client, session, swedish_texts):
    member = make_member(session, language="ar")
    session.commit()
    with app.app_context():
        token = tokens.issue(db.session, db.session.get(Member, member.id), TokenPurpose.MANAGE,
                             timedelta(hours=1), now=utcnow())
        db.session.commit()
    assert "تسجيل الدخول" in arabic_page(client, f"/panel/me/{token}?lang=ar", swedish_texts)
    response = client.post(f"/panel/me/{token}", data={"csrf_token": csrf_token(client, f"/panel/me/{token}")})
    assert response.status_code == 302
    profile = arabic_page(client, "/panel/me/profile", swedish_texts)
    assert "احفظ التغييرات" in profile and "خذ استراحة" in profile and "تغيير البريد الإلكتروني" in profile
    assert "هل تريد مغادرة اللجنة؟" in arabic_page(client, "/panel/me/leave", swedish_texts)
    assert "أوقف رسائل اللجنة" in arabic_page(client, unsubscribe_path(app, member.id), swedish_texts)


def test_every_answering_state_is_arabic(client, session, swedish_texts):
    closed = make_survey(session, status="closed", closes_at=utcnow() - timedelta(days=1))
    later = make_survey(session, opens_at=utcnow() + timedelta(days=3))
    survey = make_survey(session)
    _i, closed_token = invite(session, closed, language="ar")
    _i, later_token = invite(session, later, language="ar")
    _i, token = invite(session, survey, language="ar")
    session.commit()
    assert "الاستبيان مغلق" in arabic_page(client, f"/s/{closed_token}", swedish_texts)
    assert "لم يُفتح الاستبيان بعد" in arabic_page(client, f"/s/{later_token}", swedish_texts)

    first = start(client, token)
    submit(client, first, VARDAG)
    submit(client, "/s/answer/biblioteken", BIBLIOTEKEN)
    assert "أرسل الإجابات" in arabic_page(client, "/s/answer/prioriteringar", swedish_texts)
    assert submit(client, "/s/answer/prioriteringar", PRIORITERINGAR).headers["Location"] == "/s/thanks"
    assert "شكرًا على إجاباتك" in arabic_page(client, "/s/thanks", swedish_texts)
    assert "لقد أجبت من قبل" in arabic_page(client, f"/s/{token}", swedish_texts)


def test_the_link_pages_follow_the_residents_language(client, session):
    assert '<html lang="ar" dir="rtl">' in client.get("/panel/join?lang=ar").get_data(as_text=True)
    invalid = client.get("/s/" + "x" * 43)
    assert invalid.status_code == 404
    page = invalid.get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page and "رابط الاستبيان لا يعمل" in page
    missing = client.get("/panel/no-such-page").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in missing and "الصفحة غير موجودة" in missing


def test_the_browser_language_chooses_arabic_on_resident_pages_only(client):
    headers = {"Accept-Language": "ar,en;q=0.5"}
    assert '<html lang="ar" dir="rtl">' in client.get("/", headers=headers).get_data(as_text=True)
    staff = client.get("/staff/login", headers=headers).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in staff


# ---------------------------------------------------------------- staff pages


def test_staff_pages_refuse_arabic(client):
    page = client.get("/staff/login?lang=ar").get_data(as_text=True)
    assert '<html lang="sv" dir="ltr">' in page and "العربية" not in page
    # Arabic chosen on a resident page does not follow the resident's browser onto staff pages.
    client.get("/panel/join?lang=ar")
    page = client.get("/staff/login").get_data(as_text=True)
    assert '<html lang="sv" dir="ltr">' in page and "لجنة المواطنين" not in page
    assert "Hoppa till innehållet" in page
    # ... and is still there on the next resident page.
    assert '<html lang="ar" dir="rtl">' in client.get("/").get_data(as_text=True)


def test_logged_in_staff_pages_stay_swedish_with_lang_ar(client, session):
    admin = make_staff(session, "admin")
    session.commit()
    with client.session_transaction() as cookie:  # logged in as the districts tests do
        cookie["_user_id"] = admin.get_id()
        cookie["_fresh"] = True
    for path in ("/staff/?lang=ar", "/staff/districts/?lang=ar", "/committee/reports?lang=ar"):
        response = client.get(path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        assert '<html lang="sv" dir="ltr">' in page and "العربية" not in page, path
