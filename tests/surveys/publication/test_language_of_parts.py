"""The published report in a language the survey has no texts in (WCAG 3.1.2, language of parts).

A survey written only in Swedish, read on the Arabic (or English) public page, shows its own
Swedish texts: each such part carries lang="sv" (and dir="ltr" inside the right-to-left page),
the breakdowns' fixed vocabulary (gender, age bands) is translated instead, and nothing
Swedish is left unmarked. Arabic members get the feedback emails in Arabic, with the same marks.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from flask_babel import force_locale

from surveys.publication import services
from surveys.publication.pdf import report_pdf
from surveys.publication.presentation import Text, in_language, lang_attributes, present
from tests.panel.test_i18n_arabic import leftover_swedish
from tests.surveys.publication.conftest import field_survey
from tests.surveys.publication.support import document_from_answers, park_answers
from tests.surveys.publication.test_publication import _answers, _dispatch

DECISION = "Nämnden beslutade att bygga parken 2027."
# Every text of the survey and its report that a Swedish-only survey shows in Swedish.
SURVEY_SWEDISH = ["Vill du ha en park?", "Hur många besök?", "Ja", "Nej", "Vet ej", "Alla i panelen bjöds in.",
                  "Andelarna är inte vägda.", "Parken", DECISION]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class UnmarkedText(HTMLParser):
    """The body's text outside any element whose lang differs from the page's (and outside SVG)."""

    def __init__(self, page_language: str) -> None:
        super().__init__()
        self.page_language = page_language
        self.stack: list[tuple[str, bool]] = []  # (tag, marked or inside marked)
        self.texts: list[str] = []
        self.in_body = False

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        if tag in VOID:
            return
        lang = dict(attrs).get("lang")
        outer = self.stack[-1][1] if self.stack else False
        self.stack.append((tag, outer or tag == "svg" or (lang is not None and lang != self.page_language)))

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self.in_body and data.strip() and not (self.stack and self.stack[-1][1]):
            self.texts.append(data.strip())


def main(page: str) -> str:
    """The page's own content: what is in <main> (the header's language switch names each language in itself)."""
    return page.split("<main", 1)[1].split("</main>", 1)[0]


def unmarked(page: str, language: str) -> list[str]:
    parser = UnmarkedText(language)
    parser.feed(page)
    return parser.texts


def swedish_only(data):
    """The document's data with every {"sv": ..., "en": ...} text reduced to Swedish."""
    if isinstance(data, dict):
        if data and set(data) <= {"sv", "en"} and "sv" in data and all(isinstance(v, str) for v in data.values()):
            return {"sv": data["sv"]}
        return {key: swedish_only(value) for key, value in data.items()}
    if isinstance(data, list):
        return [swedish_only(value) for value in data]
    return data


def _publish(app, session, *, swedish: bool, arabic_member: bool = False):
    fielded = field_survey(session, _answers())
    if arabic_member:
        fielded.respondents[2].language = "ar"
    session.commit()
    document = document_from_answers(park_answers(), survey_id=fielded.survey.id).to_dict()
    with app.app_context():
        survey = session.merge(fielded.survey)
        result = services.publish(session, survey, by=None, expected_version=1,
                                  document=swedish_only(document) if swedish else document)
        services.add_decision(session, survey, text=DECISION, by=None)
        session.commit()
    return fielded, result.report


def test_the_arabic_page_marks_the_swedish_survey_texts_and_translates_the_breakdowns(app, client, session):
    fielded, _report = _publish(app, session, swedish=True)
    page = client.get(f"/resultat/{fielded.survey.id}?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page
    sv = 'lang="sv" dir="ltr"'
    assert f'<h1>النتائج: <span {sv}>Parken</span></h1>' in page
    assert f'<h3 id="q-park"><span {sv}>Vill du ha en park?</span></h3>' in page
    assert f'<th scope="row"><span {sv}>Ja</span></th>' in page
    assert f'<p {sv}>Alla i panelen bjöds in.</p>' in page  # the methods text, frozen in sv/en
    assert f'<div {sv}><p>{DECISION}</p>' in page
    assert f'<figure class="chart" {sv}>' in page  # the chart's name and labels are the survey's
    # Fixed vocabulary in Arabic from the catalog, never the stored codes or Swedish words.
    assert "امرأة" in page and "رجل" in page and "16–29 سنة" in page and "65+ سنة" in page
    assert "المتوسط" in page  # the mean row of the number question
    texts = unmarked(page, "ar")
    assert not {"kvinna", "man", "Kvinna", "Man", "16-29", "16–29 år", "Medelvärde"} & set(texts)
    left = [text for text in texts if any(swedish in text for swedish in SURVEY_SWEDISH)]
    assert left == []
    # Besides the municipality's name, district codes (no names in this document) and numbers
    # are all that is not Arabic.
    latin = [t.replace(app.config["PANEL_MUNICIPALITY"], "").replace(_report.code_version, "") for t in texts]
    assert [t for t in latin if re.search(r"[a-zåäö]{3,}", t, re.IGNORECASE)] == []


def test_the_english_page_marks_swedish_parts_without_changing_direction(app, client, session):
    fielded, _report = _publish(app, session, swedish=True)
    page = client.get(f"/resultat/{fielded.survey.id}?lang=en").get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in page
    assert '<h3 id="q-park"><span lang="sv">Vill du ha en park?</span></h3>' in page
    assert 'dir="' not in main(page)
    # The methods text exists in English: shown unmarked.
    assert "<p>Everyone in the panel was invited.</p>" in page and "Alla i panelen bjöds in." not in page
    texts = unmarked(page, "en")
    assert [text for text in texts if any(swedish in text for swedish in SURVEY_SWEDISH)] == []


def test_a_survey_with_english_texts_is_shown_unmarked_on_the_english_page(app, client, session):
    fielded, _report = _publish(app, session, swedish=False)
    page = client.get(f"/resultat/{fielded.survey.id}?lang=en").get_data(as_text=True)
    assert '<h3 id="q-park">Do you want a park?</h3>' in page
    assert '<th scope="row">Yes</th>' in page and "Vill du ha en park?" not in page
    assert "<h1>Results: Parken (en)</h1>" in page or "<h1>Resultat: Parken (en)</h1>" in page
    # Only the decision (written in Swedish) carries another language -- and the age bands
    # while the English catalog lacks "%(band)s år": shown in Swedish, and marked so.
    content = main(page)
    assert content.count(f'<div lang="sv"><p>{DECISION}</p>') == 1
    spans = re.findall(r'<span lang="sv">([^<]*)</span>', content)
    assert all(span.endswith(" år") or span.endswith(" years") for span in spans)
    assert content.count('lang="sv"') == 1 + len(spans)


def test_the_swedish_page_marks_nothing(app, client, session):
    fielded, _report = _publish(app, session, swedish=True)
    page = client.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True)
    assert 'lang="' not in main(page) and 'dir="' not in main(page)
    assert "Kvinna" in page and "16–29 år" in page


def test_the_arabic_page_has_no_swedish_interface_text(app, client, session):
    from panel import catalogs

    arabic = catalogs.read_catalog("ar")
    chrome = [m.id for m in arabic if m.id and m.string and len(m.id) >= 8 and "%" not in m.id and m.string != m.id]
    fielded, _report = _publish(app, session, swedish=True)
    page = client.get(f"/resultat/{fielded.survey.id}?lang=ar").get_data(as_text=True)
    assert leftover_swedish(" ".join(unmarked(page, "ar")), chrome) == []


def test_marking_helpers(app):
    with app.test_request_context():
        assert str(lang_attributes(Text("Ja", "sv"), "ar")) == ' lang="sv" dir="ltr"'
        assert str(lang_attributes(Text("Ja", "sv"), "en")) == ' lang="sv"'
        assert str(lang_attributes(Text("نعم", "ar"), "sv")) == ' lang="ar" dir="rtl"'
        assert str(lang_attributes(Text("Ja", "sv"), "sv")) == ""
        assert str(lang_attributes(Text("Visby", None), "ar")) == ""  # a proper name
        assert str(in_language(Text("<b>", "sv"), "ar")) == '<span lang="sv" dir="ltr">&lt;b&gt;</span>'
        assert str(in_language("plain", "ar")) == "plain"


def test_an_untranslated_fixed_label_says_it_is_swedish(app, session):
    """A fixed label the catalog lacks comes out in Swedish, and is marked so."""
    fielded, report = _publish(app, session, swedish=True)
    with app.test_request_context(), force_locale("ar"):
        shown = present(report, "ar")
        gender = next(t for t in shown.questions[0].breakdowns if t.variable == "gender")
        assert [(d, d.lang) for d in gender.domains] == [("امرأة", "ar"), ("رجل", "ar")]
        ages = next(t for t in shown.questions[0].breakdowns if t.variable == "age_group")
        assert all(d.lang == "ar" and d.endswith("سنة") for d in ages.domains)
        assert shown.questions[0].text.lang == "sv" and shown.methods.lang == "sv"
    with app.test_request_context(), force_locale("de"):  # no catalog at all: the Swedish msgids
        shown = present(report, "de")
        gender = next(t for t in shown.questions[0].breakdowns if t.variable == "gender")
        assert [(d, d.lang) for d in gender.domains] == [("Kvinna", "sv"), ("Man", "sv")]


def test_the_pdf_of_an_arabic_presentation_is_made(app, session):
    fielded, report = _publish(app, session, swedish=True)
    with app.test_request_context(), force_locale("ar"):
        body = report_pdf(present(report, "ar"), services.decisions(session, fielded.survey.id), municipality="Gotland")
    assert body.startswith(b"%PDF")


def test_an_arabic_member_gets_the_feedback_emails_in_arabic(app, session, smtp_server):
    fielded, report = _publish(app, session, swedish=True, arabic_member=True)
    _dispatch(app)
    arabic = fielded.respondents[2]
    published, decided = sorted(smtp_server.to(arabic.email), key=lambda m: "القرار" in m["Subject"])
    assert published["Subject"] == "نتيجة الاستبيان: Parken"
    html = published.get_body(("html",)).get_content()
    text = published.get_body(("plain",)).get_content()
    assert '<html lang="ar" dir="rtl">' in html
    assert '<p style="font-size:18px;font-weight:bold;" lang="sv" dir="ltr">Parken</p>' in html
    assert re.search(r'<li><span lang="sv" dir="ltr">Vill du ha en park\?</span>: <strong>[^<]+</strong> '
                     r'أجاب <span lang="sv" dir="ltr">(Ja|Nej)</span>', html)
    assert f"/resultat/{fielded.survey.id}?lang=ar" in text
    assert "Hälsningar" not in text and "Tack för att du" not in text
    assert [t for t in unmarked(html, "ar") if any(s in t for s in SURVEY_SWEDISH)] == []
    # The decision's follow-up: Arabic, with the Swedish decision marked.
    assert decided["Subject"] == "القرار بعد الاستبيان: Parken"
    decision_html = decided.get_body(("html",)).get_content()
    assert f'lang="sv" dir="ltr"><p>{DECISION}</p>' in decision_html
    assert [t for t in unmarked(decision_html, "ar") if any(s in t for s in SURVEY_SWEDISH)] == []
    # Swedish members still get Swedish, unmarked.
    swedish = smtp_server.to(fielded.respondents[3].email)[0].get_body(("html",)).get_content()
    assert '<html lang="sv">' in swedish and 'lang="sv" dir' not in swedish

