"""Notes on the analyst's report (the R-indicator's, the weighting's, skipped cross-tabs): said in Swedish,
with the report's names for variables and categories, never codes or the analysis package's English."""

from __future__ import annotations

import re
import warnings

from sqlalchemy import update

from surveys.fielding.models import Invitation
from surveys.results import services
from surveys.results.views import note_text
from tests.surveys.results.builders import make_population, make_survey, population_frame


def _notes(page: str) -> list[str]:
    block = re.search(r"Anmärkningar om beräkningen av R-indikatorn</summary>\s*<ul>(.*?)</ul>", page, re.S)
    assert block, "the R-indicator's notes are not on the page"
    return [re.sub(r"\s+", " ", item).strip() for item in re.findall(r"<li>(.*?)</li>", block.group(1), re.S)]


def test_a_district_where_nobody_answered_is_named_in_swedish(analyst, session):
    survey = make_survey(session, n_invited=240, seed=3, other_gender=0)
    make_population(session)
    session.execute(update(Invitation).where(Invitation.survey_id == survey.id,
                                             Invitation.district_code == "0980R003").values(completed_at=None))
    session.commit()
    response = analyst.get(f"/staff/surveys/{survey.id}/report")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    notes = _notes(page)
    assert ("Ingen av de inbjudna med område ”Hemse” svarade. Modellens sannolikhet där är 0, så medelfelet är "
            "osäkert; slå gärna ihop små grupper.") in notes
    assert "tekniska, på engelska" not in page
    for english in ("has no respondents", "0980R003", "district", "merge small categories"):
        assert not any(english in note for note in notes), english


def test_a_warning_not_from_the_analysis_package_gets_a_swedish_lead_in(app):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("overflow encountered in exp", RuntimeWarning)
    (note,) = services._r_indicator_notes((), caught)
    assert (str(note), note.code) == ("overflow encountered in exp", "rindicator.technical")
    with app.test_request_context("/"):
        assert note_text(note) == "Teknisk varning från beräkningen: overflow encountered in exp"


def test_report_warnings_name_margins_and_variables_in_swedish(analyst, session):
    survey = make_survey(session, n_invited=120, seed=5)
    by_gender = population_frame().groupby(["district", "gender"], as_index=False)["population"].sum()
    make_population(session, by_gender)  # no age groups
    services.save_settings(session, survey, services.ReportSettings(
        margins=(("gender",), ("gender", "age_group")), crosstabs=(("synpunkt", "age_group"),)))
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/report").get_data(as_text=True)
    block = re.search(r"<h2>Att tänka på</h2>\s*<ul>(.*?)</ul>", page, re.S)
    assert block, "no warnings on the page"
    warnings_shown = [re.sub(r"\s+", " ", item) for item in re.findall(r"<li>(.*?)</li>", block.group(1), re.S)]
    assert "Befolkningssiffrorna saknar åldersgrupp: marginalen kön × åldersgrupp används inte." in warnings_shown
    assert any(w.startswith("Korstabellen synpunkt × åldersgrupp hoppas över") for w in warnings_shown)
    assert not any(code in w for w in warnings_shown for code in ("gender", "age_group", "district"))
