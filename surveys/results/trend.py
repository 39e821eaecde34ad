"""Trend: one question (the same stable key) across surveys, weighted, with 95 % intervals.

Each survey is weighted with its own saved settings (as its report is), and only the
question asked is estimated. A survey that cannot be weighted contributes its
unweighted figures (or, for an equal-allocation sample, its figures weighted by the
design weights 1/π alone), and the trend says so for that point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from analysis import estimate_report
from surveys.results import document as doc
from surveys.results.services import (
    AnalysedQuestion,
    cached_response_frame,
    design_weights,
    estimation_design,
    settings_for,
    surveys_with_stable_key,
    weight_responses,
)


@dataclass(frozen=True)
class TrendPoint:
    survey_id: int
    label: str
    title: doc.Texts
    sent_at: str | None
    n: int
    weighted: bool
    note: str = ""
    design_weighted: bool = False  # not weighted to the population, by the design weights 1/π alone


@dataclass(frozen=True)
class TrendLine:
    category: str
    label: doc.Texts
    estimates: list[float | None]
    ci_low: list[float | None]
    ci_high: list[float | None]


@dataclass
class Trend:
    stable_key: str
    text: doc.Texts = field(default_factory=dict)
    kind: str = "single"
    points: list[TrendPoint] = field(default_factory=list)
    series: list[TrendLine] = field(default_factory=list)


def question_trend(session: Session, stable_key: str) -> Trend:
    """The weighted estimates of the question ``stable_key`` in every sent survey that asks it."""
    trend = Trend(stable_key)
    per_point: list[dict[str, tuple[float | None, float | None, float | None]]] = []
    categories: dict[str, doc.Texts] = {}
    for survey in surveys_with_stable_key(session, stable_key):
        frame = cached_response_frame(session, survey)
        question: AnalysedQuestion = next(q for q in frame.questions if q.stable_key == stable_key)
        trend.text = trend.text or (question.item_text or question.text)
        trend.kind = question.kind
        title = frame_title(survey)
        when = survey.sent_at.strftime("%Y-%m") if survey.sent_at else ""
        label = f"{title.get('sv', '')} ({when})" if when else title.get("sv", "")
        data = frame.data
        if len(data) == 0:
            trend.points.append(TrendPoint(survey.id, label, title, when or None, 0, False, "Inga svar."))
            per_point.append({})
            continue
        base = design_weights(session, survey, data)
        weighting = weight_responses(session, survey, settings_for(session, survey), frame=frame, design=base)
        design, status = estimation_design(weighting, base, len(data))
        report = estimate_report(data, design, [question.analysis])
        overall = report[report["domain_variable"] == doc.OVERALL]
        values = {}
        for row in overall.itertuples(index=False):
            values[str(row.category)] = (doc.finite(row.estimate), doc.finite(row.ci_low), doc.finite(row.ci_high))
        for c in question.categories:
            categories.setdefault(c.value, c.label)
        if question.kind == "numeric":
            categories.setdefault(doc.MEAN, {"sv": "Medelvärde", "en": "Mean"})
        answered = int(overall["n"].max()) if len(overall) else 0
        trend.points.append(TrendPoint(survey.id, label, title, when or None, answered,
                                       weighting.result is not None, weighting.reason,
                                       design_weighted=status == "design_weighted"))
        per_point.append(values)
    for category, label in categories.items():
        triples = [values.get(category, (None, None, None)) for values in per_point]
        trend.series.append(TrendLine(category, label, [t[0] for t in triples], [t[1] for t in triples],
                                      [t[2] for t in triples]))
    return trend


def frame_title(survey) -> doc.Texts:
    from surveys.authoring.services import definition_of

    defn = definition_of(survey)
    return {lang: text for lang, text in defn.title.items()}
