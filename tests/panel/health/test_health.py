"""Panel health: every number checked against an independent computation on factory-built members."""

from __future__ import annotations

import math
from pathlib import Path
import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from analysis.targets import PopulationTable
from panel.health.services import panel_health
from panel.models import PanelExit, RecruitmentInvite, RecruitmentWave
from panel.population.services import save_population
from surveys.fielding.models import Invitation
from surveys.models import Survey
from tests.factories import make_district, make_member, make_staff
from tests.panel.districts.conftest import log_in
from tests.panel.population.conftest import cells

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
YEAR = NOW.year
BANDS = {20: "16-24", 30: "25-34", 50: "45-54", 70: "65-74"}

# Population: district × gender × single year of age (one age per band is enough).
POPULATION = {
    ("N", "kvinna", 20): 400, ("N", "kvinna", 30): 500, ("N", "kvinna", 50): 600, ("N", "kvinna", 70): 300,
    ("N", "man", 20): 420, ("N", "man", 30): 480, ("N", "man", 50): 590, ("N", "man", 70): 260,
    ("S", "kvinna", 20): 200, ("S", "kvinna", 30): 300, ("S", "kvinna", 50): 350, ("S", "kvinna", 70): 250,
    ("S", "man", 20): 210, ("S", "man", 30): 310, ("S", "man", 50): 330, ("S", "man", 70): 200,
    ("N", "kvinna", 10): 380, ("S", "man", 10): 190,  # children: outside every band
}
# Members: (district, gender, age) → how many active members.
MEMBERS = {
    ("N", "kvinna", 20): 3, ("N", "kvinna", 30): 6, ("N", "kvinna", 50): 10, ("N", "kvinna", 70): 9,
    ("N", "man", 20): 1, ("N", "man", 30): 4, ("N", "man", 50): 7, ("N", "man", 70): 6,
    ("S", "kvinna", 20): 2, ("S", "kvinna", 30): 2, ("S", "kvinna", 50): 5, ("S", "kvinna", 70): 6,
    ("S", "man", 20): 1, ("S", "man", 30): 2, ("S", "man", 50): 3, ("S", "man", 70): 4,
}


def save_figures(session, population=POPULATION):
    frame = pd.DataFrame([{"district": d, "gender": g, "age": a, "population": n}
                          for (d, g, a), n in population.items()])
    return save_population(session, PopulationTable.from_frame(frame, source="test"), name="Testbefolkning")


def seed(session, members=MEMBERS):
    districts = {"N": make_district(session, code="N", name="Norr"), "S": make_district(session, code="S", name="Söder")}
    for (d, g, a), n in members.items():
        for _ in range(n):
            make_member(session, district=districts[d], gender=g, birth_year=YEAR - a)
    return districts


def ipf(rows: list[tuple[str, str, str]], margins: dict[int, dict[str, float]]) -> np.ndarray:
    """Raking by hand (Deming & Stephan 1940): scale the weights to each margin in turn until they all hold."""
    w = np.ones(len(rows))
    for _ in range(2000):
        for position, target in margins.items():
            for level, total in target.items():
                mask = np.array([r[position] == level for r in rows])
                w[mask] *= total / w[mask].sum()
        if all(abs(w[np.array([r[p] == lv for r in rows])].sum() - t) < 1e-9 * t
               for p, target in margins.items() for lv, t in target.items()):
            break
    return w


def test_composition_and_weighting_match_an_independent_computation(session):
    seed(session)
    save_figures(session)
    session.commit()
    health = panel_health(session, now=NOW)
    assert health.n_active == sum(MEMBERS.values()) == 71
    assert health.variables == ("gender", "age_group", "district") and health.missing_variables == ()

    rows = [(g, BANDS[a], d) for (d, g, a), n in MEMBERS.items() for _ in range(n)]
    adults = {k: v for k, v in POPULATION.items() if k[2] >= 16}
    population = {
        "gender": Counter(), "age_group": Counter(), "district": Counter(), ("gender", "age_group"): Counter(),
    }
    for (d, g, a), n in adults.items():
        population["gender"][g] += n
        population["age_group"][BANDS[a]] += n
        population["district"][d] += n
        population[("gender", "age_group")][(g, BANDS[a])] += n
    counts = {"gender": Counter(r[0] for r in rows), "age_group": Counter(r[1] for r in rows),
              "district": Counter(r[2] for r in rows), ("gender", "age_group"): Counter((r[0], r[1]) for r in rows)}
    w = ipf(rows, {0: population["gender"], 1: population["age_group"], 2: population["district"]})

    for key in ("gender", "age_group", "district", ("gender", "age_group")):
        variables = (key,) if isinstance(key, str) else key
        comparison = health.comparison(*variables)
        pop_total = sum(population[key].values())
        for row in comparison.rows:
            level = row.keys[0] if len(row.keys) == 1 else row.keys
            assert row.count == counts[key][level]
            assert row.share == pytest.approx(counts[key][level] / len(rows))
            assert row.population == population[key][level]
            assert row.population_share == pytest.approx(population[key][level] / pop_total)
            assert row.difference_pp == pytest.approx(100 * (row.share - row.population_share))
            positions = [("gender", "age_group", "district").index(v) for v in variables]
            inside = np.array([tuple(r[p] for p in positions) == (row.keys) for r in rows])
            assert row.weighted_share == pytest.approx(w[inside].sum() / w.sum(), abs=1e-9)
        dissimilarity = 0.5 * sum(abs(r.share - r.population_share) for r in comparison.rows)
        assert comparison.dissimilarity == pytest.approx(dissimilarity)
    # after raking, every one-way margin holds
    assert all(abs(r.weighted_difference_pp) < 1e-6 for r in health.comparison("gender").rows)

    weighting = health.weighting
    kish = len(w) * (w ** 2).sum() / w.sum() ** 2
    assert weighting.design_effect == pytest.approx(kish, rel=1e-6)
    assert weighting.effective_n == pytest.approx(w.sum() ** 2 / (w ** 2).sum(), rel=1e-6)
    assert weighting.max_weight == pytest.approx(w.max(), rel=1e-6)
    assert (weighting.n_weighted, weighting.n_dropped, weighting.partial) == (71, 0, False)


def test_page_shows_the_tables_and_charts_with_the_same_numbers(client, session):
    seed(session)
    save_figures(session)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    page = client.get("/staff/health/").get_data(as_text=True)
    table = cells(page, "Aktiva medlemmar och befolkningen efter kön")
    women = sum(n for k, n in MEMBERS.items() if k[1] == "kvinna")
    assert table["Kvinna"][0] == str(women)
    assert table["Kvinna"][1] == f"{100 * women / 71:.1f} %".replace(".", ",")
    assert page.count('role="img"') == 3  # gender, age band, district charts
    assert "Kön: panelen och befolkningen" in page
    assert 'scope="col"' in page and 'scope="row"' in page
    for text in ("NaN", "nan %", "inf", "Infinity"):
        assert text not in re.sub(r"<svg.*?</svg>", "", page, flags=re.S)


def test_empty_stratum_and_zero_population_are_explained_without_nan(client, session):
    districts = seed(session)
    empty = make_district(session, code="E", name="Ödebygd")  # people live here, no member does
    zero = make_district(session, code="Z", name="Industriområdet")  # nobody lives here, a member says so
    make_member(session, district=zero, gender="man", birth_year=YEAR - 30)
    make_member(session, district=districts["N"], gender="annan", birth_year=YEAR - 40)
    figures = dict(POPULATION)
    figures.update({("E", "kvinna", 30): 150, ("E", "man", 30): 160, ("Z", "kvinna", 30): 0, ("Z", "man", 30): 0})
    save_figures(session, figures)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    health = panel_health(session, now=NOW)
    district = health.comparison("district")
    by_key = {r.keys[0]: r for r in district.rows}
    assert by_key["E"].count == 0 and by_key["E"].share == 0 and by_key["E"].population == 310
    assert by_key["Z"].population == 0 and by_key["Z"].population_share == 0 and by_key["Z"].count == 1
    assert district.empty_population == [("Z",)]
    assert health.comparison("gender").n_excluded == 1  # "annan": no SCB figures for that gender
    for comparison in health.comparisons:
        for row in comparison.rows:
            for value in (row.share, row.population_share, row.difference_pp, row.weighted_share,
                          row.weighted_difference_pp):
                assert value is None or math.isfinite(value)
    response = client.get("/staff/health/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Grupper där befolkningen är 0: Z" in page
    assert "Infinity" not in page and "NaN" not in page


def test_without_population_figures_the_page_says_so_and_links_to_the_upload(client, session):
    seed(session)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    page = client.get("/staff/health/").get_data(as_text=True)
    assert "Det finns inga befolkningsuppgifter ännu" in page
    assert 'href="/staff/population/"' in page
    planner = client.get("/staff/health/planner").get_data(as_text=True)
    assert "Det finns inga befolkningsuppgifter ännu" in planner


def test_an_empty_panel_is_explained(client, session):
    save_figures(session)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    page = client.get("/staff/health/").get_data(as_text=True)
    assert "Panelen har inga aktiva medlemmar ännu" in page


def make_wave(session, name, districts, invites):
    """invites: (district, gender, age, invited, joined) per stratum."""
    wave = RecruitmentWave(name=name, created_at=NOW - timedelta(days=40))
    session.add(wave)
    session.flush()
    n = 0
    for d, g, a, invited, joined in invites:
        for i in range(invited):
            n += 1
            session.add(RecruitmentInvite(
                wave_id=wave.id, person_ref=f"{name}-{n}", gender=g, birth_year=YEAR - a,
                district_id=districts[d].id, code=f"{wave.id:02d}{n:06d}"[:8],
                joined_at=NOW - timedelta(days=30) if i < joined else None))
    session.flush()
    return wave


def test_sources_and_join_rates_per_stratum(session):
    districts = seed(session)
    spring = make_wave(session, "Våren", districts, [("N", "kvinna", 30, 40, 10), ("N", "man", 20, 50, 4),
                                                      ("S", "kvinna", 70, 30, 9)])
    autumn = make_wave(session, "Hösten", districts, [("S", "man", 20, 60, 3), ("N", "kvinna", 30, 20, 6)])
    make_member(session, district=districts["S"], gender="man", birth_year=YEAR - 20, source="wave",
                recruitment_wave_id=autumn.id)
    make_member(session, district=districts["S"], gender="man", birth_year=YEAR - 22, source="wave",
                recruitment_wave_id=autumn.id, status="paused")  # not active: not counted
    session.commit()
    health = panel_health(session, now=NOW)
    assert [(s.label, s.members) for s in health.sources] == [("open", 71), ("Hösten", 1)]
    rates = health.join_rates
    assert (rates.total.invited, rates.total.joined) == (200, 32)
    assert {r.key: (r.invited, r.joined) for r in rates.by_wave} == {"Våren": (120, 23), "Hösten": (80, 9)}
    assert {r.key: (r.invited, r.joined) for r in rates.by_gender} == {"kvinna": (90, 25), "man": (110, 7)}
    assert {r.key: r.rate for r in rates.by_age_group} == {"16-24": 7 / 110, "25-34": 16 / 60, "65-74": 9 / 30}
    assert {r.key: (r.invited, r.joined) for r in rates.by_district} == {"N": (110, 20), "S": (90, 12)}
    strata = {(g, band, d): (r.invited, r.joined) for g, band, d, r in rates.by_stratum}
    assert strata == {("kvinna", "25-34", "N"): (60, 16), ("man", "16-24", "N"): (50, 4),
                      ("kvinna", "65-74", "S"): (30, 9), ("man", "16-24", "S"): (60, 3)}
    assert spring.id != autumn.id
    assert rates.r_indicator is not None and 0 < rates.r_indicator < 1


def test_attrition_and_contacts_per_member(session):
    districts = seed(session, {("N", "kvinna", 30): 4})
    members = [m for m in session.query(__import__("panel.models", fromlist=["Member"]).Member)]
    make_member(session, district=districts["N"], status="paused")
    make_member(session, district=districts["N"], status="unsubscribed")
    make_member(session, district=districts["N"], status="pending")
    session.add_all([PanelExit(left_month="2026-05", source="open", gender="man", age_group="25-34",
                               months_in_panel=3),
                     PanelExit(left_month="2024-01", source="open", gender="man", age_group="25-34",
                               months_in_panel=9)])
    surveys = [Survey(title=f"Enkät {i}", definition={}) for i in range(3)]
    session.add_all(surveys)
    session.flush()
    n = 0

    def invite(survey, member, days_ago, opened=False, completed=False):
        nonlocal n
        n += 1
        at = NOW - timedelta(days=days_ago)
        session.add(Invitation(survey_id=survey.id, member_id=member.id, token_digest=f"{n:064d}", gender="kvinna",
                               age_group="25-34", district_code="N", created_at=at,
                               opened_at=at if opened or completed else None,
                               completed_at=at if completed else None))

    a, b, c, d = members
    invite(surveys[0], a, 20, completed=True)   # a: answered
    invite(surveys[1], a, 60)
    invite(surveys[2], a, 200)
    invite(surveys[0], b, 20, opened=True)      # b: opened, never answered → inactive
    invite(surveys[1], b, 100)
    invite(surveys[0], c, 5)                    # c: invited 5 days ago only (too recent to count), never opened
    session.commit()                            # d: never invited
    health = panel_health(session, now=NOW)
    attrition = health.attrition
    assert (attrition.active, attrition.paused, attrition.unsubscribed, attrition.pending) == (4, 1, 1, 1)
    assert (attrition.left_total, attrition.left_last_12_months) == (2, 1)
    assert attrition.invited_recently == 2 and attrition.inactive == 1
    assert attrition.never_opened == 1 and attrition.never_invited == 1
    contacts = {row.days: row for row in health.contacts}
    assert (contacts[30].invitations, contacts[30].members_contacted, contacts[30].max_per_member) == (3, 3, 1)
    assert contacts[30].per_active_member == pytest.approx(3 / 4)
    assert contacts[30].distribution == {"0": 1, "1": 3, "2": 0, "3+": 0}
    assert (contacts[90].invitations, contacts[90].distribution) == (4, {"0": 1, "1": 2, "2": 1, "3+": 0})
    assert (contacts[365].invitations, contacts[365].distribution) == (6, {"0": 1, "1": 1, "2": 1, "3+": 1})


def test_one_way_figures_compare_the_margins_without_crosses(client, session):
    from analysis.targets import read_population

    seed(session)
    women, men = sum(v for k, v in POPULATION.items() if k[1] == "kvinna"), sum(
        v for k, v in POPULATION.items() if k[1] == "man")
    north = sum(v for k, v in POPULATION.items() if k[0] == "N")
    text = ("variable,category,population\n"
            f"gender,kvinna,{women}\ngender,man,{men}\n"
            f"district,N,{north}\ndistrict,S,{women + men - north}\n")
    table = read_population(text.encode(), filename="one-way.csv")
    assert table.one_way
    save_population(session, table, name="Marginaler")
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    health = panel_health(session, now=NOW)
    assert [c.variables for c in health.comparisons] == [("gender",), ("district",)]
    assert health.missing_variables == ("age_group",)
    district = {r.keys[0]: r for r in health.comparison("district").rows}
    assert district["N"].population_share == pytest.approx(north / (women + men))
    assert district["N"].weighted_share == pytest.approx(north / (women + men))
    assert client.get("/staff/health/").status_code == 200


@pytest.mark.skipif(not (Path(__file__).resolve().parents[3].parent / "shared" / "scb_samples").is_dir(),
                    reason="the shared SCB samples are not checked out beside the repo")
def test_ten_year_age_groups_that_straddle_the_bands_are_explained(client, session):
    from analysis.targets import read_population

    seed(session)
    path = Path(__file__).resolve().parents[3].parent / "shared" / "scb_samples" / "TAB6471_data.json"
    table = read_population(path).select(period="2026M01", region="09")
    save_population(session, table, name="Gotland januari 2026")
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    health = panel_health(session, now=NOW)
    assert health.variables == ("gender",) and "age_group" in health.missing_variables
    note = next(note for note in health.notes if "går över gränsen mellan panelens åldersgrupper" in note)
    assert "ettårsklasser" in note and "with_age_bands" not in note and "overlaps" not in note
    page = client.get("/staff/health/").get_data(as_text=True)
    assert "går över gränsen mellan panelens åldersgrupper" in page


def test_figures_whose_districts_match_no_member_are_explained_not_a_500(client, session):
    seed(session)
    figures = {(("X" if d == "N" else "Y"), g, a): n for (d, g, a), n in POPULATION.items()}
    save_figures(session, figures)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    health = panel_health(session, now=NOW)
    assert health.comparison("district") is None and health.comparison("gender") is not None
    assert any("Jämförelsen efter område kunde inte göras" in note for note in health.notes)
    assert health.weighting is None and "kan inte vägas" in health.weighting_problem
    # the districts without figures are named, by their names, with what to do; no English from analysis
    assert "Befolkningssiffror saknas för område" in health.weighting_problem
    assert "områdeskoder" in health.weighting_problem
    for text in [health.weighting_problem, *health.notes]:
        assert not any(word in text for word in ("respondents", "targets", "margin", "drop_unmatched")), text
    response = client.get("/staff/health/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Befolkningssiffror saknas för område" in page
    assert "respondents" not in page


def test_r_indicator_notes_are_shown_in_swedish_with_the_pages_names(client, session):
    districts = seed(session)
    make_wave(session, "Våren", districts, [("N", "kvinna", 30, 40, 10), ("N", "man", 20, 50, 4),
                                            ("S", "kvinna", 70, 30, 0), ("S", "man", 20, 60, 0)])
    save_figures(session)
    log_in(client, make_staff(session, "analyst"))
    session.commit()
    page = client.get("/staff/health/").get_data(as_text=True)
    notes = re.search(r"Anmärkningar om beräkningen av R-indikatorn</summary>\s*<ul>(.*?)</ul>", page, re.S)
    assert notes, "the R-indicator's notes are not on the page"
    items = [re.sub(r"\s+", " ", item) for item in re.findall(r"<li>(.*?)</li>", notes.group(1), re.S)]
    assert "Ingen av de inbjudna med område ”Söder” gick med. Modellens sannolikhet där är 0, så medelfelet är " \
           "osäkert; slå gärna ihop små grupper." in items
    assert any(item.startswith("Ingen av de inbjudna med åldersgrupp ”65-74” gick med.") for item in items)
    assert any(item.startswith("Modellens grupper beror av varandra") for item in items)  # 4 strata, 5 parameters
    for english in ("has no respondents", "linearly dependent", "age_group", "district"):
        assert english not in notes.group(1)
