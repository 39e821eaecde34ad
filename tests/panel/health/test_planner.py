"""Recruitment planner: the plan, its margins, the draw request CSV and the pre-filled wave form."""

from __future__ import annotations

import csv
import io
import re

import pytest

from panel.health.services import PlanProblem, plan_recruitment
from tests.factories import make_staff
from tests.panel.districts.conftest import log_in
from tests.panel.health.test_health import NOW, YEAR, make_wave, save_figures, seed


def table_rows(page: str, caption: str) -> list[list[str]]:
    table = re.search(rf"<caption>{re.escape(caption)}</caption>(.*?)</table>", page, re.S).group(1)
    return [[re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).replace("\xa0", " ").strip()
             for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]


def test_plan_brings_every_margin_within_the_tolerance_using_earlier_join_rates(session):
    districts = seed(session)
    save_figures(session)
    make_wave(session, "Våren", districts, [("N", "kvinna", 30, 40, 10), ("N", "man", 20, 50, 4),
                                            ("S", "kvinna", 70, 30, 9), ("S", "man", 50, 30, 6)])
    session.commit()
    plan = plan_recruitment(session, now=NOW, tolerance_pp=2.0)
    assert plan.variables == ("gender", "age_group", "district")
    assert plan.invitations == sum(s.invitations for s in plan.strata) > 0
    assert plan.history_invited == 150
    # Independently: the expected panel after the plan, margin by margin.
    members = {"gender": {}, "age_group": {}, "district": {}}
    from tests.panel.health.test_health import BANDS, MEMBERS, POPULATION
    for (d, g, a), n in MEMBERS.items():
        for key, level in (("gender", g), ("age_group", BANDS[a]), ("district", d)):
            members[key][level] = members[key].get(level, 0) + n
    expected_new = sum(s.expected_joiners for s in plan.strata)
    assert plan.expected_new_members == pytest.approx(expected_new)
    for margin in plan.margins:
        added = sum(s.expected_joiners for s in plan.strata if getattr(s, margin.variable) == margin.category)
        after = (members[margin.variable].get(margin.category, 0) + added) / (71 + expected_new)
        assert margin.share_after == pytest.approx(after)
        population = {k: v for k, v in POPULATION.items() if k[2] >= 16}
        position = ("district", "gender", "age").index(margin.variable if margin.variable != "age_group" else "age")
        share = sum(v for k, v in population.items()
                    if (BANDS[k[2]] if position == 2 else k[position]) == margin.category) / sum(population.values())
        assert margin.population_share == pytest.approx(share)
        assert abs(after - share) <= 0.02 + 1e-9
    # shrunk join rates: (joined + m p0) / (invited + m), p0 = 29/150, m = 10
    rate = {(s.gender, s.age_group, s.district): s for s in plan.strata}
    p0 = 29 / 150
    for key, stratum in rate.items():
        history = {("kvinna", "25-34", "N"): (40, 10), ("man", "16-24", "N"): (50, 4),
                   ("kvinna", "65-74", "S"): (30, 9), ("man", "45-54", "S"): (30, 6)}.get(key, (0, 0))
        assert stratum.join_rate == pytest.approx((history[1] + 10 * p0) / (history[0] + 10))
        assert stratum.rate_from_prior_only == (history[0] == 0)
        assert stratum.expected_joiners == pytest.approx(stratum.invitations * stratum.join_rate)


def test_without_history_the_plan_needs_an_assumed_join_rate(session):
    seed(session)
    save_figures(session)
    session.commit()
    with pytest.raises(PlanProblem) as problem:
        plan_recruitment(session, now=NOW)
    # what is wrong and what to do, in the analyst's language: not analysis' English for programmers
    assert "Inga brev har skickats i tidigare rekryteringar" in problem.value.detail
    assert "antagen andel" in problem.value.detail and "prior_rate" not in problem.value.detail
    plan = plan_recruitment(session, now=NOW, prior_rate=0.1)
    assert all(s.rate_from_prior_only and s.join_rate == pytest.approx(0.1) for s in plan.strata)


def test_planner_page_draw_request_and_prefilled_wave_form(client, session):
    districts = seed(session)
    save_figures(session)
    make_wave(session, "Våren", districts, [("N", "kvinna", 30, 40, 10), ("N", "man", 20, 50, 4)])
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    response = client.get("/staff/health/planner?tolerance=3&prior_rate=12")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    plan = plan_recruitment(session, now=NOW.replace(year=YEAR), tolerance_pp=3.0, prior_rate=0.12)
    table = table_rows(page, "Brev per grupp (bara grupper som ska få brev)")
    assert table[0] == ["Kön", "Åldersgrupp", "Område", "Född", "Medlemmar nu", "Andel som väntas gå med", "Brev",
                        "Väntade nya medlemmar"]
    assert sum(int(row[6]) for row in table[1:]) == plan.invitations
    assert len(table) - 1 == len(plan.strata)
    assert 'action="/staff/recruitment/new"' in page and "Rekrytering enligt plan" in page
    download = client.get("/staff/health/planner/draw-request.csv?tolerance=3&prior_rate=12")
    assert download.status_code == 200 and download.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))
    assert sum(int(r["antal_att_dra"]) for r in rows) == plan.invitations
    for row in rows:
        band = row["aldersgrupp"]
        low, high = (int(x) for x in band.split("-")) if "-" in band else (int(band.rstrip("+")), None)
        assert int(row["fodd_till_och_med"]) == YEAR - low
        assert row["fodd_fran_och_med"] == ("" if high is None else str(YEAR - high))
        assert row["omrade"] in ("Norr", "Söder")


def test_bad_planner_settings_are_a_form_error_not_a_500(client, session):
    seed(session)
    save_figures(session)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    response = client.get("/staff/health/planner?tolerance=abc&new_members=-3")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Det finns fel i formuläret" in page
    assert page.count("Skriv ett tal, till exempel 2 eller 2,5.") == 2  # summary and field, once each
    assert "Skriv ett tal mellan 0 och 50" not in page and "decimaltal" not in page  # not a second, generic error
    assert client.get("/staff/health/planner/draw-request.csv?tolerance=abc").status_code == 400
    impossible = client.get("/staff/health/planner?tolerance=0&new_members=100000&prior_rate=1")
    assert impossible.status_code == 200
    assert "Ingen plan kunde räknas fram" in impossible.get_data(as_text=True)


def test_planner_page_explains_a_missing_join_rate_in_swedish_not_marked_english(client, session):
    seed(session)
    save_figures(session)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    page = client.get("/staff/health/planner").get_data(as_text=True)
    assert "Ingen plan kunde räknas fram" in page
    assert "Inga brev har skickats i tidigare rekryteringar. Ange en antagen andel som går med." in page
    assert "Detaljer:" not in page and "give prior_rate" not in page and "join_history" not in page


@pytest.mark.parametrize("query, tolerance, prior_rate", [
    ("tolerance=3&prior_rate=0.01", 3.0, 0.0001),  # the field's own lowest value
    ("tolerance=3&prior_rate=0,01", 3.0, 0.0001),
    ("tolerance=2,5&prior_rate=12,5", 2.5, 0.125),  # Swedish decimal comma
    ("tolerance=2.5&prior_rate=12.5", 2.5, 0.125),
])
def test_planner_accepts_the_lowest_rate_and_a_decimal_comma(client, session, monkeypatch, query, tolerance,
                                                             prior_rate):
    from panel.health import services

    seed(session)
    save_figures(session)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    calls = []
    real = services.plan_recruitment
    monkeypatch.setattr(services, "plan_recruitment", lambda *a, **k: calls.append(k) or real(*a, **k))
    response = client.get("/staff/health/planner?" + query)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "Det finns fel i formuläret" not in page
    assert calls[-1]["tolerance_pp"] == pytest.approx(tolerance)
    assert calls[-1]["prior_rate"] == pytest.approx(prior_rate)
    for name in ("tolerance", "prior_rate"):  # a text box: a number box drops a comma in some browsers
        assert re.search(rf'<input[^>]*id="{name}"[^>]*inputmode="decimal"[^>]*type="text"', page), name


@pytest.mark.parametrize("query", ["prior_rate=0", "prior_rate=100,5", "prior_rate=abc", "tolerance=51",
                                   "tolerance=nan", "prior_rate=inf"])
def test_planner_refuses_rates_out_of_range_in_swedish(client, session, query):
    seed(session)
    save_figures(session)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    response = client.get("/staff/health/planner?" + query)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert any(message in page for message in ("Skriv en procentsats från 0,01 till 100.",
                                               "Skriv ett tal mellan 0 och 50.",
                                               "Skriv ett tal, till exempel 2 eller 2,5."))  # not a number at all


def test_planner_hint_says_the_assumed_rate_weighs_in_for_every_group(client, session):
    seed(session)
    save_figures(session)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    page = client.get("/staff/health/planner").get_data(as_text=True)
    assert "Används för grupper som inte bjudits in förut" not in page
    assert "som om den gällde 10 extra brev till gruppen" in page
