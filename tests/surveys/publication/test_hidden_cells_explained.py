"""Hidden cells are a short marker, explained once per table, with the rule's exact words.

A report with small districts and a small "vet ej" group is published and read as the committee
(page, PDF) and the public read it: every hidden cell says "dold" with a footnote mark and a link
to the note under its own table; the long reason is not repeated cell by cell.
"""

from __future__ import annotations

import re
from html import unescape

from tests.surveys.publication.test_report_says_what_was_done import (  # noqa: F401  (fixture)
    _main,
    _pdf,
    _publish,
    _text,
    fielded,
)
from surveys.results.document import OVERALL

REASON_1 = "en grupp med färre än 5 svarande på frågan, eller ett svar som färre än 5 (men minst en) har valt"
REASON_2 = "Det skulle annars gå att räkna fram ett sådant värde ur de andra värdena och summorna"


def _tables(html: str) -> list[tuple[str, str, str]]:
    """(the table's attributes, the table, what follows it up to the next table or section)."""
    parts = re.findall(r"<table([^>]*)>(.*?)</table>(.*?)(?=<table|</section>)", _main(html), re.S)
    assert parts
    return parts


def test_each_hidden_cell_is_a_short_marker_linked_to_one_note_under_its_table(
        app, session, fielded, committee, client):  # noqa: F811
    _publish(app, session, fielded, dont_know=3)
    for path in (f"/committee/reports/{fielded.survey.id}", f"/resultat/{fielded.survey.id}"):
        html = client.get(path).get_data(as_text=True)
        assert "här eller i en grupp som annars kunde räknas fram" not in html  # the old per-cell reason
        with_hidden = 0
        for attributes, table, after in _tables(html):
            markers = re.findall(r'<a class="suppressed" href="#([^"]+)">(.*?)</a>', table, re.S)
            notes = re.findall(r'<p class="table-note" id="([^"]+)">(.*?)</p>', after, re.S)
            if not markers:
                assert not notes and "aria-describedby" not in attributes, path
                continue
            with_hidden += 1
            # one note, right under the table, that every marker of this table points to
            assert len(notes) == 1, (path, notes)
            note_id, note = notes[0]
            assert {target for target, _ in markers} == {note_id}
            assert f'aria-describedby="{note_id}"' in attributes
            assert html.count(f'id="{note_id}"') == 1
            # the marker: a word, a mark screen readers skip, and where the explanation is
            for _target, marker in markers:
                assert _text(marker).strip() == "dold* (se förklaringen under tabellen)"
                assert '<sup aria-hidden="true">*</sup>' in marker
                assert '<span class="visually-hidden"> (se förklaringen under tabellen)</span>' in marker
            said = _text(note)
            if "Svarsfrekvens" in table:
                assert "färre än 5 inbjudna eller färre än 5 svarande" in said
            else:  # both reasons, once
                assert REASON_1 in said and REASON_2 in said
                assert said.count("färre än 5 svarande") == 1
        assert with_hidden >= 3, path  # the district breakdowns and the small "vet ej"


def test_the_pdf_marks_hidden_cells_and_explains_them_once_per_table(app, session, fielded, committee, client):  # noqa: F811
    _publish(app, session, fielded, dont_know=3)
    pdf = _pdf(client, fielded.survey.id)
    flat = re.sub(r"\s+", " ", pdf)
    markers = pdf.count("dold*")
    notes = flat.count("* ”dold”: värdet visas inte")
    assert "här eller i en grupp som annars kunde räknas fram" not in pdf
    assert markers > notes >= 3
    assert flat.count(REASON_1) == notes and flat.count(REASON_2) == notes


def test_the_report_says_that_small_answer_counts_are_hidden_too(app, session, fielded, committee, client):  # noqa: F811
    """3 "vet ej" of 60 is hidden though the question's base is large: the text says so."""
    report = _publish(app, session, fielded, dont_know=3)
    question = next(q for q in report.document["questions"] if q["key"] == "trygghet")
    dont_know = next(r for r in question["dont_know"] if r["domain_variable"] == OVERALL)
    assert dont_know["flag"] == "suppressed"
    html = client.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True)
    intro = _text(re.search(r"</ul>\s*<p>(.*?)</p>", _main(html), re.S).group(1))
    assert ("Värden som bygger på färre än 5 svarande visas inte: grupper med färre än 5 svarande på frågan "
            "och svar som färre än 5 (men minst en) har valt.") in intro
    assert "Grupper med färre än 5 svarande visas inte" not in html
    assert "svar som färre än 5 (men minst en) har valt" in re.sub(r"\s+", " ", _pdf(client, fielded.survey.id))


def test_the_n_column_is_named_for_the_respondents_to_the_question(app, session, fielded, committee, client):  # noqa: F811
    _publish(app, session, fielded)
    for lang in ("sv", "en", "ar"):
        response = client.get(f"/resultat/{fielded.survey.id}?lang={lang}")
        assert response.status_code == 200
        html = unescape(response.get_data(as_text=True))
        assert "Antal svar (n)" not in html
        if lang == "sv":
            assert html.count('<th scope="col">Svarande på frågan (n)</th>') == 3  # three questions
    pdf = re.sub(r"\s+", " ", _pdf(client, fielded.survey.id))
    assert "Antal svar (n)" not in pdf and pdf.count("Svarande på frågan (n)") == 3
