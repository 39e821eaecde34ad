"""A published report that says what was done: weighted by gender and age group only, with a
1–5 scale that has "vet ej" answers (for the tests of pages, print, PDF and charts)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from analysis.design import SurveyDesign
from analysis.estimates import Question, estimate_report
from surveys.publication import services
from surveys.results.document import OVERALL, QuestionResult, ReportDocument, TargetsInfo
from surveys.results.methods import write_methods
from tests.surveys.publication.support import _rows, document_from_answers, park_answers

SCALE_TEXT = {"sv": "Hur trygg känner du dig?", "en": "How safe do you feel?"}
BREAKDOWNS = ["district", "gender", "age_group"]


def scale_answers(dont_know: int, seed: int = 11) -> pd.DataFrame:
    """The park answers (60 respondents) and a 1–5 scale ``trygghet`` where the first
    ``dont_know`` respondents (all in the first large district) answered "vet ej"."""
    frame = park_answers()
    rng = np.random.default_rng(seed)
    values = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], size=len(frame), p=[0.05, 0.1, 0.25, 0.35, 0.25])
    flags = np.zeros(len(frame))
    flags[:dont_know] = 1.0
    values[flags == 1.0] = np.nan
    return frame.assign(trygghet=values, trygghet__dont_know=flags)


def scale_question(answers: pd.DataFrame) -> QuestionResult:
    """The scale as the results package analyses it: the mean without "vet ej", and the
    "vet ej" share of everyone who answered in ``dont_know``."""
    design = SurveyDesign(np.ones(len(answers)))
    report = estimate_report(answers, design, [
        Question.numeric("trygghet"),
        Question.multiple_choice("trygghet__dont_know", {"dont_know": "trygghet__dont_know"})], by=BREAKDOWNS)
    clean = report.replace({np.nan: None})
    mean = _rows(clean[clean["question"] == "trygghet"])
    dont_know = _rows(clean[clean["question"] == "trygghet__dont_know"])
    return QuestionResult(key="trygghet", stable_key="trygghet", question_type="scale", kind="numeric",
                          text=SCALE_TEXT, scale_min=1, scale_max=5, weighted=mean, unweighted=mean,
                          dont_know=dont_know, answered=len(answers), shown=len(answers))


def honest_document(survey_id: int, *, weighted: bool = True, dont_know: int = 9) -> ReportDocument:
    """Weighted by raking on gender and age group (never district), with a methods text
    written by the results package; or unweighted."""
    answers = scale_answers(dont_know)
    document = document_from_answers(answers, survey_id=survey_id)
    fielding = replace(document.fielding, self_recruited=30, letter_recruited=30, share_self_recruited=0.5)
    weighting = document.weighting
    if weighted:
        weighting = replace(
            weighting, status="weighted", reason="", method="rake", variables=("gender", "age_group"),
            targets=TargetsInfo(dataset_id=1, name="Befolkning 2025", source="SCB", source_table_id="BE0101N1",
                                reference_date="2025-12-31", period="2025", total=60000),
            n_weighted=len(answers), design_effect=1.12, effective_n=53.6, weight_min=700.0, weight_max=1300.0,
            weight_mean=1000.0, converged=True)
    else:
        weighting = replace(weighting, status="unweighted", reason="Det finns inga befolkningssiffror.")
    document = replace(document, fielding=fielding, weighting=weighting,
                       questions=(*document.questions, scale_question(answers)))
    return replace(document, methods=write_methods(document))


def publish_document(app, session, survey, document: ReportDocument, *, version: int = 1):
    with app.app_context():
        result = services.publish(session, session.merge(survey), by=None, expected_version=version,
                                  document=document.to_dict())
        session.commit()
        return result


def stored_rows(report, key: str, *, variables=(OVERALL,), series: str = "weighted") -> list[dict]:
    question = next(q for q in report.document["questions"] if q["key"] == key)
    return [r for r in question[series] if r["domain_variable"] in variables]
