"""The send records the sampling design: per stratum N_h, n_h and E[n_h], so the report can
weight each respondent by 1/π. An equal-allocation sample sent, answered and reported."""

from __future__ import annotations

import json
from fractions import Fraction

from surveys.authoring import services as authoring
from surveys.fielding import services
from surveys.fielding.models import SurveyFielding
from surveys.fielding.sampling import inclusion_probabilities
from surveys.models import Survey
from surveys.results.services import ReportSettings, build_report, design_weights, response_frame
from tests.surveys.fielding.support import base, configure, deliver, make_panel, make_survey, post, survey_link
from tests.surveys.fielding.test_end_to_end import SHORT, answer


def test_an_equal_allocation_send_records_eligible_and_expected_invitees_per_stratum(app, session, example_text):
    make_panel(session, [(9, "kvinna", 30, "0101"), (3, "man", 30, "0101"), (1, "man", 70, "0102")])
    survey = make_survey(session, example_text)
    configure(session, survey, mode="sample", sample_size=4, allocation="equal", seed=5)
    with app.test_request_context():
        services.send_invitations(session, survey)
    design = session.get(SurveyFielding, survey.id).design
    assert design["allocation"] == "equal" and design["sample_size"] == 4 and design["eligible"] == 13
    rows = {(r["gender"], r["age_group"], r["district"]): r for r in design["strata"]}
    # 4 over 3 strata: 1 each, the last unit to one of the two strata that still have members
    assert {k: (r["eligible"], r["expected"]) for k, r in rows.items()} == {
        ("kvinna", "25-34", "0101"): (9, "3/2"), ("man", "25-34", "0101"): (3, "3/2"),
        ("man", "65-74", "0102"): (1, "1")}
    assert sum(r["invited"] for r in rows.values()) == 4
    assert inclusion_probabilities(design) == {("kvinna", "25-34", "0101"): Fraction(1, 6),
                                               ("man", "25-34", "0101"): Fraction(1, 2),
                                               ("man", "65-74", "0102"): Fraction(1)}


def test_a_whole_panel_and_a_proportional_send_record_equal_probabilities(app, session, example_text):
    make_panel(session, [(6, "kvinna", 30, "0101"), (3, "man", 70, "0102")])
    whole = make_survey(session, example_text, title="Alla")
    configure(session, whole)
    with app.test_request_context():
        services.send_invitations(session, whole)
    assert set(inclusion_probabilities(session.get(SurveyFielding, whole.id).design).values()) == {Fraction(1)}
    sample = make_survey(session, example_text, title="Urval")
    configure(session, sample, mode="sample", sample_size=3, allocation="proportional")
    with app.test_request_context():
        services.send_invitations(session, sample)
    assert set(inclusion_probabilities(session.get(SurveyFielding, sample.id).design).values()) == {Fraction(1, 3)}


def test_an_equal_allocation_sample_is_reported_with_design_weights(app, analyst, session, smtp_server):
    members = make_panel(session, [(8, "kvinna", 20, "0101"), (2, "man", 70, "0102")])
    survey = authoring.import_survey(session, text=json.dumps(SHORT), format="json", title="Lika", created_by=None)
    session.commit()
    response = post(analyst, f"{base(survey.id)}/target", {
        "mode": "sample", "sample_size": "4", "allocation": "equal", "seed": "3",
        "contact_window_days": "30", "reminder_after_days": "3", "max_reminders": "1",
        "closes_at": "2099-01-01T12:00"})
    assert response.status_code == 302
    assert post(analyst, f"{base(survey.id)}/send", token_from=f"{base(survey.id)}/preview").status_code == 302
    assert deliver(app).sent == 4
    gender = {m.email: m.gender for m in members}
    for message in smtp_server.messages:  # two women (π = 2/8) answer red, two men (π = 1) blue
        address = str(message["To"])
        answer(app, survey_link(message), [{"farg": "rod" if gender[address] == "kvinna" else "bla"}, {}])

    session.expire_all()
    survey = session.get(Survey, survey.id)
    frame = response_frame(session, survey).data
    d = dict(zip(frame["gender"], design_weights(session, survey, frame).weights))
    assert d == {"kvinna": 4.0, "man": 1.0}  # 1/π: women 2 of 8, men 2 of 2; the weighting starts here
    document = build_report(session, survey, settings=ReportSettings(enabled=False))
    shares = {r.category: r.estimate for r in document.question("farg").rows(weighted=False)}
    assert shares["rod"] == 0.5  # "unweighted" stays the respondents: 2 of 4
    assert any("designvikt" in w for w in document.warnings)
    html = analyst.get(f"/staff/surveys/{survey.id}/report").get_data(as_text=True)
    # not weighted to the population: the chart and "Designviktat" are 4·2 / (4·2 + 1·2) red
    assert "Röd: 80,0\xa0%" in html and "designvikten 1/sannolikheten att komma med" in html
    assert "Resultaten är designviktade men inte viktade till befolkningen" in html
