"""Population figures: upload → preview → confirm → versions, every real SCB format, bad files."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from panel.db import utcnow
from panel.demo_seed import DESO_KEY, SCB_EXPORT
from panel.models import DesoDistrict, District, PopulationDataset
from panel.population.models import PendingPopulationUpload, PopulationInUse
from panel.population.services import MAX_UPLOAD_BYTES, load_population, population_in_use
from tests.conftest import csrf_token
from tests.factories import make_staff
from tests.panel.districts.conftest import log_in
from tests.panel.population.conftest import SAMPLES, cells, confirm, needs_samples, pending_id, upload


def stored(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(PopulationDataset))


def pending_rows(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(PendingPopulationUpload))


def test_demo_export_preview_shows_what_was_read_then_confirm_saves_it(client, session, analyst):
    response = upload(client, SCB_EXPORT.read_bytes(), SCB_EXPORT.name, name="Gotland 2020")
    assert response.status_code == 302
    assert stored(session) == 0  # nothing saved before the analyst confirms
    pending = pending_id(response)
    page = plain(client.get(f"/staff/population/preview/{pending}").get_data(as_text=True))
    assert "60 124" in page and "2020-12-31" in page and "scb-csv" in page
    assert cells(page, "Efter kön") == {"Kön": ["Befolkning"], "Kvinna": ["30 152"], "Man": ["29 972"]}
    ages = cells(page, "Efter åldersgrupp (panelens åldersgrupper)")
    # Gotland 16+ from ../shared/data/README.md: 24 852 men + 25 362 women.
    assert sum(int(v[0].replace(" ", "")) for k, v in ages.items() if k != "Åldersgrupp") == 24852 + 25362
    assert "summerat över civilstånd (4 kategorier: " in page  # the importer's note, in Swedish
    assert "summed over" not in page

    response = confirm(client, pending)
    assert response.status_code == 302
    assert stored(session) == 1 and pending_rows(session) == 0
    dataset = population_in_use(session)
    assert (dataset.name, dataset.total, dataset.reference_date) == ("Gotland 2020", 60124, "2020-12-31")
    assert dataset.uploaded_by_id == analyst.id
    page = client.get("/staff/population/").get_data(as_text=True)
    assert "Gotland 2020" in page and "Används" in page
    # the pending upload is gone: confirming twice saves nothing more
    assert confirm_again(client, pending) == 404
    assert stored(session) == 1


def plain(page: str) -> str:
    return page.replace("\xa0", " ").replace("&nbsp;", " ").replace("\u202f", " ")


def confirm_again(client, pending: str) -> int:
    token = csrf_token(client, "/staff/population/")
    return client.post(f"/staff/population/preview/{pending}", data={"csrf_token": token}).status_code


SAMPLE_CASES = [
    # file, period, region, expected total, reference date, the serious problems that need a confirmation
    ("BE0101N1_20210513-223812_SE214-excerpt.csv", "", "", 60124, "2020-12-31", set()),
    ("0000088D_20260309-173522_en.csv", "", "", None, "2025-12-31", {"one_gender", "whole_country"}),
    ("BE0101A1_pxweb-example_en.px", "2005", "09", None, "2005-12-31", set()),
    ("BE0101N1_TAB638_sv.px", "", "0114", None, "2021-12-31", {"partial_category", "partial_ages"}),
    ("TAB6471_data.json", "2026M01", "09", None, "2026-01-31", {"age_bands"}),  # ten-year groups
    ("api-v1_BefolkningNy-3e8562-POST.json", "", "", None, "2024-12-31",
     {"whole_country", "one_gender", "partial_ages", "partial_category"}),
    ("BE0101A1hier_pxweb-example_en.px", "", "0980", None, "2004-12-31", {"no_age"}),
]


@needs_samples
@pytest.mark.parametrize("filename, period, region, total, reference_date, problems", SAMPLE_CASES)
def test_every_real_scb_format_goes_through_preview_and_confirm(client, app, session, analyst, filename, period,
                                                                region, total, reference_date, problems):
    from panel.population.services import check_fit, read_upload, serious

    from analysis.targets import read_population

    path = SAMPLES / filename
    response = upload(client, path.read_bytes(), filename, name=filename, period=period, region=region)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert reference_date in page
    found = {problem.code for problem in serious(check_fit(
        session, read_upload(session, path.read_bytes(), filename=filename, period=period, region=region),
        municipality=app.config["PANEL_MUNICIPALITY"]))}
    assert found == problems
    if problems:  # figures that do not fit the panel are saved only with the box ticked
        assert "Uppgifterna passar inte panelen" in page
        assert confirm(client, pending_id(response)).status_code == 400
        assert stored(session) == 0
    assert confirm(client, pending_id(response), accept=bool(problems)).status_code == 302
    table = load_population(population_in_use(session))
    # Independently: the importer on the file, narrowed to the same period and region.
    expected = read_population(path)
    if len(expected.periods) > 1:
        expected = expected.select(period=period or expected.periods[-1])
    if region:
        expected = expected.select(region=region)
    assert table.total == expected.total == (total or expected.total)
    assert table.reference_date == reference_date
    assert f"{table.total:,}".replace(",", " ") in plain(page)


@needs_samples
def test_a_file_with_many_counties_asks_which_one(client, session, analyst):
    response = upload(client, (SAMPLES / "BE0101A1_pxweb-example_en.px").read_bytes(), "BE0101A1.px")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Filen har 21 regioner" in page and "Ingenting sparades" in page
    assert stored(session) == 0 and pending_rows(session) == 0


def test_several_periods_keep_the_latest_and_say_so(client, session, analyst):
    text = "period,gender,population\n2024,kvinna,100\n2024,man,90\n2025,kvinna,101\n2025,man,95\n"
    response = upload(client, text.encode(), "tva-ar.csv")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Filen har 2 perioder; den senaste (2025) används." in page
    confirm(client, pending_id(response), accept=True)  # a small file without ages
    assert population_in_use(session).total == 196


def test_deso_figures_are_summed_into_the_districts_by_the_deso_mapping(client, session, analyst):
    import csv

    with DESO_KEY.open(encoding="utf-8") as handle:
        key = list(csv.DictReader(handle))
    districts = {}
    for row in key:
        code = row["regso_2020_code"]
        if code not in districts:
            districts[code] = District(code=code, name=row["regso_2020_name"])
            session.add(districts[code])
    session.flush()
    for row in key:
        session.add(DesoDistrict(deso_code=row["deso_2018"], regso_code=row["regso_2020_code"],
                                 district_id=districts[row["regso_2020_code"]].id))
    session.commit()
    lines = ["region,gender,population"]
    expected: dict[str, int] = {}
    for i, row in enumerate(key):
        women, men = 500 + 7 * i, 480 + 5 * i
        lines += [f"{row['deso_2018']},kvinna,{women}", f"{row['deso_2018']},man,{men}"]
        expected[row["regso_2020_name"]] = expected.get(row["regso_2020_name"], 0) + women + men
    lines.append("0114C1010,kvinna,999")  # another municipality's DeSO: left out, and said so
    response = upload(client, "\n".join(lines).encode(), "deso.csv")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 DeSO utanför panelens områden lämnades bort." in page
    by_district = cells(page, "Efter område")
    assert {k.split(" (")[0]: int(v[0].replace(" ", "")) for k, v in by_district.items() if k != "Område"} == expected
    confirm(client, pending_id(response), accept=True)  # a small file without ages
    table = load_population(population_in_use(session))
    assert table.dims == ("district", "gender") and len(table.margin("district")) == 12


BAD_FILES = [
    (b"", "tom.csv", "Filen är tom"),
    (b"PK\x03\x04" + b"\x00" * 200, "befolkning.zip", "ZIP-arkiv"),
    (bytes(range(256)) * 20, "skrap.bin", "kunde inte läsas som befolkningsstatistik"),
    (b"%PDF-1.7\n" + b"\x00\x01" * 100, "rapport.pdf", "kunde inte läsas som befolkningsstatistik"),
    ("hej;hopp\nett;två\n".encode(), "ord.csv", "kunde inte läsas som befolkningsstatistik"),
    (b'{"not": "scb"}', "x.json", "kunde inte läsas som befolkningsstatistik"),
    (b"x" * (MAX_UPLOAD_BYTES + 10), "stor.csv", "Filen är för stor"),
]


@pytest.mark.parametrize("content, filename, message", BAD_FILES)
def test_bad_files_get_a_swedish_message_and_nothing_is_saved(client, session, analyst, content, filename, message):
    response = upload(client, content, filename)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and "Ingenting sparades" in page
    assert stored(session) == 0 and pending_rows(session) == 0


def test_a_body_over_the_request_limit_is_413(client, app, session, analyst):
    response = upload(client, b"1" * (app.config["MAX_CONTENT_LENGTH"] + 1), "enorm.csv")
    assert response.status_code == 413
    assert stored(session) == 0 and pending_rows(session) == 0


def test_missing_name_or_file_is_a_form_error(client, session, analyst):
    token = csrf_token(client, "/staff/population/")
    response = client.post("/staff/population/", data={"csrf_token": token, "name": ""})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Skriv ett namn." in page and "Välj filen." in page


def test_the_pending_file_belongs_to_its_uploader_and_expires(client, app, session, analyst):
    response = upload(client, SCB_EXPORT.read_bytes(), SCB_EXPORT.name)
    pending = pending_id(response)
    other = app.test_client()
    log_in(other, make_staff(session, "analyst"))
    session.commit()
    assert other.get(f"/staff/population/preview/{pending}").status_code == 404
    assert confirm_again(other, pending) == 404
    assert client.get("/staff/population/preview/not-a-real-id").status_code == 404
    row = session.get(PendingPopulationUpload, pending)
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert client.get(f"/staff/population/preview/{pending}").status_code == 404
    assert confirm_again(client, pending) == 404
    assert stored(session) == 0


def test_cancel_keeps_nothing(client, session, analyst):
    pending = pending_id(upload(client, SCB_EXPORT.read_bytes(), SCB_EXPORT.name))
    token = csrf_token(client, f"/staff/population/preview/{pending}")
    assert client.post(f"/staff/population/preview/{pending}/cancel", data={"csrf_token": token}).status_code == 302
    assert stored(session) == 0 and pending_rows(session) == 0


def test_versions_are_kept_and_an_older_one_can_be_put_in_use(client, session, analyst):
    confirm(client, pending_id(upload(client, SCB_EXPORT.read_bytes(), SCB_EXPORT.name, name="Först")))
    confirm(client, pending_id(upload(client, b"gender,population\nkvinna,3\nman,4\n", "liten.csv", name="Sedan")),
            accept=True)  # no ages
    assert population_in_use(session).name == "Sedan"  # the latest by default
    first = session.scalar(select(PopulationDataset).where(PopulationDataset.name == "Först"))
    page = client.get("/staff/population/").get_data(as_text=True)
    rows = cells(page, "Alla uppladdade befolkningsuppgifter, den senaste först")
    assert list(rows)[1:] == ["Sedan", "Först"]
    assert rows["Sedan"][-1] == "Används" and rows["Först"][3] == "60 124"
    assert rows["Först"][2] == analyst.name and rows["Först"][0] == "2020-12-31"
    token = csrf_token(client, "/staff/population/")
    assert client.post(f"/staff/population/{first.id}/use", data={"csrf_token": token}).status_code == 302
    session.expire_all()
    assert population_in_use(session).name == "Först"
    assert client.get(f"/staff/population/{first.id}").status_code == 200
    # a new upload becomes the one in use again
    confirm(client, pending_id(upload(client, b"gender,population\nkvinna,5\nman,5\n", "ny.csv", name="Nyast")),
            accept=True)  # no ages
    session.expire_all()
    assert population_in_use(session).name == "Nyast" and session.get(PopulationInUse, 1) is None
    assert stored(session) == 3


def test_use_needs_csrf(client, session, analyst):
    confirm(client, pending_id(upload(client, SCB_EXPORT.read_bytes(), SCB_EXPORT.name, name="Först")))
    dataset = population_in_use(session)
    assert client.post(f"/staff/population/{dataset.id}/use").status_code == 400


@pytest.mark.parametrize("path", ["/staff/population/", "/staff/health/", "/staff/health/planner",
                                  "/staff/health/planner/draw-request.csv"])
def test_analyst_pages_are_closed_to_committee_members_and_visitors(client, session, path):
    assert client.get(path).status_code == 302  # to the login page
    log_in(client, make_staff(session, "committee"))
    session.commit()
    assert client.get(path).status_code == 403


def test_deso_figures_without_a_deso_mapping_are_refused_with_the_reason(client, session, analyst):
    response = upload(client, b"region,gender,population\n0980C1120,kvinna,10\n0980C1120,man,12\n", "deso.csv")
    assert response.status_code == 400
    assert "ingen av dess DeSO finns i panelens DeSO-koppling" in response.get_data(as_text=True)
    assert stored(session) == 0 and pending_rows(session) == 0


def test_a_region_not_in_the_file_is_named(client, session, analyst):
    text = "region,gender,population\n0980,kvinna,10\n0980,man,12\n0180,kvinna,5\n0180,man,6\n"
    response = upload(client, text.encode(), "kommuner.csv", region="1460")
    assert response.status_code == 400
    assert "Regionen 1460 finns inte i filen." in response.get_data(as_text=True)
    response = upload(client, text.encode(), "kommuner.csv", region="0180")
    assert response.status_code == 302
    confirm(client, pending_id(response), accept=True)  # a small file without ages
    assert population_in_use(session).total == 11


def test_overview_links_analysts_to_the_health_pages(client, session, analyst):
    page = client.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/health/"' in page and 'href="/staff/population/"' in page
