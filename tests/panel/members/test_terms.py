"""The terms in the resident's language: Arabic residents read the terms they accept in Arabic
(a translation that says the Swedish text applies); a language without a text falls back to
Swedish, then English; the version a member accepts is the same whatever language they read."""

from __future__ import annotations

import re

from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import select

from panel.members import terms
from panel.models import Consent, Member
from tests.factories import make_district
from tests.panel.members.support import sign_up

SWEDISH_APPLIES = "النص السويدي هو النص الذي يُعمل به"


def text_part(page: str) -> str:
    """The terms' own text on the page (the element naming its language)."""
    return re.search(r'<div lang="[a-z]+" dir="[a-z]+">(.*?)</div>', page, re.S).group(0)


def test_an_arabic_page_shows_the_terms_in_arabic_saying_the_swedish_text_applies(client):
    page = client.get("/panel/terms?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    text = text_part(page)
    assert text.startswith('<div lang="ar" dir="rtl">')
    assert "شروط لجنة المواطنين" in text and SWEDISH_APPLIES in text
    # The notice comes first, right under the heading.
    assert text.index(SWEDISH_APPLIES) < text.index("<h2>")
    assert "Villkor för medborgarpanelen" not in page and "Terms of the citizen panel" not in page
    # Every section of the Swedish text is there.
    swedish = text_part(client.get("/panel/terms?lang=sv").get_data(as_text=True))
    assert text.count("<h2>") == swedish.count("<h2>") and text.count("<li>") == swedish.count("<li>")
    # The figures come from the configuration, as in the Swedish text.
    assert f'{client.application.config["PANEL_CONFIRM_HOURS"]} ساعة' in text


def test_swedish_and_english_pages_keep_their_texts(client):
    assert text_part(client.get("/panel/terms?lang=sv").get_data(as_text=True)).startswith('<div lang="sv" dir="ltr">')
    english = text_part(client.get("/panel/terms?lang=en").get_data(as_text=True))
    assert english.startswith('<div lang="en" dir="ltr">') and "Terms of the citizen panel" in english


def test_a_language_without_a_text_falls_back_to_swedish_then_english(app, monkeypatch):
    with app.app_context():
        assert terms.text_language(terms.CURRENT, "fa") == "sv"
        assert terms.text_language(terms.CURRENT, "ar") == "ar"
        # A later version written only in English (and Arabic missing): English for an Arabic page.
        monkeypatch.setitem(terms.VERSIONS, "2099-01", terms.VERSIONS[terms.CURRENT])
        monkeypatch.setattr(app.jinja_env, "loader", ChoiceLoader([
            DictLoader({"members/terms/2099-01.en.html": "<h1>Terms</h1>"}), app.jinja_env.loader]))
        assert terms.text_language("2099-01", "ar") == "en"
        assert terms.template_for("2099-01", "sv") == "members/terms/2099-01.en.html"


def test_an_arabic_sign_up_accepts_the_same_terms_version(client, session):
    home = make_district(session)
    session.commit()
    assert client.get("/panel/join?lang=ar").status_code == 200
    response = sign_up(client, home, language="ar")
    assert response.status_code == 302
    member = session.scalars(select(Member)).one()
    assert member.language == "ar"
    assert session.scalars(select(Consent.terms_version).where(Consent.member_id == member.id)).all() == [terms.CURRENT]
    page = client.get(f"/panel/terms/{terms.CURRENT}").get_data(as_text=True)  # still Arabic (remembered)
    assert SWEDISH_APPLIES in page
