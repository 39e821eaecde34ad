"""The analyst's report speaks Swedish: weighting warnings, method and variable names,
numbers and times in the page's locale (English on English pages)."""

from __future__ import annotations

import copy
import re

from analysis.weighting import ValidationIssue
from surveys.results import document as doc
from tests.surveys.results.builders import make_population, make_survey

ENGLISH_WARNING_WORDS = ("Viktningen (analysis)", "respondents", "without population figures", "without targets",
                         "merge small categories", "margin '", "uncovered")


def _notice(page: str) -> str:
    return page[page.index("Att tänka på"):page.index('id="svar"')]


def _weighting_section(page: str) -> str:
    return page[page.index('id="viktning"'):page.index('id="fragor"')]


def test_weighting_warnings_are_swedish_with_labels_not_english_with_variable_names(analyst, session):
    survey = make_survey(session, n_invited=300, seed=4, other_gender=0.08)  # some answer gender "annan"
    make_population(session)
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/report").get_data(as_text=True)
    notice = _notice(page)
    assert re.search(r"\d+ svarande har kön ”Annan / icke-binär”, som befolkningssiffrorna inte har\. De räknas med "
                     r"i de andra variablernas totaler", notice), notice
    for english in ENGLISH_WARNING_WORDS:
        assert english not in notice, english
    assert "'gender'" not in notice and "annan'" not in notice


def test_method_and_variables_are_named_in_words_and_numbers_and_times_in_the_locale(analyst, session):
    survey = make_survey(session, n_invited=300, seed=4)
    make_population(session)
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/report").get_data(as_text=True)
    weighting = _weighting_section(page)
    assert "<dd>räfsning (iterativ proportionell anpassning)</dd>" in weighting
    variables = re.search(r"<dt>Variabler</dt><dd>([^<]*)</dd>", weighting).group(1)
    assert "gender" not in variables and "age_group" not in variables
    assert "kön" in variables and "åldersgrupp" in variables
    assert "Marginal kön" in weighting and "Marginal gender" not in weighting
    # no ISO time, no decimal point in a relative error
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", page)
    assert re.search(r"Beräknad \d{4}-\d\d-\d\d \d\d:\d\d med programversion", page)
    assert not re.search(r"avvikelse \d\.\d", weighting)
    assert not re.search(r"\d\.\d", re.sub(r"<[^>]*>|programversion [^ ]+", " ", weighting))

    english = analyst.get(f"/staff/surveys/{survey.id}/report?lang=en").get_data(as_text=True)
    assert "raking (iterative proportional fitting)" in english
    assert "age group" in _weighting_section(english)


def test_the_report_time_is_swedish_time(app):
    from surveys.results.views import when_filter

    with app.test_request_context("/?lang=sv"):
        assert when_filter("2026-11-23T07:49:34.790073Z") == "2026-11-23 08:49"
        assert when_filter("2026-07-01T07:00:00Z") == "2026-07-01 09:00"  # summer time


def test_a_weighting_note_keeps_its_code_and_data_through_a_copy_of_the_document():
    issue = ValidationIssue(kind="uncovered", severity="resolved", message="2 respondents ...", variable="gender",
                            categories=("annan",), count=2, params={"counts": {"annan": 2}})
    note = doc.weighting_note(issue)
    assert isinstance(note, str) and note.startswith("Viktningen (analysis): 2 respondents")
    copied = copy.deepcopy(note)
    assert copied.code == "weighting.uncovered" and copied.params["count"] == 2
    assert copied.params["counts"] == {"annan": 2}


def test_every_kind_of_weighting_finding_is_said_in_swedish_with_labels(app):
    import pandas as pd

    from analysis import weight
    from surveys.results.views import note_text

    rows = [(g, a) for g in ("kvinna", "man") for a in ("16-24", "25-34", "35-44", "45-54")
            for _ in range(2 if (g, a) == ("man", "45-54") else 6)]
    rows += [("annan", "16-24"), ("okänd", "25-34"), (None, "25-34")]
    respondents = pd.DataFrame(rows, columns=["gender", "age_group"])
    cross = pd.Series([100.0] * 8, index=pd.MultiIndex.from_product(
        [["kvinna", "man"], ["16-24", "25-34", "35-44", "45-54"]], names=["gender", "age_group"]))
    ages = pd.Series([200.0, 200.0, 200.0, 200.0], index=["16-24", "25-34", "35-44", "45-54"])
    result = weight(respondents, {("gender", "age_group"): cross, "age_group": ages}, "rake",
                    uncovered={"gender": ["annan"]}, drop_unmatched=True, min_cell_size=5,
                    collapse={"age_group": [["16-24", "25-34"]]})
    notes = [doc.weighting_note(i) for i in result.report.issues if i.severity != "error"]
    kinds = {n.code for n in notes}
    assert {"weighting.uncovered", "weighting.untargeted", "weighting.missing", "weighting.collapsed",
            "weighting.tiny_cell"} <= kinds, kinds
    labels = {"age_group": {"16-24": {"sv": "16–24 år", "en": "16–24 years"}}}  # "25-34": no label
    with app.test_request_context("/?lang=sv"):
        texts = {n.code: note_text(n, labels) for n in notes}
    for code, text in texts.items():
        assert not any(word in text for word in ENGLISH_WARNING_WORDS), (code, text)
        assert "gender" not in text and "age_group" not in text, (code, text)
    assert texts["weighting.untargeted"] == "1 svarande har kön ”okänd”, som saknar befolkningssiffror, och får vikten 0."
    assert texts["weighting.missing"] == "1 svarande saknar uppgift om kön och får vikten 0."
    assert texts["weighting.uncovered"].startswith("1 svarande har kön ”Annan / icke-binär”, som")
    assert "åldersgrupp" in texts["weighting.collapsed"] and "”16–24 år”, ”25-34”" in texts["weighting.collapsed"]
    assert texts["weighting.tiny_cell"].startswith("Marginalen kön × åldersgrupp: ")
    assert "1 grupp har färre än 5 svarande (”Man, 45-54”)" in texts["weighting.tiny_cell"]


def test_why_an_estimate_is_missing_is_said_in_the_page_language(app):
    from flask import render_template_string

    row = doc.ResultRow("ja", "district", "0980R003", {"sv": "Slite"}, None, None, None, None, "logit", None, None,
                        0, 0, None, flag="no_answers",
                        reason="nobody in this domain answered (with a non-zero weight)")
    template = "{% from 'results/_macros.html' import estimate_cell %}{{ estimate_cell(row, 'share') }}"
    with app.test_request_context("/"):
        swedish = render_template_string(template, row=row)
    assert "ingen i gruppen besvarade frågan (med en vikt över noll)" in swedish and "nobody" not in swedish
    with app.test_request_context("/?lang=en"):
        english = render_template_string(template, row=row)
    assert "nobody in the group answered the question (with a weight above zero)" in english
    unknown = doc.ResultRow("ja", "district", "x", {"sv": "x"}, None, None, None, None, "logit", None, None, 0, 0,
                            None, flag="some_future_code", reason="a reason from a newer version")
    with app.test_request_context("/"):
        assert "a reason from a newer version" in render_template_string(template, row=unknown)
