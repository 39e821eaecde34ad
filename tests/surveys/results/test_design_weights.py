"""Equal-allocation samples: respondents are weighted by 1/π of their stratum at invitation time.

An equal-allocation sample gives every stratum the same number of invitations, so a
member of a small stratum is far likelier to be invited than one of a large stratum
(π_h = E[n_h] / N_h). The send records N_h and E[n_h] per stratum
(``SurveyFielding.design``); raking starts from the design weights d = 1/π, a report not
weighted to the population is weighted by d alone ("Designviktat", and says so), and the
"unweighted" column stays the distribution among the respondents. Surveys sent before the design was
recorded, whole-panel and proportional samples report as before.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from analysis import Question, SurveyDesign, estimate_report, r_indicator, weight
from panel.population.services import load_population
from surveys.answering.models import SurveyResponse
from surveys.fielding.models import Invitation, SurveyFielding
from surveys.fielding.sampling import expected_allocation
from surveys.results import services
from surveys.results.document import OVERALL
from surveys.results.services import ReportSettings, build_report, response_frame, weight_responses
from tests.surveys.results.builders import make_equal_allocation, make_population, make_survey

REFERENCE = Path(__file__).parents[2] / "analysis" / "reference" / "design_equal_allocation.json"


_equal_allocation = make_equal_allocation


def _d(frame: pd.DataFrame, weight_of) -> np.ndarray:
    return np.array([weight_of[(g, a, d)] for g, a, d in zip(frame["gender"], frame["age_group"], frame["district"])])


def _overall(document, key, *, weighted):
    return {r.category: r for r in document.question(key).rows(weighted=weighted)}


def test_without_weighting_to_the_population_the_estimates_are_design_weighted_and_say_so(session):
    survey = make_survey(session, n_invited=400, seed=41)
    weight_of = _equal_allocation(session, survey)
    document = build_report(session, survey, settings=ReportSettings(enabled=False))

    frame = response_frame(session, survey).data
    d = _d(frame, weight_of)
    assert len(set(d)) > 1
    yes = (frame["trygg"] == "yes").to_numpy()
    answered = frame["trygg"].notna().to_numpy()
    plain = float(yes.sum() / answered.sum())
    got = _overall(document, "trygg", weighted=False)["yes"]
    assert got.estimate == pytest.approx(plain, rel=1e-12)  # what "Oviktat" says: the respondents
    assert got.n == answered.sum()
    # the estimates ("Designviktat") use 1/π alone: Hájek's share, the design's standard error
    design_only = _overall(document, "trygg", weighted=True)["yes"]
    assert design_only.estimate == pytest.approx(float((d * yes).sum() / (d * answered).sum()), rel=1e-12)
    assert design_only.estimate != pytest.approx(plain, rel=1e-3)
    expected = estimate_report(frame, SurveyDesign(d), [Question.numeric("betyg", "betyg")])
    overall = expected[expected["domain_variable"] == OVERALL].iloc[0]
    mean = document.question("betyg").rows(weighted=True)[0]
    assert mean.estimate == pytest.approx(overall["estimate"], rel=1e-12)
    assert mean.se == pytest.approx(overall["se"], rel=1e-9)
    w = document.weighting
    assert w.status == "design_weighted" and w.design_weights and "valt att inte vikta" in w.reason
    assert w.design_effect == pytest.approx(len(d) * float((d ** 2).sum()) / float(d.sum()) ** 2, rel=1e-12)
    assert (w.weight_min, w.weight_max) == (pytest.approx(d.min()), pytest.approx(d.max()))

    notes = " ".join(document.warnings)
    assert "designvikt" in notes and "lika fördelning" in notes
    note = next(w for w in document.warnings if getattr(w, "code", "") == "design.applied")
    assert note.params["min_probability"] == pytest.approx(0.25) and note.params["max_probability"] == 1.0
    assert "Kolumnen ”Oviktat” är fördelningen bland de svarande" in notes
    assert document.warnings[0].startswith("Rapporten är inte viktad till befolkningen:")
    assert "bara designviktade" in document.warnings[0]
    assert "oviktad" not in notes and "oviktade" not in notes  # nothing claims the estimates are unweighted
    sv, en = (" ".join(document.methods.paragraphs[lang]) for lang in ("sv", "en"))
    assert "Resultaten är designviktade men inte viktade till befolkningen" in sv
    assert "inte viktade:" not in sv and "eftersom svaren inte är viktade" not in sv
    assert "The results are design-weighted but not weighted to the population" in en


def _yes_shares(session, survey, weight_of) -> tuple[float, float]:
    """The share answering "yes" to trygg weighted by the design weights alone, and unweighted."""
    frame = response_frame(session, survey).data
    d = _d(frame, weight_of)
    yes, answered = (frame["trygg"] == "yes").to_numpy(), frame["trygg"].notna().to_numpy()
    return float((d * yes).sum() / (d * answered).sum()), float(yes.sum() / answered.sum())


def test_the_analyst_report_labels_design_weighted_estimates(analyst, session):
    survey = make_survey(session, n_invited=400, seed=47)
    weight_of = _equal_allocation(session, survey)
    session.commit()
    design_only, plain = _yes_shares(session, survey, weight_of)

    page = analyst.get(f"/staff/surveys/{survey.id}/report").get_data(as_text=True)
    assert "Det finns inga befolkningssiffror uppladdade" in page
    assert "Resultaten är designviktade men inte viktade till befolkningen" in page
    assert "Resultaten är oviktade." not in page and "rapporten är inte viktad)" not in page
    assert page.count('<th scope="col" class="num">Designviktat</th>') >= 2  # overall and breakdowns
    assert "Hela gruppen: designviktat och oviktat resultat (inte viktat till befolkningen)" in page
    row = re.search(r"Hela gruppen: designviktat.*?<th scope=\"row\">Ja</th>(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r'<td class="num">(.*?)</td>', row)
    assert cells[0] == f"{design_only * 100:.1f}\xa0%".replace(".", ",")  # Designviktat
    assert cells[3] == f"{plain * 100:.1f}\xa0%".replace(".", ",")  # Oviktat

    make_population(session)
    session.commit()
    services.clear_caches()
    page = analyst.get(f"/staff/surveys/{survey.id}/report").get_data(as_text=True)
    assert '<th scope="col" class="num">Designviktat</th>' not in page
    assert '<th scope="col" class="num">Viktat</th>' in page and "designviktade men inte" not in page
    assert "Viktningen utgick från urvalets designvikter" in page


def test_the_trend_shows_a_design_weighted_point_as_such(analyst, session):
    survey = make_survey(session, n_invited=300, seed=48)
    weight_of = _equal_allocation(session, survey)
    session.commit()
    design_only, _plain = _yes_shares(session, survey, weight_of)
    page = analyst.get(f"/staff/surveys/{survey.id}/report/trend/trygg").get_data(as_text=True)
    assert "Bara designviktat: Det finns inga befolkningssiffror uppladdade" in page
    assert f"{design_only * 100:.1f}\xa0%".replace(".", ",") in page


def test_raking_starts_from_the_design_weights(session):
    survey = make_survey(session, n_invited=500, seed=42)
    dataset = make_population(session)
    weight_of = _equal_allocation(session, survey)
    document = build_report(session, survey, settings=ReportSettings())

    frame = response_frame(session, survey).data
    targets = load_population(dataset).targets("gender", "age_group", "district")
    d = _d(frame, weight_of)
    base = d * float(next(iter(targets.values())).sum()) / d.sum()
    result = weight(frame[["gender", "age_group", "district"]], targets, "rake", weights=base, drop_unmatched=True,
                    summary_by="district")
    without = weight(frame[["gender", "age_group", "district"]], targets, "rake", drop_unmatched=True,
                     summary_by="district")
    expected = estimate_report(frame, result.design, [Question.numeric("betyg", "betyg")])
    overall = expected[expected["domain_variable"] == OVERALL].iloc[0]
    got = document.question("betyg").rows(weighted=True)[0]
    assert document.weighting.status == "weighted"
    assert got.estimate == pytest.approx(overall["estimate"], rel=1e-12)
    assert got.se == pytest.approx(overall["se"], rel=1e-12)
    assert document.weighting.design_effect == pytest.approx(result.design_effect, rel=1e-12)
    assert not np.allclose(result.weights, without.weights)  # raking on margins does not undo the design
    # the exports' weights are the same (weight_responses is what they call)
    assert np.allclose(weight_responses(session, survey, ReportSettings()).result.weights, result.weights)
    assert document.weighting.design_weights
    assert "Viktningen utgick från urvalets designvikter" in " ".join(document.methods.paragraphs["sv"])


def test_the_r_indicator_uses_the_design_weights_of_the_invitation_strata(session):
    survey = make_survey(session, n_invited=400, seed=43)
    weight_of = _equal_allocation(session, survey)
    document = build_report(session, survey)
    rows = session.execute(select(Invitation.gender, Invitation.age_group, Invitation.district_code,
                                  Invitation.completed_at).where(Invitation.survey_id == survey.id)).all()
    invited = pd.DataFrame({"gender": [r[0] for r in rows], "age_group": [r[1] for r in rows],
                            "district": [r[2] for r in rows], "responded": [int(r[3] is not None) for r in rows]})
    d = _d(invited, weight_of)
    direct = r_indicator(invited, "responded", variables=["gender", "age_group", "district"], weights=d)
    plain = r_indicator(invited, "responded", variables=["gender", "age_group", "district"])
    assert document.representativeness.r_indicator.r == pytest.approx(direct.r, rel=1e-9)
    assert document.representativeness.r_indicator.r != pytest.approx(plain.r, rel=1e-6)


def test_a_survey_sent_before_the_design_was_recorded_reports_as_before(session):
    survey = make_survey(session, n_invited=300, seed=44)
    fielding = session.get(SurveyFielding, survey.id)
    fielding.mode, fielding.allocation, fielding.sample_size, fielding.design = "sample", "equal", 300, None
    session.flush()
    document = build_report(session, survey, settings=ReportSettings(enabled=False))
    frame = response_frame(session, survey).data
    yes, answered = (frame["trygg"] == "yes").sum(), frame["trygg"].notna().sum()
    assert _overall(document, "trygg", weighted=False)["yes"].estimate == pytest.approx(yes / answered, rel=1e-12)
    assert services.design_weights(session, survey, frame).weights is None
    # the report says why the equal allocation is not corrected for
    assert any("skickades innan antalet som kunde väljas i varje grupp sparades" in w for w in document.warnings)
    # a whole-panel survey sent before says nothing of it
    fielding.mode, fielding.allocation, fielding.sample_size = "all", "proportional", None
    session.flush()
    assert not services.design_weights(session, survey, frame).note


def test_equal_probabilities_change_nothing(session):
    """A proportional sample (every π = n / N) or the whole panel (π = 1): no design weights."""
    survey = make_survey(session, n_invited=300, seed=45)
    weight_of = _equal_allocation(session, survey, spread=1)  # N_h = n_h in every stratum: π = 1
    assert set(weight_of.values()) == {1.0}
    frame = response_frame(session, survey).data
    assert services.design_weights(session, survey, frame).weights is None
    document = build_report(session, survey, settings=ReportSettings(enabled=False))
    assert "designvikt" not in " ".join(document.warnings)


def test_a_respondent_whose_group_changed_after_the_invitation_gets_no_guessed_weight(session):
    """Anonymous responses keep the group at answer time only; when those groups are not the
    invitation strata of the completed invitations, no design weights are attached (and the
    report says why) rather than guessing or linking the response to its invitation."""
    survey = make_survey(session, n_invited=300, seed=46)
    _equal_allocation(session, survey)
    moved = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)).first()
    moved.district_code = "0980R003" if moved.district_code != "0980R003" else "0980R001"
    session.flush()
    services.clear_caches()
    frame = response_frame(session, survey).data
    design = services.design_weights(session, survey, frame)
    assert design.weights is None
    assert "1 svarande tillhörde en annan grupp" in design.note
    assert design.note.code == "design.not_linked" and design.note.params["count"] == 1
    document = build_report(session, survey, settings=ReportSettings(enabled=False))
    yes, answered = (frame["trygg"] == "yes").sum(), frame["trygg"].notna().sum()
    assert _overall(document, "trygg", weighted=False)["yes"].estimate == pytest.approx(yes / answered, rel=1e-12)
    assert any("inga designvikter" in w for w in document.warnings)


def test_design_weights_and_raking_agree_with_r_survey():
    """R: svydesign(ids = ~1, weights = ~d) and svydesign(strata =, fpc =), then rake()
    (tests/analysis/reference/design_equal_allocation.R)."""
    reference = json.loads(REFERENCE.read_text())
    data = pd.DataFrame(reference["data"])
    # the recorded design gives the R script's weights: equal allocation of 120 over its strata
    strata = data.drop_duplicates(["gender", "age_group", "district"])
    sizes = {(r.gender, r.age_group, r.district): int(r.eligible) for r in strata.itertuples()}
    sizes |= {("man", "65+", "D2"): 45}  # a stratum with no respondents still counts
    assert len(sizes) == 12
    expected = expected_allocation(sizes, 120, "equal")
    assert all(expected[key] == Fraction(10) for key in sizes)
    d = data["d"].to_numpy()
    assert np.array_equal(d, data["eligible"].to_numpy() / data["expected"].to_numpy())

    design_only = SurveyDesign(d)
    from analysis import survey_mean

    for column in ("y", "x"):
        got = survey_mean(data[column].to_numpy(), design_only)
        assert got.estimate == pytest.approx(reference["design_only"][column]["estimate"][0], rel=1e-12)
        assert got.se == pytest.approx(reference["design_only"][column]["se"][0], rel=1e-9)
        # the stratified design has the same point estimate; its standard error is smaller
        assert got.estimate == pytest.approx(reference["design_only_stratified"][column]["estimate"][0], rel=1e-12)
    targets = {name: pd.Series(values, dtype=float) for name, values in reference["population"].items()}
    base = d * sum(reference["population"]["gender"].values()) / d.sum()
    result = weight(data[["gender", "age_group", "district"]], targets, "rake", weights=base, tolerance=1e-13,
                    summary_by=None)
    assert np.allclose(result.weights, reference["raked"]["weights"], rtol=1e-9)
    for column in ("y", "x"):
        got = survey_mean(data[column].to_numpy(), result.design)
        assert got.estimate == pytest.approx(reference["raked"][column]["estimate"][0], rel=1e-9)
        assert got.se == pytest.approx(reference["raked"][column]["se"][0], rel=1e-7)
        assert got.estimate == pytest.approx(reference["raked_stratified"][column]["estimate"][0], rel=1e-9)
