"""build_report and its pieces against the analysis package, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis import SurveyDesign, estimate_report, r_indicator, weight, weighted_crosstab
from panel.population.services import load_population
from surveys.results import services
from surveys.results.document import OVERALL, ReportDocument
from surveys.results.services import ReportSettings, build_report, response_frame, weight_responses
from tests.surveys.results.builders import DEFINITION, make_population, make_survey, population_frame


def _json_is_finite(document: ReportDocument) -> None:
    text = document.to_json()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text)  # strict JSON
    assert ReportDocument.from_json(text) == document


def test_frame_has_the_snapshot_and_one_column_per_question_or_option(session):
    survey = make_survey(session, n_invited=80, seed=21)
    frame = response_frame(session, survey)
    data = frame.data
    assert {"gender", "age_group", "district", "trygg", "transport", "betyg", "betyg__dont_know",
            "prio__skola", "prio__vard", "prio__miljo", "nojd.parker", "nojd.gator", "antal"} <= set(data.columns)
    assert set(data["trygg"].dropna()) <= {"yes", "no"}
    assert data["betyg"].dropna().between(1, 5).all()
    # "vet ej" is not a number: NaN in the mean's column, 1 in its own
    dont_know = data["betyg__dont_know"] == 1.0
    assert data.loc[dont_know, "betyg"].isna().all()
    assert set(np.unique(data["prio__skola"].dropna())) <= {0.0, 1.0}
    assert [q.key for q in frame.questions] == ["trygg", "transport", "betyg", "prio", "nojd.parker", "nojd.gator",
                                                "antal"]
    texts = {(f.question_key, f.source): f.answers for f in frame.free_text}
    assert texts[("synpunkt", "text")] == tuple(sorted(texts[("synpunkt", "text")]))
    assert set(texts[("synpunkt", "text")]) <= {"Fler cykelbanor", "Bättre belysning"}
    assert set(texts[("transport", "other")]) == {"Färja"}


def test_weighted_figures_equal_the_analysis_package_for_the_same_frame_and_targets(session):
    survey = make_survey(session, n_invited=500, seed=22)
    dataset = make_population(session)
    settings = ReportSettings(margins=(("gender",), ("age_group",), ("district",)))
    document = build_report(session, survey, settings=settings)

    # the same computation, straight from the analysis package
    frame = response_frame(session, survey).data
    table = load_population(dataset)
    targets = table.targets("gender", "age_group", "district")
    result = weight(frame[["gender", "age_group", "district"]], targets, "rake", drop_unmatched=True,
                    summary_by="district")
    from analysis import Question

    questions = [Question.single_choice("trygg", "trygg", ["yes", "no"]),
                 Question.numeric("betyg", "betyg"),
                 Question.multiple_choice("prio", {"skola": "prio__skola", "vard": "prio__vard",
                                                   "miljo": "prio__miljo"})]
    expected = estimate_report(frame, result.design, questions, by=["district", "gender", "age_group"])
    assert document.weighting.status == "weighted"
    assert document.weighting.design_effect == pytest.approx(result.design_effect, rel=1e-12)
    assert document.weighting.effective_n == pytest.approx(result.effective_sample_size, rel=1e-12)
    compared = 0
    for q in ("trygg", "betyg", "prio"):
        rows = {(r.category, r.domain_variable, r.domain_value): r for r in document.question(q).weighted}
        for e in expected[expected["question"] == q].itertuples():
            got = rows[(str(e.category), e.domain_variable, e.domain_value)]
            for name in ("estimate", "se", "ci_low", "ci_high", "deff"):
                value = getattr(e, name)
                if np.isfinite(value):
                    assert getattr(got, name) == pytest.approx(value, rel=1e-12, abs=1e-15), (q, name)
                else:
                    assert getattr(got, name) is None and got.reason
            assert got.n == e.n and got.count == e.count
            compared += 1
    assert compared > 60

    # the unweighted rows are equal weights
    plain = estimate_report(frame, SurveyDesign(np.ones(len(frame))), questions[:1])
    overall = plain[(plain["domain_variable"] == OVERALL)].set_index("category")["estimate"]
    rows = {r.category: r.estimate for r in document.question("trygg").rows(weighted=False)}
    assert rows["yes"] == pytest.approx(overall["yes"]) and rows["no"] == pytest.approx(overall["no"])

    # cross-tab with Rao-Scott, and the R-indicator, as the analysis package gives them
    crosstab = next(t for t in document.crosstabs if (t.row_key, t.column_key) == ("trygg", "age_group"))
    direct = weighted_crosstab(frame["trygg"], frame["age_group"], result.design)
    assert crosstab.test.statistic == pytest.approx(direct.test.statistic, rel=1e-12)
    assert crosstab.test.p_value == pytest.approx(direct.test.p_value, rel=1e-9)
    # rows and columns in the question's and the bands' order (as every other table), not by code
    assert [c.value for c in crosstab.rows] == ["yes", "no"]
    assert [c.value for c in crosstab.columns] == sorted(direct.counts.columns, key=str)  # "16-24" < "25-34" < …
    for row_value in ("yes", "no"):
        for column_value in direct.counts.columns:
            assert crosstab.cell(row_value, str(column_value)).weighted_count == pytest.approx(
                direct.counts.loc[row_value, column_value], rel=1e-12)
    assert document.representativeness.r_indicator is not None
    _json_is_finite(document)


def test_poststratified_share_equals_the_hand_computation(session):
    """Post-stratified on gender, every respondent of gender g weighs w_g = N_g / n_g (Kish 1965), so the
    share among those who answered is sum_g w_g yes_g / sum_g w_g answered_g."""
    survey = make_survey(session, n_invited=300, seed=23, other_gender=0.0)
    make_population(session)
    settings = ReportSettings(method="poststratify", margins=(("gender",),))
    document = build_report(session, survey, settings=settings)
    frame = response_frame(session, survey).data
    population = population_frame().groupby("gender")["population"].sum()
    assert set(frame["gender"]) == set(population.index)  # no uncovered genders in this survey
    w = population / frame.groupby("gender").size()
    yes = (frame["trygg"] == "yes").groupby(frame["gender"]).sum()
    answered = frame["trygg"].notna().groupby(frame["gender"]).sum()
    expected = float((w * yes).sum() / (w * answered).sum())
    got = next(r for r in document.question("trygg").rows() if r.category == "yes").estimate
    assert got == pytest.approx(expected, rel=1e-12)


def test_survey_without_responses_gives_a_document_with_reasons(session):
    survey = make_survey(session, n_invited=10, response_rate=0.0, seed=24)
    make_population(session)
    document = build_report(session, survey)
    assert document.fielding.responses == 0
    assert document.weighting.status == "unweighted" and "inga svar" in document.weighting.reason
    assert all(q.reason and not q.weighted for q in document.questions)
    assert document.representativeness.reason
    assert document.methods.paragraphs["sv"] and document.methods.paragraphs["en"]
    _json_is_finite(document)


def test_survey_with_responses_but_no_population_is_unweighted_with_a_reason(session):
    survey = make_survey(session, n_invited=60, seed=25)
    document = build_report(session, survey)
    assert document.weighting.status == "unweighted"
    assert "inga befolkningssiffror" in document.weighting.reason
    trygg = document.question("trygg")
    assert trygg.weighted == trygg.unweighted and trygg.weighted
    assert any("inte viktade" in p for p in document.methods.paragraphs["sv"])
    _json_is_finite(document)


def test_empty_stratum_is_explained_and_collapsing_it_weights_again(session):
    frame = population_frame()
    extra = pd.DataFrame([{"district": "0980R009", "gender": g, "age_group": "16-24", "population": 500}
                          for g in ("kvinna", "man")])
    make_population(session, pd.concat([frame, extra], ignore_index=True))
    survey = make_survey(session, n_invited=120, seed=26)
    document = build_report(session, survey)
    assert document.weighting.status == "unweighted"
    assert "kan inte viktas" in document.weighting.reason and "0980R009" in document.weighting.reason
    _json_is_finite(document)
    merged = ReportSettings(collapse={"district": (("0980R003", "0980R009"),)})
    again = build_report(session, survey, settings=merged)
    assert again.weighting.status == "weighted"
    assert any(c.category == "0980R003+0980R009" or "0980R009" in c.category
               for m in again.weighting.margins for c in m.cells)


def test_zero_population_in_a_stratum_with_respondents_is_explained(session):
    frame = population_frame()
    frame.loc[frame["district"] == "0980R002", "population"] = 0
    make_population(session, frame)
    survey = make_survey(session, n_invited=120, seed=27)
    document = build_report(session, survey, settings=ReportSettings(margins=(("district",),)))
    # they cannot stand for anyone: weight 0, said in the warnings, their district has no estimate
    assert document.weighting.status == "weighted"
    assert any("får vikten 0" in w for w in document.warnings)
    slite = [r for r in document.question("trygg").weighted if r.domain_value == "0980R002"]
    assert slite and all(r.estimate is None and r.reason for r in slite)
    _json_is_finite(document)


def test_trimming_so_tight_that_every_weight_is_trimmed_never_gives_nan(session):
    make_population(session)
    survey = make_survey(session, n_invited=200, seed=28)
    document = build_report(session, survey, settings=ReportSettings(trim_lower=0.999, trim_upper=1.001))
    w = document.weighting
    if w.status == "weighted":
        assert w.n_trimmed > 0
        assert w.weight_max <= w.weight_mean * 1.001 * (1 + 1e-6) or w.converged is False
    else:
        assert w.reason
    _json_is_finite(document)


def test_unweighted_by_choice_says_so(session):
    make_population(session)
    survey = make_survey(session, n_invited=50, seed=29)
    document = build_report(session, survey, settings=ReportSettings(enabled=False))
    assert document.weighting.status == "unweighted" and "valt att inte vikta" in document.weighting.reason


def test_district_margin_is_left_out_when_the_figures_have_no_districts(session):
    frame = population_frame().groupby(["gender", "age_group"], as_index=False)["population"].sum()
    make_population(session, frame)
    survey = make_survey(session, n_invited=150, seed=30)
    outcome = weight_responses(session, survey, ReportSettings())
    assert outcome.result is not None
    assert outcome.margins == (("gender",), ("age_group",))
    assert any("område" in w for w in outcome.warnings)


def test_response_rates_and_r_indicator_match_the_analysis_package(session):
    survey = make_survey(session, n_invited=400, seed=31)
    document = build_report(session, survey)
    from sqlalchemy import select

    from surveys.fielding.models import Invitation

    rows = session.execute(select(Invitation.gender, Invitation.age_group, Invitation.district_code,
                                  Invitation.completed_at).where(Invitation.survey_id == survey.id)).all()
    invited = pd.DataFrame({"gender": [r[0] for r in rows], "age_group": [r[1] for r in rows],
                            "district": [r[2] for r in rows],
                            "responded": [int(r[3] is not None) for r in rows]})
    direct = r_indicator(invited, "responded", variables=["gender", "age_group", "district"])
    assert document.representativeness.r_indicator.r == pytest.approx(direct.r, rel=1e-12)
    total = next(r for r in document.representativeness.response_rates if r.variable == "total")
    assert total.invited == 400 and total.completed == invited["responded"].sum()
    assert document.fielding.response_rate == pytest.approx(invited["responded"].mean())
    assert 0 < document.fielding.share_self_recruited < 1


def test_methods_text_names_the_targets_the_design_effect_and_the_opt_in_caveat(session):
    make_population(session, name="SCB folkmängd 2025")
    survey = make_survey(session, n_invited=200, seed=32, self_recruited=0.5)
    document = build_report(session, survey)
    sv = " ".join(document.methods.paragraphs["sv"])
    en = " ".join(document.methods.paragraphs["en"])
    assert "SCB folkmängd 2025" in sv and "Designeffekten" in sv and "felmarginalen" in sv
    assert "ingen urvalsbaserad felmarginal" in sv
    assert "no sampling-based margin of error" in en and "design effect" in en
    assert f"{document.fielding.invited}" in sv


def test_methods_text_without_self_recruited_members_has_no_opt_in_caveat(session):
    make_population(session)
    survey = make_survey(session, n_invited=100, seed=33, self_recruited=0.0)
    sv = " ".join(build_report(session, survey).methods.paragraphs["sv"])
    assert "ingen urvalsbaserad felmarginal" not in sv
    assert "slumpmässigt urval ur befolkningsregistret" in sv


def test_a_matrix_with_options_and_a_survey_of_only_free_text(session):
    definition = {"format": 1, "languages": ["sv"], "title": "Bara text", "pages": [{"key": "p1", "questions": [
        {"key": "fri", "type": "short_text", "text": "Något?"}]}]}
    survey = make_survey(session, n_invited=20, seed=34, definition=definition)
    document = build_report(session, survey)
    assert document.questions == ()
    assert document.free_text[0].question_key == "fri"
    _json_is_finite(document)


def test_default_settings_and_saving_them(session):
    survey = make_survey(session, n_invited=5, seed=35)
    assert services.settings_for(session, survey) == ReportSettings()
    saved = ReportSettings(method="linear", margins=(("gender", "age_group"),), crosstabs=(("trygg", "gender"),))
    services.save_settings(session, survey, saved)
    assert services.settings_for(session, survey) == saved
    with pytest.raises(ValueError):
        services.save_settings(session, survey, ReportSettings(method="nonsense"))
    assert DEFINITION["title"]["sv"] in build_report(session, survey).survey.title["sv"]


def test_report_weights_to_the_figures_the_analyst_marked_in_use(session):
    from panel.population.services import use_population

    survey = make_survey(session, n_invited=200, seed=5)
    chosen = make_population(session, name="Vald")
    make_population(session, population_frame(scale=2000), name="Senare uppladdad")
    settings = ReportSettings(margins=(("gender",), ("age_group",)))
    assert build_report(session, survey, settings=settings).weighting.targets.name == "Senare uppladdad"
    use_population(session, chosen, staff_id=None)
    assert build_report(session, survey, settings=settings).weighting.targets.dataset_id == chosen.id


def test_a_means_interval_is_cut_at_the_ends_of_its_scale(session):
    """The normal approximation can reach past a 1-5 scale (or a number question's 0-100) in a
    small group; the reported interval stops at the scale's ends, the estimate and SE stay."""
    survey = make_survey(session, n_invited=120, seed=3)
    make_population(session)
    document = build_report(session, survey, settings=ReportSettings(margins=(("gender",), ("age_group",))))
    plain = build_report(session, survey, settings=ReportSettings(enabled=False))
    bounds = {"betyg": (1, 5), "nojd.parker": (1, 5), "nojd.gator": (1, 5), "antal": (0, 100)}
    cut = 0
    for key, (low, high) in bounds.items():
        for report in (document, plain):
            question = report.question(key)
            for row in question.weighted + question.unweighted:
                if row.ci_low is None:
                    continue
                assert low <= row.ci_low <= row.estimate <= row.ci_high <= high, (key, row)
                cut += row.ci_low == low or row.ci_high == high
    assert cut > 0, "the seed gives small groups whose normal interval passes a scale end"

    from surveys.results.services import AnalysedQuestion, _within_scale
    from surveys.results.document import ResultRow

    row = ResultRow("mean", "district", "x", {"sv": "x"}, 4.82, 0.14, 4.54, 5.10, "wald", None, 1.0, 9, 9, 9.0)
    scale = AnalysedQuestion("b", "b", "scale", "numeric", {"sv": "b"}, (), ("b",), scale_min=1, scale_max=5)
    assert _within_scale([row], scale)[0].ci_high == 5.0 and _within_scale([row], scale)[0].se == 0.14
