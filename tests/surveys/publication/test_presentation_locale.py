"""Published reports in the reader's language: suppression reasons, numbers, one chart drawing,
and the feedback emails stored once per language."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from panel.models import OutboxMessage
from panel.models.outbox import OutboxBody
from surveys.publication import services
from surveys.publication.charts import question_chart, question_png
from surveys.publication.presentation import Cell, key_results, parse_reason, present, suppression_reason
from surveys.publication.suppression import SUPPRESSED
from tests.surveys.publication.pdftext import pdf_text
from tests.surveys.publication.test_publication import _dispatch, _publish

SVG = "{http://www.w3.org/2000/svg}"


def _hidden_rows(report):
    return [r for q in report.document["questions"] for r in q["weighted"] if r["flag"] == SUPPRESSED]


# ---------------------------------------------------------------- suppression reasons


def test_reason_codes_and_the_swedish_text_of_older_versions_are_both_read(app):
    assert parse_reason("primary:5") == ("primary", 5)
    assert parse_reason("secondary:7") == ("secondary", 7)
    # versions published before the codes stored these sentences; published versions are immutable
    assert parse_reason("dold: färre än 6 svarande") == ("primary", 6)
    assert parse_reason("dold för att den annars skulle kunna räknas fram ur andra värden (färre än 5 svarande)") \
        == ("secondary", 5)
    assert parse_reason("something else") is None
    with app.test_request_context():
        said = "färre än 5 svarande här eller i en grupp som annars kunde räknas fram"
        assert suppression_reason("primary:5") == said
        assert suppression_reason("dold: färre än 6 svarande") == said.replace("5", "6")
        assert suppression_reason("") == "för få svarande"
        assert Cell(0.5, 0.4, 0.6, 10).reason == ""


def test_a_reader_cannot_tell_the_small_group_from_the_cells_hidden_to_protect_it(app):
    # Telling primary from secondary suppression would point at the small group (a Ja/Nej
    # question in a district of 40 where 3 said Ja: "Ja: fewer than 5", "Nej: hidden to
    # protect another" would give Ja 1-4 and Nej 36-39 away). Old versions' texts too.
    with app.test_request_context():
        for k in (3, 5):
            reasons = {suppression_reason(f"primary:{k}"), suppression_reason(f"secondary:{k}"),
                       Cell(None, None, None, 40, hidden=True, stored_reason=f"primary:{k}").reason,
                       Cell(None, None, None, 40, hidden=True, stored_reason=f"secondary:{k}").reason}
            assert len(reasons) == 1, reasons
        old = {suppression_reason("dold: färre än 5 svarande"),
               suppression_reason("dold för att den annars skulle kunna räknas fram ur andra värden (färre än 5 svarande)")}
        assert len(old) == 1
    with app.test_request_context("/?lang=en"):
        assert suppression_reason("primary:5") == suppression_reason("secondary:5")


def test_pages_and_pdf_say_why_a_value_is_hidden(app, session, fielded, committee, client):
    result = _publish(app, session, fielded)
    assert {r["reason"] for r in _hidden_rows(result.report)} <= {"primary:5", "secondary:5"}
    html = client.get(f"/committee/reports/{fielded.survey.id}").get_data(as_text=True)
    said = "en grupp med färre än 5 svarande på frågan, eller ett svar som färre än 5 (men minst en) har valt"
    assert said in html and 'class="suppressed" href="#note-' in html
    public = client.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True)
    assert said in public
    pdf = pdf_text(client.get(f"/committee/reports/{fielded.survey.id}/versions/1/report.pdf").data)
    assert said in re.sub(r"\s+", " ", pdf.replace("\xa0", " "))


# ---------------------------------------------------------------- numbers by locale


def test_public_page_writes_numbers_in_the_readers_locale(app, session, fielded, client):
    _publish(app, session, fielded)
    swedish = client.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True)
    english = client.get(f"/resultat/{fielded.survey.id}?lang=en").get_data(as_text=True)
    assert re.search(r">\d+,\d\xa0%<", swedish) and not re.search(r"\d+\.\d%", swedish)
    assert re.search(r">\d+\.\d%<", english) and not re.search(r"\d+,\d\xa0%", english)
    # the chart's text alternative and its labels too
    svg = english[english.index("<svg"):english.index("</svg>") + 6]
    assert re.search(r"\d+\.\d%", svg) and not re.search(r"\d+,\d", svg)


def test_key_results_in_emails_have_one_decimal_like_the_pages(app, session, fielded):
    report = _publish(app, session, fielded).report
    with app.test_request_context():
        shown = present(report, "sv")
        top = max((row for row in shown.questions[0].rows if row.cell.shown), key=lambda row: row.cell.estimate)
        swedish = key_results(shown)[0]
        assert swedish.value == f"{top.cell.estimate * 100:.1f}".replace(".", ",") + "\xa0%"
        assert re.fullmatch(r"95\xa0% konfidensintervall \d+,\d\xa0%–\d+,\d\xa0%", swedish.margin), swedish.margin
        with force_locale("en"):
            english = key_results(present(report, "en"))[0]
        assert english.value == f"{top.cell.estimate * 100:.1f}%"
        assert re.search(r"\d+\.\d", english.margin)


def test_english_members_get_english_numbers_in_the_email(app, session, fielded, smtp_server):
    english = next(m for m in fielded.respondents if m.language == "en")
    _publish(app, session, fielded)
    _dispatch(app)
    text = smtp_server.to(english.email)[0].get_body(("plain",)).get_content()
    assert re.search(r": \d+\.\d% ", text) and not re.search(r"\d+,\d\xa0%", text)


# ---------------------------------------------------------------- one chart drawing


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_the_pdf_chart_is_the_page_chart_drawn_as_png(app, session, fielded):
    report = _publish(app, session, fielded).report
    with app.test_request_context():
        question = present(report, "sv").questions[0]
        svg = str(question_chart(question, "sv"))
        png = question_png(question, dpi=144)
    root = ET.fromstring(svg)
    _x, _y, width, height = (float(v) for v in root.get("viewBox").split())
    # same figure (size in points at 72 per inch), rasterised at 144 dpi
    assert _png_size(png) == (round(width * 2), round(height * 2))
    assert " style=" not in svg and "<style" not in svg and "<script" not in svg  # still CSP-safe
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert question.text in texts and "95\xa0% konfidensintervall" in texts


def test_a_hidden_value_is_drawn_as_dold_in_the_chart(app):
    from surveys.publication.presentation import QuestionResult, Row

    question = QuestionResult(key="q", text="Fråga", value_format="percent", base=None, breakdowns=[],
                              rows=[Row("Ja", Cell(0.6, 0.5, 0.7, 30)),
                                    Row("Nej", Cell(None, None, None, None, hidden=True, stored_reason="primary:5"))])
    with app.test_request_context():
        root = ET.fromstring(str(question_chart(question, "sv")))
        assert question_png(question)[:4] == b"\x89PNG"
    assert "dold" in [t.text for t in root.iter(f"{SVG}text")]
    assert "Nej: dold" in root.find(f"{SVG}desc").text


# ---------------------------------------------------------------- shared bodies


def test_feedback_emails_store_one_body_per_language(app, session, fielded, smtp_server):
    result = _publish(app, session, fielded, notify_all=True)
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "report_published")).all()
    assert len(rows) == result.emails > 2
    assert all(row.body_id is not None and row.body_text == "" and row.body_html == "" for row in rows)
    assert all(row.unsubscribe_link and row.headers == "" for row in rows)  # headers live on the body
    assert len({row.unsubscribe_link for row in rows}) == len(rows)  # each member's own link
    bodies = session.scalars(select(OutboxBody).where(OutboxBody.id.in_({row.body_id for row in rows}))).all()
    assert len(bodies) == 2  # Swedish and English, each stored once
    assert all("XXUNSUBSCRIBELINKXX" in body.body_text and "XXUNSUBSCRIBELINKXX" in body.headers for body in bodies)
    _dispatch(app)
    for row in rows[:3]:
        sent = smtp_server.to(row.to_address)[0]
        assert sent["List-Unsubscribe"] == f"<{row.unsubscribe_link}>"
        assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = sent.get_body(("plain",)).get_content()
        assert row.unsubscribe_link in text and "XXUNSUBSCRIBELINKXX" not in text
        html = sent.get_body(("html",)).get_content()
        assert "XXUNSUBSCRIBELINKXX" not in html
    assert session.scalar(select(func.count()).select_from(OutboxBody)) >= 2


@pytest.fixture
def fielded(session):
    from tests.surveys.publication.conftest import field_survey
    from tests.surveys.publication.test_publication import _answers

    result = field_survey(session, _answers())
    session.commit()
    return result
