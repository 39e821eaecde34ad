"""The report document contract: lossless JSON, no NaN/Infinity, a version check."""

from __future__ import annotations

import json
import math

import pytest

from surveys.results import document as doc


def _row(estimate):
    return doc.ResultRow("ja", doc.OVERALL, doc.OVERALL, {"sv": "Alla", "en": "All"}, estimate, 0.01, 0.1, 0.2,
                         "logit", 10.0, 1.1, 20, 8, 8000.0, "", "")


def _document(**changes) -> doc.ReportDocument:
    base = doc.ReportDocument(
        schema_version=doc.SCHEMA_VERSION,
        survey=doc.SurveyMeta(1, {"sv": "Enkät", "en": "Survey"}, ("sv", "en"), True, "closed",
                              closes_at="2026-11-01T12:00:00Z"),
        generated_at="2026-11-22T23:00:00Z", code_version=doc.CodeVersion("medborgarpanel", "0.1.0", "abc"),
        fielding=doc.Fielding(100, 60, 60, 0.6, "sample", {"age_min": 16}, 100, 42, "proportional", 20, 40, 1 / 3),
        representativeness=doc.Representativeness(
            (doc.ResponseRateRow("total", "total", {"sv": "Totalt"}, 100, 60, 0.6, 0.5, 0.69),),
            doc.RIndicatorSummary(0.8, 0.82, 0.03, 0.74, 0.86, 0.2, 0.6, 100, 60, ("gender",),
                                  (doc.PartialIndicator("gender", 0.01, 0.02),))),
        weighting=doc.WeightingSummary("weighted", targets=doc.TargetsInfo(3, "SCB", "BE0101", "BE0101N1",
                                                                           "2025-12-31", "2025", 90000),
                                       method="rake", variables=("gender",),
                                       margins=(doc.MarginSummary("gender", ("gender",), 1e-12, (
                                           doc.MarginCell("kvinna", {"sv": "Kvinna"}, 45000.0, 45000.0, 31),)),),
                                       collapse={"age_group": [["65-74", "75+"]]}, design_effect=1.2,
                                       effective_n=50.0),
        questions=(doc.QuestionResult("q1", "q1", "yes_no", "single", {"sv": "Fråga?"},
                                      (doc.Category("ja", {"sv": "Ja"}),), weighted=(_row(0.4),),
                                      unweighted=(_row(0.45),)),),
        crosstabs=(doc.CrossTabResult("q1", "gender", {"sv": "Fråga?"}, {"sv": "Kön"},
                                      cells=(doc.CrossTabCell("ja", "kvinna", 1.0, 0.5, 0.5, 3),),
                                      test=doc.RaoScott(1.2, 1.0, 59.0, 0.27, 1.3, 1.1)),),
        free_text=(doc.FreeTextAnswers("q2", "text", {"sv": "Övrigt?"}, ("a", "b")),),
        methods=doc.Methods({"sv": ["Text."], "en": ["Text."]}),
        settings={"method": "rake", "margins": [["gender"]]},
    )
    from dataclasses import replace

    return replace(base, **changes)


def test_round_trip_is_lossless():
    document = _document()
    again = doc.ReportDocument.from_json(document.to_json())
    assert again == document
    assert isinstance(again.questions[0].weighted[0], doc.ResultRow)
    assert again.question("q1").rows()[0].estimate == 0.4
    assert again.crosstabs[0].cell("ja", "kvinna").unweighted == 3


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_become_null(bad):
    document = _document(questions=(doc.QuestionResult("q1", "q1", "yes_no", "single", {"sv": "F"},
                                                       weighted=(_row(bad),)),))
    text = document.to_json()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["questions"][0]["weighted"][0]["estimate"] is None
    assert doc.ReportDocument.from_json(text).questions[0].weighted[0].estimate is None


def test_json_is_plain_and_stable():
    text = _document().to_json()
    assert text == _document().to_json()
    assert json.loads(text)["survey"]["languages"] == ["sv", "en"]


def test_other_schema_versions_and_non_objects_are_refused():
    data = json.loads(_document().to_json())
    data["schema_version"] = 999
    with pytest.raises(ValueError):
        doc.ReportDocument.from_dict(data)
    with pytest.raises(ValueError):
        doc.ReportDocument.from_json("[]")


def test_finite_helper():
    assert doc.finite(None) is None and doc.finite(math.nan) is None and doc.finite("x") is None
    assert doc.finite(2) == 2.0
