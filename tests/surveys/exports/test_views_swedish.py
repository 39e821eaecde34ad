"""The export page, codebook and files speak Swedish: weighting notes in words with labels,
numbers in the locale, and missing answers of number questions told apart in the .sav."""

from __future__ import annotations

import re
from datetime import timedelta

import pyreadstat
from openpyxl import load_workbook

from panel.db import utcnow
from surveys.answering.models import SurveyResponse
from tests.surveys.exports.test_views import download
from tests.surveys.results.builders import make_population, make_survey

ENGLISH = ("Viktningen (analysis)", "respondents", "without population figures", "without targets", "'gender'",
           "uncovered")


def _survey_with_other_genders_and_missing_numbers(session):
    survey = make_survey(session, n_invited=240, seed=4, other_gender=0.08)
    make_population(session)
    now = utcnow()
    base = {"trygg": "yes", "transport": "bil", "betyg": 3, "prio": ["skola"],
            "nojd": {"parker": 3, "gator": 4}, "synpunkt": None}
    for answers in ({**base, "antal": None}, {**base, "antal": None}, dict(base), {**base, "antal": 0}):
        # skipped (None), skipped, not shown (no key), answered 0
        session.add(SurveyResponse(survey_id=survey.id, language="sv", submitted_at=now - timedelta(days=1),
                                   gender="kvinna", age_group="45-54", district_code="0980R001", answers=answers))
    session.commit()
    return survey


def _swedish(text: str) -> None:
    for english in ENGLISH:
        assert english not in text, english


def test_export_page_notes_are_swedish_with_labels_and_locale_numbers(analyst, session):
    survey = _survey_with_other_genders_and_missing_numbers(session)
    page = analyst.get(f"/staff/surveys/{survey.id}/export").get_data(as_text=True)
    notes = page[page.index("<h2>Vikter</h2>"):page.index("Vad filerna innehåller")]
    _swedish(notes)
    assert re.search(r"\d+ svarande har kön ”Annan / icke-binär”, som befolkningssiffrorna inte har", notes), notes
    assert "metod räfsning (iterativ proportionell anpassning)" in notes and "metod rake" not in notes
    assert "marginaler kön, åldersgrupp" in notes and "age_group" not in notes
    assert not re.search(r"\d\.\d", notes), notes  # decimal commas: "1,417", not "1.417"
    assert re.search(r"Designeffekt \(Kish\) \d,\d{3}, effektivt antal svar \d+,\d", notes), notes


def test_sav_number_questions_tell_skipped_from_not_shown_and_the_note_is_exact(analyst, session, tmp_path):
    survey = _survey_with_other_genders_and_missing_numbers(session)
    response = download(analyst, survey.id, format="sav")
    assert response.status_code == 200
    path = tmp_path / "svar.sav"
    path.write_bytes(response.data)
    frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    notes = " ".join(meta.notes)
    # antal (min 0): -1 = skipped, -2 = not shown, user-missing, distinct from the answer 0
    assert meta.variable_value_labels["antal"][-1.0] == "Ej besvarad"
    assert meta.variable_value_labels["antal"][-2.0] == "Visades inte"
    assert {(r["lo"], r["hi"]) for r in meta.missing_ranges["antal"]} == {(-1.0, -1.0), (-2.0, -2.0)}
    counts = frame["antal"].value_counts()
    assert counts[-1.0] >= 2 and counts[-2.0] >= 1 and counts[0.0] >= 1
    assert frame["antal"].isna().sum() == 0
    # the file note says which variables cannot tell the two apart, and antal is not one of them
    uncoded = re.search(r"Utan koder: ([^.]*)\.", notes).group(1)
    assert "synpunkt" in uncoded and "antal" not in uncoded
    # without user-missing values SPSS readers see them as missing
    plain, _meta = pyreadstat.read_sav(str(path))
    assert plain["antal"].isna().sum() == counts[-1.0] + counts[-2.0]


def test_sav_notes_are_swedish(analyst, session, tmp_path):
    survey = _survey_with_other_genders_and_missing_numbers(session)
    path = tmp_path / "svar.sav"
    path.write_bytes(download(analyst, survey.id, format="sav").data)
    _frame, meta = pyreadstat.read_sav(str(path), metadataonly=True)
    notes = " ".join(meta.notes)
    _swedish(notes)
    assert "svarande har kön ”Annan / icke-binär”" in notes and "räfsning" in notes


def test_xlsx_and_csv_codebooks_are_swedish(analyst, session, tmp_path):
    survey = _survey_with_other_genders_and_missing_numbers(session)
    response = download(analyst, survey.id, format="xlsx")
    path = tmp_path / "svar.xlsx"
    path.write_bytes(response.data)
    cells = [str(row[0]) for row in load_workbook(path)["Kodbok"].iter_rows(values_only=True) if row and row[0]]
    text = " ".join(cells)
    _swedish(text)
    assert "svarande har kön ”Annan / icke-binär”" in text
    assert "Exporterad" in text and "(svensk tid)" in text
    codebook = download(analyst, survey.id, format="codebook").data.decode("utf-8-sig")
    _swedish(codebook)
    assert "räfsning" in codebook
    antal = next(line for line in codebook.splitlines() if line.startswith("antal;"))
    assert "-1 = Ej besvarad; -2 = Visades inte" in antal and "Tomt" not in antal


def test_codebook_page_is_swedish(analyst, session):
    survey = _survey_with_other_genders_and_missing_numbers(session)
    page = analyst.get(f"/staff/surveys/{survey.id}/export/codebook").get_data(as_text=True)
    about = page[page.index("Om filen"):page.index("<h2>Variabler</h2>")]
    _swedish(about)
    assert "svarande har kön" in about and "Utan koder:" in about


def test_trimming_bounds_are_written_as_the_analyst_gave_them(app):
    from flask_babel import force_locale

    from surveys.exports.weights import _decimal
    with app.test_request_context(), force_locale("sv"):
        assert [_decimal(v) for v in (0.125, 0.0005, 0.3, 3.0, None)] == ["0,125", "0,0005", "0,3", "3", "–"]
