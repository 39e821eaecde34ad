"""Bad files: each problem is a ValueError naming the line and what to fix; encodings agree."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.targets import (
    Tolerance,
    read_api_v1_json,
    read_jsonstat,
    read_population,
    read_population_csv,
    read_px,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLES = SHARED / "scb_samples"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"the shared SCB samples are not checked out beside the repo ({SAMPLES})"
)

SCB = (
    '"Folkmängd efter region, ålder, kön och år"\n'
    "\n"
    '"region";"ålder";"kön";"2020"\n'
    '"0980 Gotland";"0 år";"män";235\n'
    '"0980 Gotland";"0 år";"kvinnor";239\n'
    '"0980 Gotland";"1 år";"män";282\n'
    '"0980 Gotland";"1 år";"kvinnor";255\n'
)


def scb(line: int | None = None, replacement: str | None = None, *, extra: str = "") -> bytes:
    """The small SCB CSV above, with line ``line`` (1-based) replaced."""
    lines = SCB.splitlines()
    if line is not None:
        lines[line - 1] = replacement or ""
    return ("\n".join(lines) + "\n" + extra).encode("iso-8859-1")


def error_of(data: bytes, **kwargs) -> str:
    with pytest.raises(ValueError) as caught:
        read_population(data, filename="folk.csv", **kwargs)
    return str(caught.value)


def test_the_small_file_itself_is_fine():
    table = read_population(scb(), filename="folk.csv")
    assert table.total == 235 + 239 + 282 + 255
    assert table.region_names == {"0980": "Gotland"} and table.region_level == "kommun"


# ---------------------------------------------------------------- counts
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("..", "missing ('..' is SCB's symbol for figures that are not available)"),
        ("-12", "negative"),
        ("abc", "not a number"),
        ("12.5", "not a whole number"),
        ("", "missing (the count is empty)"),
    ],
)
def test_bad_counts_name_the_line_and_the_cell(value, expected):
    message = error_of(scb(5, f'"0980 Gotland";"0 år";"kvinnor";{value}'))
    assert message.startswith("folk.csv, line 5 (region=0980 Gotland, ålder=0 år, kön=kvinnor, period=2020)")
    assert expected in message


def test_nil_symbol_and_thousands_separators_are_counts():
    table = read_population(scb(5, '"0980 Gotland";"0 år";"kvinnor";-', extra='"0980 Gotland";"2 år";"män";"1 024"\n'
                                '"0980 Gotland";"2 år";"kvinnor";0\n'))
    assert table.data.query("gender == 'kvinna' and age == 0")["population"].item() == 0
    assert table.data.query("gender == 'man' and age == 2")["population"].item() == 1024


# ------------------------------------------------------------ structure
def test_empty_and_blank_files():
    assert "empty" in error_of(b"")
    assert "empty" in error_of(b"  \r\n\r\n")
    assert "no figures" in error_of(scb().split(b"\n\"0980")[0] + b"\n")


def test_binary_files_are_refused():
    assert "Excel .xlsx" in error_of(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40)
    assert "PDF" in error_of(b"%PDF-1.7\n...")
    message = error_of(b"region;2020\n0980;1\x00\x00\x01\n")
    assert "line 2" in message and "binary" in message


def test_wrong_number_of_fields():
    message = error_of(scb(6, '"0980 Gotland";"1 år";282'))
    assert "line 6" in message and "3 fields" in message and "line 3 has 4" in message


def test_duplicate_rows_name_both_lines():
    message = error_of(scb(extra='"0980 Gotland";"0 år";"män";235\n'))
    assert "line 8" in message and "the same cell as line 4" in message


def test_two_spellings_of_one_category_are_one_category_and_a_repeat_is_a_duplicate():
    table = read_population(scb(7, '"0980 Gotland";"1";"women";255'))
    assert table.margin("gender").to_dict() == {"kvinna": 494, "man": 517}
    message = error_of(scb(extra='"0980 Gotland";"1 year";"women";255\n'))
    assert "line 8 (region=0980 Gotland, ålder=1 year, kön=women, period=2020)" in message
    assert "the same cell as line 7" in message


def test_unknown_categories():
    message = error_of(scb(5, '"0980 Gotland";"0 år";"okänt";239'))
    assert "line 5" in message and "unknown kön 'okänt'" in message
    message = error_of(scb(6, '"0980 Gotland";"gammal";"män";282'))
    assert "line 6" in message and "unknown ålder 'gammal'" in message


def test_panel_only_genders_have_no_population():
    message = error_of(b"gender,population\nkvinna,10\nman,9\nannan,1\n")
    assert "line 4" in message and "no population figures" in message


def test_overlapping_age_groups():
    message = error_of(b"age_group,population\n0-4,10\n0-9,30\n10-19,5\n")
    assert "line 3" in message and "overlaps '0-4'" in message


def test_header_only_and_unknown_columns():
    assert "line 1" in error_of(b"district,population\n") and "no figures" in error_of(
        b"district,population\n")
    message = error_of(b"district,colour,population\nNorra,red,5\n")
    assert "line 1" in message and "unknown column 'colour'" in message
    message = error_of(b"district,gender\nNorra,kvinna\n")
    assert "line 1" in message and "no column with the counts" in message
    message = error_of(b"just one column\n1\n")
    assert "line 1" in message and "only one column" in message


def test_blank_line_inside_the_figures():
    message = error_of(scb(5, ""))
    assert "line 5" in message and "empty line" in message


def test_footnotes_after_the_table_are_ignored():
    table = read_population(scb(extra='\n"Footnotes:"\n"Källa: SCB"\n'), filename="folk.csv")
    assert table.total == 1011


def test_leading_zero_lost_in_a_spreadsheet():
    message = error_of(b"region,population\n180,975551\n")
    assert "line 2" in message and "leading zero" in message and "'0180'" in message


def test_mixed_scb_regions_and_names():
    message = error_of(b"region,population\n0980,60124\nNorra,5000\n")
    assert "not SCB region codes" in message


# --------------------------------------------------------------- encodings
def test_utf8_text_declared_as_latin1_is_refused():
    message = error_of(scb().decode("iso-8859-1").encode("utf-8"), encoding="iso-8859-1")
    assert "line 1" in message and "UTF-8 read as ISO-8859-1" in message


def test_latin1_bytes_declared_as_utf8_are_refused():
    message = error_of(scb(), encoding="utf-8")
    assert "line 1" in message and "not valid utf-8" in message


def test_unknown_encoding_name():
    assert "unknown encoding" in error_of(scb(), encoding="klingon")


def test_text_damaged_by_an_earlier_conversion():
    damaged = scb().decode("iso-8859-1").replace("kvinnor", "kv\ufffdnnor").encode("utf-8")
    message = error_of(damaged)
    assert "line 5" in message and "lost in an earlier conversion" in message


def test_text_file_objects_must_be_binary(tmp_path):
    path = tmp_path / "folk.csv"
    path.write_bytes(scb())
    with open(path, encoding="latin-1") as handle, pytest.raises(ValueError, match="binary mode"):
        read_population(handle)
    with open(path, "rb") as handle:
        assert read_population(handle).source.name == "folk.csv"


@needs_samples
def test_gotland_excerpt_in_every_encoding_and_line_ending_gives_the_same_table(tmp_path):
    raw = (SAMPLES / "BE0101N1_20210513-223812_SE214-excerpt.csv").read_bytes()
    original = read_population(raw, filename="excerpt.csv")
    text = raw.decode("iso-8859-1")
    variants = {
        "utf8-bom-lf.csv": b"\xef\xbb\xbf" + text.replace("\r\n", "\n").encode("utf-8"),
        "utf8-crlf.csv": text.encode("utf-8"),
        "latin1-lf.csv": text.replace("\r\n", "\n").encode("iso-8859-1"),
        "cp1252.csv": text.encode("cp1252"),
        "utf16.csv": text.encode("utf-16"),
    }
    for name, data in variants.items():
        path = tmp_path / name
        path.write_bytes(data)
        table = read_population(path)
        pd.testing.assert_frame_equal(table.data, original.data, obj=name)
        assert table.source.name == name and table.region_names == original.region_names


# ---------------------------------------------------------------- cell-key noise
CKM = (
    '"Folkmängden per månad"\n\n'
    '"region";"kön";"ålder";"2026M01"\n'
    '"0980 Gotland";"totalt, samtliga män och kvinnor";"0-9 år";4897\n'
    '"0980 Gotland";"män";"0-9 år";2511\n'
    '"0980 Gotland";"kvinnor";"0-9 år";2382\n'
    '"0980 Gotland";"totalt, samtliga män och kvinnor";"10-19 år";6759\n'
    '"0980 Gotland";"män";"10-19 år";3459\n'
    '"0980 Gotland";"kvinnor";"10-19 år";3300\n'
)


def test_ckm_totals_within_tolerance_are_warnings_and_the_details_are_used():
    table = read_population(CKM.encode("utf-8"), filename="ckm.csv")
    assert table.cell_key_noise
    assert table.total == 2511 + 2382 + 3459 + 3300
    assert table.margin("age_group").to_dict() == {"0-9": 4893, "10-19": 6759}
    assert len(table.warnings) == 2
    assert "1 of 2 published totals differ" in table.warnings[0]
    assert "the detailed cells are used, not the totals" in table.warnings[0]
    assert "is 4897 but its 2 detailed cells sum to 4893 (difference -4" in table.warnings[1]
    assert table.totals["published"].tolist() == [4897, 6759]


def test_ckm_total_outside_tolerance_names_the_cell():
    bad = CKM.replace(";6759", ";6859")
    with pytest.raises(ValueError) as caught:
        read_population(bad.encode("utf-8"), filename="ckm.csv")
    message = str(caught.value)
    assert message.startswith("ckm.csv, line 7 (region=0980 Gotland, kön=totalt, samtliga män och kvinnor,"
                              " ålder=10-19 år, period=2026M01)")
    assert "is 6859 but its 2 detailed cells sum to 6759 (difference -100" in message


def test_tolerance_is_configurable():
    with pytest.raises(ValueError, match="difference -4"):
        read_population(CKM.encode("utf-8"), tolerance=Tolerance(0, 0))
    wide = read_population(CKM.replace(";6759", ";6859").encode("utf-8"),
                           tolerance=Tolerance(absolute=100))
    assert wide.total == 11652
    with pytest.raises(ValueError, match="absolute must be a number >= 0"):
        Tolerance(absolute=-1)


def test_one_way_margins_that_disagree():
    text = b"variable,category,population\ngender,kvinna,100\ngender,man,100\ndistrict,N,150\ndistrict,S,100\n"
    with pytest.raises(ValueError) as caught:
        read_population(text, filename="m.csv")
    message = str(caught.value)
    assert "m.csv, line 2" in message and "the gender margin sums to 200 but the district margin to 250" in message


# ------------------------------------------------------------------ PX errors
PX = (
    'CHARSET="ANSI";\n'
    'STUB="kön";\n'
    'HEADING="år";\n'
    'VALUES("kön")="män","kvinnor";\n'
    'VALUES("år")="2019","2020";\n'
    "DATA=\n"
    "29972 29900\n"
    "30152 30100;\n"
)


def test_px_minimal_file_reads():
    table = read_px(PX.encode("iso-8859-1"), filename="t.px")
    assert table.select(period="2020").margin("gender").to_dict() == {"kvinna": 30100, "man": 29900}


def test_px_data_count_mismatch_names_the_data_line():
    with pytest.raises(ValueError) as caught:
        read_px(PX.replace("30152 30100;", "30152;").encode("iso-8859-1"), filename="t.px")
    message = str(caught.value)
    assert message.startswith("t.px, line 6") and "3 figures" in message and "2 × 2 = 4" in message


def test_px_missing_symbol_names_the_data_line():
    with pytest.raises(ValueError) as caught:
        read_px(PX.replace("30152 30100", '30152 ".."').encode("iso-8859-1"), filename="t.px")
    assert "t.px, line 8 (kön=kvinnor, år=2020)" in str(caught.value) and "missing" in str(caught.value)


def test_px_without_values_and_with_keys():
    with pytest.raises(ValueError, match=r'line 2: variable \'kön\' has no VALUES'):
        read_px(PX.replace('VALUES("kön")="män","kvinnor";\n', "").encode(), filename="t.px")
    with pytest.raises(ValueError, match="line 6: the PX file uses the sparse KEYS"):
        read_px(PX.replace("DATA=", 'KEYS("kön")=VALUES;\nDATA=').encode(), filename="t.px")


def test_px_contents_that_cannot_be_told_apart():
    px = PX.replace('HEADING="år";', 'HEADING="tabellinnehåll","år";\nCONTVARIABLE="tabellinnehåll";')
    px = px.replace('VALUES("år")', 'VALUES("tabellinnehåll")="Döda","Födda";\nVALUES("år")')
    px = px.replace("29972 29900\n30152 30100;", "1 2 3 4\n5 6 7 8;")
    with pytest.raises(ValueError, match="2 contents .* pass content="):
        read_px(px.encode("iso-8859-1"), filename="t.px")
    chosen = read_px(px.encode("iso-8859-1"), filename="t.px", content="Födda")
    assert chosen.select(period="2020").total == 4 + 8


# ----------------------------------------------------------------- JSON errors
def test_json_syntax_error_names_line_and_column():
    with pytest.raises(ValueError, match=r"r.json, line 2, column 1: not valid JSON"):
        read_population(b'{"class": "dataset",\n}', filename="r.json")


def test_jsonstat_null_value_names_its_position():
    doc = {"class": "dataset", "id": ["Kon"], "size": [2], "status": {"1": ".."},
           "dimension": {"Kon": {"label": "kön", "category": {"index": ["1", "2"],
                                                              "label": {"1": "män", "2": "kvinnor"}}}},
           "value": [29972, None]}
    with pytest.raises(ValueError) as caught:
        read_jsonstat(json.dumps(doc).encode(), filename="r.json")
    assert "r.json, value[1] (kön=kvinnor (2))" in str(caught.value) and "'..'" in str(caught.value)


def test_jsonstat_wrong_value_count():
    doc = {"class": "dataset", "id": ["Kon"], "size": [2],
           "dimension": {"Kon": {"category": {"index": ["1", "2"]}}}, "value": [1]}
    with pytest.raises(ValueError, match="'value' has 1 figures, but the sizes give 2 cells"):
        read_population(json.dumps(doc).encode(), filename="r.json")


@needs_samples
def test_jsonstat_with_metadata_of_another_table():
    metadata = json.loads((SAMPLES / "TAB6471_metadata.json").read_text(encoding="utf-8"))
    metadata["extension"]["px"]["tableid"] = "TAB9999"
    with pytest.raises(ValueError, match="metadata is for table TAB9999"):
        read_population(SAMPLES / "TAB6471_data.json", metadata=json.dumps(metadata).encode())


def test_unknown_json_and_api_v1_errors():
    with pytest.raises(ValueError, match="neither a JSON-stat2 dataset"):
        read_population(b'{"hello": 1}', filename="r.json")
    with pytest.raises(ValueError, match=r"data\[0\]: 'key' must list 1 codes"):
        read_api_v1_json(b'{"columns": [{"code": "Kon", "type": "d"}, {"code": "X", "type": "c"}],'
                         b' "data": [{"key": [], "values": ["1"]}]}', filename="r.json")


def test_format_specific_readers_refuse_other_formats():
    with pytest.raises(ValueError, match="not a PX file"):
        read_px(scb(), filename="folk.csv")
    with pytest.raises(ValueError, match="px file, not CSV"):
        read_population_csv(PX.encode(), filename="t.px")
