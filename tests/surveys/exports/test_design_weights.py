"""Exports of an equal-allocation sample carry the design weights 1/π as ``designvikt``.

Beside ``vikt`` (calibrated to the population) when the report can weight, alone when it
cannot; the codebook says which weight is which, and weighting the file by
``designvikt`` gives the report's design-weighted figures. Read back as the analyst's
programs read them: CSV with the csv module, Excel with openpyxl, SPSS with pyreadstat.
"""

from __future__ import annotations

import io

import numpy as np
import pyreadstat
import pytest
from openpyxl import load_workbook

from surveys.results import services as results
from surveys.results.services import ReportSettings
from tests.surveys.exports.test_views import csv_rows, download
from tests.surveys.results.builders import make_equal_allocation, make_population, make_survey

LABEL = "Designvikt (1/sannolikheten att komma med i urvalet)"


@pytest.fixture
def equal_sample(session):
    survey = make_survey(session, n_invited=300, seed=61)
    weight_of = make_equal_allocation(session, survey)
    session.commit()
    return survey, weight_of


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _key(row: dict) -> tuple:
    return row["kon"], None if row["aldersgrupp"] in ("", "-") else row["aldersgrupp"], row["omrade"]


def test_without_population_figures_the_export_is_design_weighted_and_says_so(analyst, session, equal_sample,
                                                                              tmp_path):
    survey, weight_of = equal_sample
    page = analyst.get(f"/staff/surveys/{survey.id}/export").get_data(as_text=True)
    assert "Ovägd export" not in page
    assert "Designviktad export: variabeln vikt (viktning till befolkningen) finns inte i filen" in page
    assert "designvikt = urvalets designvikt, 1/sannolikheten att komma med i urvalet" in page
    assert "variabeln designvikt" in page

    rows = csv_rows(download(analyst, survey.id).data)
    assert "vikt" not in rows[0] and "designvikt" in rows[0]
    d = np.array([_number(row["designvikt"]) for row in rows])
    for row, weight in zip(rows, d, strict=True):
        assert weight == pytest.approx(weight_of[_key(row)], rel=1e-12)
    assert len(set(d)) > 1
    # weighting the file by designvikt gives the report's "Designviktat" figure
    document = results.build_report(session, survey)
    assert document.weighting.status == "design_weighted"
    yes = np.array([row["trygg"] == "1" for row in rows])
    answered = np.array([row["trygg"] in ("0", "1") for row in rows])
    share = next(r for r in document.question("trygg").rows(weighted=True) if r.category == "yes").estimate
    assert float((d * yes).sum() / (d * answered).sum()) == pytest.approx(share, rel=1e-12)

    codebook = download(analyst, survey.id, format="codebook", separator="comma").data.decode("utf-8-sig")
    assert "Designviktad export" in codebook and "Ovägd export" not in codebook
    assert "designvikt," + LABEL in codebook.replace('"', "")

    sav = tmp_path / "svar.sav"
    sav.write_bytes(download(analyst, survey.id, format="sav").data)
    frame, meta = pyreadstat.read_sav(str(sav))
    assert meta.column_names_to_labels["designvikt"] == LABEL
    assert meta.variable_measure["designvikt"] == "scale" and "vikt" not in meta.column_names
    assert sorted(frame["designvikt"]) == pytest.approx(sorted(d), rel=1e-6)  # F12.6
    notes = " ".join(meta.notes)
    assert "Designviktad export" in notes and "Ovägd" not in notes

    workbook = load_workbook(io.BytesIO(download(analyst, survey.id, format="xlsx").data))
    header = next(workbook["Data"].iter_rows(values_only=True))
    assert "designvikt" in header and "vikt" not in header
    column = header.index("designvikt")
    values = [row[column] for row in workbook["Data"].iter_rows(min_row=2, values_only=True)]
    assert sorted(values) == pytest.approx(sorted(d), rel=1e-12)
    sheet = [str(cell) for row in workbook["Kodbok"].iter_rows(values_only=True) for cell in row if cell]
    assert any(cell.startswith("Designviktad export") for cell in sheet) and LABEL in sheet


def test_with_population_figures_both_weights_are_in_the_file_and_told_apart(analyst, session, equal_sample,
                                                                            tmp_path):
    survey, weight_of = equal_sample
    make_population(session)
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/export").get_data(as_text=True)
    assert "vikt är kalibrerad till befolkningen med designvikt som utgångsvikt" in page
    assert "designvikt = urvalets designvikt" in page and "Designviktad export" not in page

    rows = csv_rows(download(analyst, survey.id).data)
    assert {"vikt", "designvikt"} <= set(rows[0])
    weighting = results.weight_responses(session, survey, ReportSettings())
    vikt = [_number(row["vikt"]) for row in rows]
    assert sum(vikt) == pytest.approx(float(weighting.result.weights.sum()))
    for row in rows:
        assert _number(row["designvikt"]) == pytest.approx(weight_of[_key(row)], rel=1e-12)

    sav = tmp_path / "svar.sav"
    sav.write_bytes(download(analyst, survey.id, format="sav").data)
    frame, meta = pyreadstat.read_sav(str(sav))
    assert meta.column_names_to_labels["designvikt"] == LABEL and meta.column_names_to_labels["vikt"] == "Vikt"
    assert frame["vikt"].sum() == pytest.approx(sum(vikt), rel=1e-6)
    assert not np.allclose(frame["vikt"], frame["designvikt"])


def test_a_survey_without_design_weights_has_no_designvikt(analyst, session):
    survey = make_survey(session, n_invited=120, seed=62)  # the whole panel: π = 1
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/export").get_data(as_text=True)
    assert "Ovägd export" in page and "designvikt" not in page
    rows = csv_rows(download(analyst, survey.id).data)
    assert "designvikt" not in rows[0] and "vikt" not in rows[0]
