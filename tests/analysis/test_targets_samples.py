"""Every real SCB file in ../shared/scb_samples imported, with numbers checked by hand.

Where ../shared/data holds a CSV derived from one of these files (see its
README), the importer must reproduce it byte for byte: the only steps allowed in
the test are the README's relabelling (sex codes, "kommun 0980" for Gotland,
"100+" for the open age) and the README's 10-year bins.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.targets import AgeBands, period_end, read_deso_regso_key, read_population

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLES = SHARED / "scb_samples"
DATA = SHARED / "data"

pytestmark = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"the shared SCB samples are not checked out beside the repo ({SAMPLES})"
)

SEX_CODE = {"man": "1", "kvinna": "2"}
SEX_LABEL = {"man": "män", "kvinna": "kvinnor"}
GOTLAND_2020 = "BE0101N1_20210513-223812_SE214-excerpt.csv"


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def age_text(age: pd.Series, open_age: int | None) -> pd.Series:
    return age.map(lambda a: f"{a}+" if a == open_age else str(a))


@pytest.fixture(scope="module")
def gotland_2020():
    return read_population(SAMPLES / GOTLAND_2020)


def derived_sex_age(table, *, kommun_code: str, kommun: str, age_column: str) -> pd.DataFrame:
    d = table.data
    out = pd.DataFrame({
        "kommun_code": kommun_code,
        "kommun": kommun,
        "period": d["period"],
        "ref_date": d["period"].map(period_end),
        "sex_code": d["gender"].map(SEX_CODE),
        "sex": d["gender"].map(SEX_LABEL),
        "age_group": (age_text(d["age"], table.open_age) if age_column == "age"
                      else d["age_group"].astype(str)),
        "population": d["population"],
        "_order": d["age"] if age_column == "age" else d["age_group"].cat.codes,
    })
    out = out.sort_values(["period", "sex_code", "_order"], kind="stable").drop(columns="_order")
    return out.reset_index(drop=True)


# ---------------------------------------------------------------- Gotland 2020
def test_gotland_2020_reproduces_the_derived_single_year_file_exactly(gotland_2020):
    table = gotland_2020
    assert table.source.format == "scb-csv"
    assert table.source.title == "Folkmängd efter region, civilstånd, ålder, kön och år"
    assert table.region_level == "län" and table.region_names == {"SE214": "Gotlands län"}
    assert table.open_age == 100 and table.reference_date == "2020-12-31"
    assert not table.cell_key_noise and table.warnings == ()
    assert any("civilstånd" in note for note in table.notes)
    out = derived_sex_age(table, kommun_code="0980", kommun="Gotland", age_column="age")
    expected = (DATA / "gotland_0980_2020_sex_age1.csv").read_text(encoding="utf-8")
    assert csv_text(out) == expected


def test_gotland_2020_checks_from_the_readme(gotland_2020):
    table = gotland_2020
    assert table.total == 60124
    assert table.margin("gender").to_dict() == {"kvinna": 30152, "man": 29972}
    adults = table.data[table.data["age"] >= 18].groupby("gender")["population"].sum()
    assert adults.to_dict() == {"kvinna": 24791, "man": 24251}
    banded = table.with_age_bands("16-24,25-34,35-44,45-54,55-64,65-74,75+")
    assert banded.margin("gender").to_dict() == {"kvinna": 25362, "man": 24852}
    # raw file, hand-summed: 0 år män = ogifta 235 (+ 0 in the other three groups)
    assert table.data.query("gender == 'man' and age == 0")["population"].item() == 235
    # 100+ år kvinnor: änkor/änklingar 14, all other civilstånd 0
    assert table.data.query("gender == 'kvinna' and age == 100")["population"].item() == 14


def test_gotland_2020_in_ten_year_bins_reproduces_the_derived_file(gotland_2020):
    bands = AgeBands.parse("0-9,10-19,20-29,30-39,40-49,50-59,60-69,70-79,80-89,90-99,100+")
    table = gotland_2020.with_age_bands(bands)
    assert table.data["age_group"].cat.categories.tolist() == list(bands.labels)
    out = derived_sex_age(table, kommun_code="0980", kommun="Gotland", age_column="age_group")
    expected = (DATA / "gotland_0980_2020_sex_age10.csv").read_text(encoding="utf-8")
    assert csv_text(out) == expected


def test_gotland_2020_rows_of_the_county_file_are_reproduced(gotland_2020):
    d = gotland_2020.data
    out = pd.DataFrame({
        "nuts3_code": d["region"], "region": d["region"].map(gotland_2020.region_names),
        "period": d["period"], "ref_date": "2020-12-31",
        "sex_code": d["gender"].map(SEX_CODE), "sex": d["gender"].map(SEX_LABEL),
        "age_group": age_text(d["age"], 100), "population": d["population"], "_age": d["age"],
    }).sort_values(["_age", "sex_code"]).drop(columns="_age")
    lines = (DATA / "lan_2020_sex_age1.csv").read_text(encoding="utf-8").splitlines()
    expected = "\n".join([lines[0]] + [line for line in lines if line.startswith("SE214,")]) + "\n"
    assert csv_text(out) == expected


# -------------------------------------------------------------------- PX files
def test_px_example_database_gotland_2004_2005_reproduced_exactly():
    table = read_population(SAMPLES / "BE0101A1_pxweb-example_en.px")
    assert table.source.format == "px" and table.source.table_id == "BE0101A1"
    assert table.periods == ("2004", "2005") and table.region_level == "län"
    national = table.margin(("period",)).to_dict()
    assert national == {"2004": 9011392, "2005": 9047752}
    # first DATA line (line 51): 01 Stockholm county, single, 0, men = 13201 (2004);
    # the other marital statuses are 0 at age 0 (lines 253, 455, 657)
    stockholm = table.select(region="01", period="2004").data
    assert stockholm.query("gender == 'man' and age == 0")["population"].item() == 13201
    assert stockholm.query("gender == 'kvinna' and age == 0")["population"].item() == 12439
    gotland = table.select(region="09")
    assert gotland.margin(["period"]).to_dict() == {"2004": 57661, "2005": 57488}
    out = derived_sex_age(gotland, kommun_code="0980", kommun="Gotland", age_column="age")
    expected = (DATA / "gotland_0980_2004_2005_sex_age1.csv").read_text(encoding="utf-8")
    assert csv_text(out) == expected


def test_px_with_hierarchies_keeps_kommuner_and_reproduces_the_derived_file():
    table = read_population(SAMPLES / "BE0101A1hier_pxweb-example_en.px")
    assert table.region_level == "kommun" and table.data["region"].nunique() == 290
    assert table.warnings == ()  # every county and the country add up exactly
    totals = table.totals
    national = totals[totals["region"] == "00"].groupby("period")["published"].sum()
    assert national.to_dict() == {"2001": 8909128, "2002": 8940788, "2003": 8975670,
                                  "2004": 9011392}
    assert table.margin(["period"]).to_dict() == national.to_dict()
    assert (totals["difference"] == 0).all()
    y2004 = table.select(period="2004")
    assert y2004.select(region="0180").total == 765044
    assert y2004.select(region="0127").total == 75830
    assert y2004.select(region="0980").margin("gender").to_dict() == {"kvinna": 29232, "man": 28429}
    d = table.data
    out = pd.DataFrame({
        "kommun_code": d["region"], "kommun": d["region"].map(table.region_names),
        "period": d["period"], "ref_date": d["period"].map(period_end),
        "sex_code": d["gender"].map(SEX_CODE), "sex": d["gender"].map(SEX_LABEL),
        "population": d["population"],
    }).sort_values(["kommun_code", "period", "sex_code"])
    expected = (DATA / "kommun_2001_2004_sex.csv").read_text(encoding="utf-8")
    assert csv_text(out) == expected


def test_px_tab638_swedish_codepage_contents_and_age_groups():
    table = read_population(SAMPLES / "BE0101N1_TAB638_sv.px")
    assert table.source.table_id == "TAB638"
    assert table.region_names == {"0114": "Upplands Väsby", "0115": "Vallentuna"}
    assert table.dims == ("region", "gender", "age_group", "period")
    assert table.data["age_group"].cat.categories.tolist() == ["45-54", "55-64"]
    assert any("Folkökning" in note for note in table.notes)  # the change was left out
    # only ogifta and gifta were exported: the sums are not the whole population
    assert any("lacks skilda, änkor/änklingar" in w for w in table.warnings)
    # Upplands Väsby, 45-54 år, män, Folkmängd 2020, read by hand from the DATA lines
    # 77 (ogifta: 1054) and 81 (gifta: 1782)
    cell = table.data.query("region == '0114' and gender == 'man' and age_group == '45-54'"
                            " and period == '2020'")
    assert cell["population"].item() == 1054 + 1782
    # Vallentuna, 55-64 år, kvinnor, 2021: lines 88 (ogifta: 433) and 92 (gifta: 1049)
    cell = table.data.query("region == '0115' and gender == 'kvinna' and age_group == '55-64'"
                            " and period == '2021'")
    assert cell["population"].item() == 433 + 1049


# ---------------------------------------------------------------- JSON formats
@pytest.fixture(scope="module")
def tab6471():
    return read_population(SAMPLES / "TAB6471_data.json", metadata=SAMPLES / "TAB6471_metadata.json")


def test_tab6471_ckm_reproduces_the_derived_gotland_file_with_totals(tab6471):
    gotland = tab6471.select(region="09")
    assert gotland.region_names == {"09": "Gotlands län"}
    details = gotland.data.assign(sex_code=gotland.data["gender"].map(SEX_CODE),
                                  sex=gotland.data["gender"].map(SEX_LABEL))
    totals = gotland.totals
    published = totals.assign(sex_code="TotSa", sex="totalt, samtliga män och kvinnor",
                              population=totals["published"])
    frame = pd.concat([published, details], ignore_index=True)
    frame["age_group"] = frame["age_group"].astype(str)
    order = {label: i for i, label in enumerate(gotland.data["age_group"].cat.categories)}
    out = pd.DataFrame({
        "kommun_code": "0980", "kommun": "Gotland", "period": frame["period"],
        "ref_date": frame["period"].map(period_end), "sex_code": frame["sex_code"],
        "sex": frame["sex"],
        "age_code": frame["age_group"].replace({"100+": "100+10"}),
        "age_label": frame["age_group"] + " år",
        "population": frame["population"].astype(np.int64),
        "_s": frame["sex_code"].map({"TotSa": 0, "1": 1, "2": 2}),
        "_a": frame["age_group"].map(order),
    }).sort_values(["period", "_s", "_a"]).drop(columns=["_s", "_a"])
    expected = (DATA / "gotland_0980_2026m01_m04_sex_age10_ckm.csv").read_text(encoding="utf-8")
    assert csv_text(out) == expected


def test_tab6471_margins_do_not_add_up_and_every_difference_is_reported(tab6471):
    assert tab6471.cell_key_noise
    assert tab6471.source.table_id == "TAB6471"
    totals = tab6471.totals
    assert len(totals) == 21 * 11 * 4
    off = totals[totals["difference"] != 0]
    assert len(off) == 776  # 84 % of the cells, as the README says
    warnings = tab6471.warnings
    assert len(warnings) == 1 + 776
    assert "776 of 924" in warnings[0] and "detailed cells are used" in warnings[0]
    gotland = tab6471.select(region="09")
    assert gotland.totals["difference"].min() == -8 and gotland.totals["difference"].max() == 5
    jan = gotland.select(period="2026M01")
    assert jan.margin("gender").to_dict() == {"kvinna": 30645, "man": 30192}
    assert jan.total == 60837  # the detailed cells, not SCB's totalt (60 841)
    assert int(jan.totals["published"].sum()) == 60841
    assert any("uppnådd ålder vid årets slut" in note for note in tab6471.notes)


def test_tab6471_without_metadata_gives_the_same_figures(tab6471):
    alone = read_population(SAMPLES / "TAB6471_data.json")
    pd.testing.assert_frame_equal(alone.data, tab6471.data)


def test_tab6471_metadata_alone_is_refused_with_a_hint():
    with pytest.raises(ValueError, match="metadata"):
        read_population(SAMPLES / "TAB6471_metadata.json")


def test_api_v1_json():
    table = read_population(SAMPLES / "api-v1_BefolkningNy-3e8562-POST.json")
    assert table.source.format == "pxweb-v1-json"
    assert table.data.to_dict("records") == [
        {"region": "00", "gender": "man", "age": 0, "period": "2024", "population": 50937}
    ]
    assert any("lacks gifta" in w for w in table.warnings)  # only "OG" (ogifta) was asked for


# ----------------------------------------------------------- English CSV files
def test_english_pxweb2_csv_2025_is_flagged_for_cell_key_noise():
    table = read_population(SAMPLES / "0000088D_20260309-173522_en.csv")
    assert table.source.title == "Population, number by age, sex and year"
    assert table.dims == ("gender", "age", "period") and table.region_level is None
    assert table.cell_key_noise and table.open_age == 100
    assert table.data["gender"].unique().tolist() == ["kvinna"]
    assert table.total == 5274947
    assert table.data.query("age == 0")["population"].item() == 47538
    assert table.data.query("age == 100")["population"].item() == 2439
    assert table.with_age_bands("16-24,25-34,35-44,45-54,55-64,65-74,75+").total == 4363543


def test_english_csv_with_title_and_years_as_columns():
    table = read_population(SAMPLES / "BE0101N1_20260315-000755_en-first5lines.csv")
    assert table.periods[0] == "1968" and table.periods[-1] == "2024" and len(table.periods) == 57
    first = table.select(period="1968").data
    assert first.set_index("gender")["population"].to_dict() == {"kvinna": 52959, "man": 56031}
    assert table.region_names == {"00": "Sweden"}


def test_older_english_csv_without_title_and_with_commas():
    table = read_population(SAMPLES / "BE0101N1_20260208-222751_en-first5lines.csv")
    assert table.source.format == "scb-csv" and table.source.title is None
    y2000 = table.select(period="2000").data
    assert y2000.query("gender == 'man' and age == 0")["population"].item() == 46764
    assert y2000.query("gender == 'kvinna' and age == 1")["population"].item() == 43589
    assert table.select(period="2024").total == 50937 + 48135 + 51971 + 49529


# --------------------------------------------------------------- DeSO -> RegSO
def test_deso_regso_key_reproduces_gotland_structure_and_counts():
    key = read_deso_regso_key(SAMPLES / "koppling-deso2018-regso2020.csv")
    assert len(key) == 5984 and key["regso"].nunique() == 3363 and key["kommun"].nunique() == 290
    gotland = key[key["kommun"] == "0980"]
    out = pd.DataFrame({
        "kommun_code": gotland["kommun"], "kommun": gotland["kommun_name"],
        "deso_2018": gotland["deso"], "regso_2020_code": gotland["regso"],
        "regso_2020_name": gotland["regso_name"],
    })  # the key's own row order
    expected = pd.read_csv(DATA / "gotland_0980_deso2018_regso2020.csv", dtype=str)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), expected, check_dtype=False)
    counts = key.groupby(["kommun", "kommun_name"], sort=True).agg(
        n_deso_2018=("deso", "nunique"), n_regso_2020=("regso", "nunique")).reset_index()
    counts = counts.rename(columns={"kommun": "kommun_code", "kommun_name": "kommun"})
    text = io.StringIO()
    counts.to_csv(text, index=False, lineterminator="\n")
    assert text.getvalue() == (DATA / "kommun_deso2018_regso2020_counts.csv").read_text(encoding="utf-8")
