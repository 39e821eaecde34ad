"""The analyst's report pages: content, settings form, role checks, bad input."""

from __future__ import annotations

import re

import pytest

from surveys.results.models import WeightingSettings
from tests.conftest import csrf_token
from tests.factories import make_staff
from tests.surveys.conftest import log_in
from tests.surveys.results.builders import make_population, make_survey


def _no_nan(page: str) -> None:
    assert not re.search(r"\bnan\b|\binf\b|NaN|Infinity", page), "NaN or Infinity on the page"


def test_report_page_shows_rates_weighting_questions_crosstabs_free_text_and_methods(analyst, session):
    survey = make_survey(session, n_invited=240, seed=3)
    make_population(session)
    session.commit()
    response = analyst.get(f"/staff/surveys/{survey.id}/report")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    for text in ("Svarsfrekvens och representativitet", "R-indikator", "Designeffekt av vikterna",
                 "Känner du dig trygg?", "Rao–Scotts test", "Fler cykelbanor", "Färja", "självrekrytering",
                 "95 % KI", '<svg', 'role="img"', "Visby"):
        assert text in page, text
    _no_nan(page)


def test_report_without_responses_or_population_explains_and_never_fails(analyst, session):
    survey = make_survey(session, n_invited=5, response_rate=0.0, seed=1)
    session.commit()
    response = analyst.get(f"/staff/surveys/{survey.id}/report")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "Enkäten har inga svar ännu." in page
    _no_nan(page)


def test_report_with_responses_but_no_population_is_unweighted_with_the_reason(analyst, session):
    survey = make_survey(session, n_invited=60, seed=2)
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/report").get_data(as_text=True)
    assert "Resultaten är oviktade." in page
    assert "Det finns inga befolkningssiffror uppladdade" in page
    _no_nan(page)


def test_settings_form_saves_and_the_report_uses_them(analyst, session):
    survey = make_survey(session, n_invited=200, seed=4)
    make_population(session)
    session.commit()
    path = f"/staff/surveys/{survey.id}/report/settings"
    token = csrf_token(analyst, path)
    response = analyst.post(path, data={"csrf_token": token, "enabled": "y", "method": "rake",
                                        "margins": ["gender", "age_group"], "trim_lower": "0,3", "trim_upper": "4",
                                        "collapse": "age_group: 65-74 + 75+", "crosstabs": "trygg × district",
                                        "population_dataset": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    session.expire_all()
    row = session.get(WeightingSettings, survey.id)
    assert row.margins == [["gender"], ["age_group"]]
    assert row.trim_lower == 0.3 and row.trim_upper == 4.0
    assert row.collapse == {"age_group": [["65-74", "75+"]]}
    assert row.crosstabs == [["trygg", "district"]]
    page = analyst.get(f"/staff/surveys/{survey.id}/report").get_data(as_text=True)
    assert "Marginal gender × age_group" not in page
    assert "åldersgrupp: 65–74 år + 75+ år" in page  # the groups by their labels
    assert "Känner du dig trygg? × Område" in page


@pytest.mark.parametrize("field, value, message", [
    ("trim_upper", "0,5", "Skriv ett tal större än 1"),
    ("trim_lower", "abc", "Skriv ett tal större än 0 och mindre än 1"),
    ("collapse", "ålder: a + b", "börja med gender, age_group eller district"),
    ("collapse", "age_group: 75+", "minst två grupper"),
    ("collapse", "age_group: 65-74 + 99+", "”99+” finns inte bland grupperna i age_group, som är: 16-24, 25-34"),
    ("collapse", "gender: kvinna + kvinnor", "”kvinnor” finns inte bland grupperna i gender"),
    ("collapse", "district: 0980 + Visby", "”0980”, ”Visby” finns inte bland grupperna i district"),
    ("crosstabs", "trygg", "två olika nycklar"),
    ("crosstabs", "synpunkt × gender", "Okända eller olämpliga nycklar"),
    ("method", "magic", "Välj ett av alternativen."),
    ("margins", None, "Välj minst en viktningsvariabel"),
    ("margins", "kommun", "Okänt val"),
])
def test_settings_form_rejects_bad_input_in_swedish_and_saves_nothing(analyst, session, field, value, message):
    survey = make_survey(session, n_invited=20, seed=5)
    session.commit()
    path = f"/staff/surveys/{survey.id}/report/settings"
    data = {"csrf_token": csrf_token(analyst, path), "enabled": "y", "method": "rake",
            "margins": ["gender"], "population_dataset": ""}
    data[field] = value
    if value is None:
        del data[field]
    response = analyst.post(path, data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(WeightingSettings, survey.id) is None


def test_settings_post_without_csrf_is_refused(analyst, session):
    survey = make_survey(session, n_invited=10, seed=6)
    session.commit()
    response = analyst.post(f"/staff/surveys/{survey.id}/report/settings",
                            data={"enabled": "y", "method": "rake", "margins": ["gender"]})
    assert response.status_code == 400
    session.expire_all()
    assert session.get(WeightingSettings, survey.id) is None


@pytest.mark.parametrize("suffix", ["", "/settings", "/report.json", "/trend/trygg"])
def test_committee_members_get_403_and_anonymous_visitors_go_to_login(client, session, suffix):
    survey = make_survey(session, n_invited=10, seed=8)
    committee = make_staff(session, role="committee")
    session.commit()
    path = f"/staff/surveys/{survey.id}/report{suffix}"
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]
    log_in(client, committee.email)
    assert client.get(path).status_code == 403


def test_unknown_survey_is_404(analyst):
    assert analyst.get("/staff/surveys/999999/report").status_code == 404


def test_trend_page_shows_each_survey_with_its_interval(analyst, session):
    make_population(session)
    first = make_survey(session, n_invited=120, seed=10)
    second = make_survey(session, n_invited=120, seed=11)
    session.commit()
    page = analyst.get(f"/staff/surveys/{second.id}/report/trend/trygg").get_data(as_text=True)
    assert page.count("Trygghet 2026") >= 2
    assert "<svg" in page and "95 % KI" in page
    _no_nan(page)
    empty = analyst.get(f"/staff/surveys/{first.id}/report/trend/finns_inte").get_data(as_text=True)
    assert "Ingen skickad enkät ställer den här frågan." in empty


def test_report_json_is_the_document(analyst, session):
    from surveys.results.document import ReportDocument

    survey = make_survey(session, n_invited=80, seed=12)
    make_population(session)
    session.commit()
    response = analyst.get(f"/staff/surveys/{survey.id}/report/report.json")
    assert response.status_code == 200
    document = ReportDocument.from_json(response.get_data())
    assert document.survey.id == survey.id and document.weighting.status == "weighted"


def test_report_in_english_shows_english_texts_and_methods(analyst, session):
    survey = make_survey(session, n_invited=80, seed=13)
    make_population(session)
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/report?lang=en").get_data(as_text=True)
    assert "Do you feel safe?" in page and "Känner du dig trygg?" not in page
    assert "The answers were weighted by raking" in page
    _no_nan(page)


def test_share_and_number_filters_never_print_nan_or_infinity(app):
    from surveys.results.views import number_filter, share_filter

    with app.test_request_context("/?lang=sv"):
        for bad in (None, float("nan"), float("inf"), float("-inf")):
            assert share_filter(bad) == "–" and number_filter(bad) == "–"
        assert share_filter(0.425) == "42,5\u00a0%"


@pytest.mark.parametrize("settings, reason", [
    ({"method": "rake", "trim_upper": "1,5"}, "Gränserna för vikterna (högsta 1,5 gånger medelvikten) är för snäva"),
    ({"method": "logit", "trim_lower": "0,5", "trim_upper": "2"}, "Viktningen når inte befolkningssiffrorna"),
    ({"method": "truncated_linear", "trim_lower": "0,9", "trim_upper": "1,1"}, "Gränserna för vikterna"),
])
def test_settings_that_cannot_meet_the_population_figures_are_refused_in_swedish(analyst, session, settings,
                                                                                  reason):
    survey = make_survey(session, n_invited=200, seed=4)
    make_population(session)
    session.commit()
    path = f"/staff/surveys/{survey.id}/report/settings"
    data = {"csrf_token": csrf_token(analyst, path), "enabled": "y", "margins": ["gender", "age_group", "district"],
            "population_dataset": "", **settings}
    response = analyst.post(path, data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page
    assert "Inställningarna sparades inte, eftersom svaren inte kan viktas med dem" in page
    assert reason in page
    assert "cannot" not in page and "reweight" not in page and "did not converge" not in page
    session.expire_all()
    assert session.get(WeightingSettings, survey.id) is None
    # the same page with bounds that work saves
    data.update(trim_upper="5", trim_lower="0,2" if settings["method"] != "rake" else "")
    assert analyst.post(path, data=data).status_code == 302


def test_an_unweighted_report_never_shows_a_weighted_column_and_says_so_first(analyst, session):
    from surveys.results import services

    survey = make_survey(session, n_invited=200, seed=4)
    make_population(session)
    # saved before the figures changed, say: the report cannot be weighted with them
    services.save_settings(session, survey, services.ReportSettings(trim_upper=1.5))
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/report").get_data(as_text=True)
    assert ">Viktat<" not in page and "Designeffekt<" not in page and "Viktad andel" not in page
    assert "Hela gruppen: oviktat resultat (rapporten är inte viktad)" in page
    assert "oviktat resultat med 95 % konfidensintervall (rapporten är inte viktad)" in page
    assert "Oviktad andel inom varje kolumn" in page
    notice = page[page.index("Att tänka på"):page.index('id="svar"')]
    assert "Rapporten är oviktad: Svaren kan inte viktas med de valda inställningarna. Gränserna för vikterna" in notice
    assert "cannot meet" not in page and "reweight" not in page
    _no_nan(page)
    weighted = make_survey(session, n_invited=200, seed=4)
    session.commit()
    page = analyst.get(f"/staff/surveys/{weighted.id}/report").get_data(as_text=True)
    assert ">Viktat<" in page and "Rapporten är oviktad" not in page


def test_the_default_population_choice_names_the_figures_in_use_not_the_latest_upload(analyst, session):
    from panel.population.services import use_population

    survey = make_survey(session, n_invited=20, seed=5)
    chosen = make_population(session, name="Befolkning 2024")
    make_population(session, name="Befolkning 2025")  # uploaded later, not in use
    use_population(session, chosen, staff_id=None)
    session.commit()
    page = analyst.get(f"/staff/surveys/{survey.id}/report/settings").get_data(as_text=True)
    assert "De senast uppladdade" not in page
    default = re.search(r'<option[^>]*value=""[^>]*>([^<]*)</option>', page).group(1)
    assert "De som används nu: Befolkning 2024" in default
    assert "markerade ”Används”" in page


def test_an_unknown_population_dataset_is_refused_with_a_formatted_swedish_message(analyst, session):
    survey = make_survey(session, n_invited=20, seed=5)
    session.commit()
    path = f"/staff/surveys/{survey.id}/report/settings"
    response = analyst.post(path, data={"csrf_token": csrf_token(analyst, path), "enabled": "y", "method": "rake",
                                        "margins": ["gender"], "population_dataset": "999999"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "De valda befolkningssiffrorna finns inte. Välj i listan." in page
    assert "%(value)s" not in page and "%(" not in page
