"""Report documents and published panels for the publication tests.

The documents are made the way the results package makes them: answers as a data
frame, ``analysis.estimate_report`` over the whole sample and the three breakdowns,
rows copied into ``surveys.results.document`` classes. They are unweighted (equal
weights), which is all suppression and rendering need; the story test
(tests/test_results_story.py) publishes a real weighted report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.design import SurveyDesign
from analysis.estimates import Question, estimate_report
from surveys.results.document import (
    OVERALL,
    SCHEMA_VERSION,
    Category,
    CodeVersion,
    Fielding,
    FreeTextAnswers,
    Methods,
    QuestionResult,
    ReportDocument,
    Representativeness,
    ResponseRateRow,
    ResultRow,
    SurveyMeta,
    WeightingSummary,
)

LABELS = {"ja": {"sv": "Ja", "en": "Yes"}, "nej": {"sv": "Nej", "en": "No"},
          "vet_ej": {"sv": "Vet ej", "en": "Don't know"}}


def _rows(frame: pd.DataFrame) -> tuple[ResultRow, ...]:
    rows = []
    for rec in frame.to_dict("records"):
        rows.append(ResultRow(
            category=str(rec["category"]), domain_variable=str(rec["domain_variable"]),
            domain_value=str(rec["domain_value"]), domain_label={"sv": str(rec["domain_value"])},
            estimate=rec["estimate"], se=rec["se"], ci_low=rec["ci_low"], ci_high=rec["ci_high"],
            ci_method=str(rec["ci_method"]), df=rec["df"], deff=rec["deff"], n=int(rec["n"]), count=int(rec["count"]),
            weighted_n=rec["weighted_n"], flag=str(rec["flag"] or ""), reason=str(rec["reason"] or "")))
    return tuple(rows)


def document_from_answers(answers: pd.DataFrame, *, survey_id: int = 1, title: str = "Parken",
                          free_text: tuple[str, ...] = (), invited: int | None = None) -> ReportDocument:
    """A document for the single-choice question ``park`` (ja/nej/vet_ej) and the number ``visits``.

    ``answers`` has columns park, visits, district, gender, age_group.
    """
    design = SurveyDesign(np.ones(len(answers)))
    questions = [Question.single_choice("park", categories=["ja", "nej", "vet_ej"]), Question.numeric("visits")]
    report = estimate_report(answers, design, questions, by=["district", "gender", "age_group"])
    results = []
    for question, kind, qtype, text in (("park", "single", "single_choice", {"sv": "Vill du ha en park?",
                                                                               "en": "Do you want a park?"}),
                                        ("visits", "numeric", "number", {"sv": "Hur många besök?",
                                                                         "en": "How many visits?"})):
        rows = _rows(report[report["question"] == question].replace({np.nan: None}))
        categories = tuple(Category(v, LABELS[v]) for v in ("ja", "nej", "vet_ej")) if kind == "single" else ()
        answered = max((r.n for r in rows if r.domain_variable == OVERALL), default=0)
        results.append(QuestionResult(key=question, stable_key=question, question_type=qtype, kind=kind, text=text,
                                      categories=categories, weighted=rows, unweighted=rows, answered=answered,
                                      shown=len(answers)))
    n = len(answers)
    invited = invited or n * 2
    rates = [ResponseRateRow("total", "total", {"sv": "Alla"}, invited, n, n / invited, None, None)]
    for variable in ("gender", "district"):
        for value, count in answers[variable].value_counts().sort_index().items():
            rates.append(ResponseRateRow(variable, str(value), {"sv": str(value)}, int(count) * 2, int(count),
                                         0.5, None, None))
    return ReportDocument(
        schema_version=SCHEMA_VERSION,
        survey=SurveyMeta(id=survey_id, title={"sv": title, "en": f"{title} (en)"}, languages=("sv", "en"),
                          anonymous=True, status="closed"),
        generated_at="2026-11-22T12:00:00Z",
        code_version=CodeVersion("medborgarpanel", "0.1.0", None),
        fielding=Fielding(invited=invited, completed=n, responses=n, response_rate=n / invited, target_mode="all"),
        representativeness=Representativeness(response_rates=tuple(rates)),
        weighting=WeightingSummary(status="unweighted", reason="test document", n=n),
        questions=tuple(results),
        crosstabs=(),
        free_text=(FreeTextAnswers("comment", "text", {"sv": "Övrigt?"}, tuple(sorted(free_text))),) if free_text else (),
        methods=Methods({"sv": ["Alla i panelen bjöds in.", "Andelarna är inte vägda."],
                         "en": ["Everyone in the panel was invited.", "The shares are not weighted."]}),
        settings={"test": True},
    )


def park_answers(seed: int = 7) -> pd.DataFrame:
    """60 respondents in two large districts and one tiny one (3 people), seeded."""
    rng = np.random.default_rng(seed)
    districts = ["0980001"] * 30 + ["0980002"] * 27 + ["0980003"] * 3
    return pd.DataFrame({
        "park": rng.choice(["ja", "nej", "vet_ej"], size=60, p=[0.6, 0.3, 0.1]),
        "visits": rng.integers(0, 20, size=60).astype(float),
        "district": districts,
        "gender": rng.choice(["kvinna", "man"], size=60),
        "age_group": rng.choice(["16-29", "30-64", "65+"], size=60),
    })
