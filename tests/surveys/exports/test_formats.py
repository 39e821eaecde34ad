"""Each format read back: CSV with the csv module, XLSX with openpyxl, .sav with pyreadstat."""

from __future__ import annotations

import csv
import io
from datetime import date

import numpy as np
import pytest
import pyreadstat
from openpyxl import load_workbook

from surveys.definition import load_definition
from surveys.exports import formats
from surveys.exports.table import ResponseRecord, build_table
from tests.surveys.conftest import EXAMPLE

PAYLOADS = ["=HYPERLINK(\"http://evil.example\",\"klicka\")", "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1", "  =1+1", "＝1+1"]
ARABIC = "الخدمات جيدة"


def records() -> list[ResponseRecord]:
    rng = np.random.default_rng(20261122)
    rows = []
    for number in range(40):
        answers = {
            "transport": ["bil", "buss", "cykel", "till_fots", "other"][number % 5],
            "trygghet_kvall": int(rng.integers(1, 6)) if number % 7 else "dont_know",
            "bibliotek": "yes" if number % 2 else "no",
            "prioriteringar": ["skola", "miljo"] if number % 3 else ["other"],
            "rekommendera": None if number % 4 == 0 else int(rng.integers(0, 11)),
            "synpunkter": PAYLOADS[number % len(PAYLOADS)] if number < 16 else ("x" * 600 if number == 16 else ARABIC),
        }
        if answers["transport"] == "other":
            answers["transport-other"] = "=1+2"
        if "other" in answers["prioriteringar"]:
            answers["prioriteringar-other"] = "@import"
        if answers["bibliotek"] == "yes":
            answers["bibliotek_nojdhet"] = {"oppettider": 4, "utbud": "dont_know"}
            answers["bibliotek_besok"] = number
        rows.append(ResponseRecord(sort_key=f"{number:04d}", language="sv", submitted_on=date(2026, 11, 1 + number % 20),
                                   gender=["kvinna", "man"][number % 2], age_group="25-34",
                                   district_code=f"0{180 + number % 3}", answers=answers))
    return rows


@pytest.fixture(scope="module")
def table():
    defn = load_definition(EXAMPLE.read_text(encoding="utf-8"))
    rows = records()
    weights = {row.sort_key: 0.5 + index / 16 for index, row in enumerate(rows)}
    return build_table(defn, rows, title="Trygghet och service", weights=weights,
                       district_names={"0180": "Visby", "0181": "Slite"}, notes=["Viktad med raking."])


@pytest.fixture(scope="module")
def empty():
    return build_table(load_definition(EXAMPLE.read_text(encoding="utf-8")), [], title="Tom", weights={})


def read_csv(content: bytes, separator: str) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(content[3:].decode("utf-8"), newline=""), delimiter=separator))


@pytest.mark.parametrize("separator, name, decimal", [(";", "semicolon", ","), (",", "comma", ".")])
def test_csv_round_trips_values_and_weights(table, separator, name, decimal):
    assert formats.SEPARATORS[name] == separator
    rows = read_csv(formats.to_csv(table, separator=separator), separator)
    header, body = rows[0], rows[1:]
    assert header == [v.name for v in table.variables]
    assert len(body) == 40
    column = {name: [row[i] for row in body] for i, name in enumerate(header)}
    assert column["omrade"][:3] == ["0180", "0181", "0182"]  # leading zeros kept
    assert column["vikt"][2] == f"0{decimal}625"
    assert [float(v.replace(",", ".")) for v in column["vikt"]] == table.data["vikt"].tolist()
    assert column["transport"][:5] == ["1", "2", "3", "4", "5"]
    assert column["trygghet_kvall"][0] == "99"  # vet ej
    assert column["bibliotek_nojdhet_oppettider"][:2] == ["-2", "4"]  # not shown, then an answer
    assert column["rekommendera"][0] == "-1"
    assert column["synpunkter"][17] == ARABIC


def test_csv_with_labels_writes_option_texts(table):
    rows = read_csv(formats.to_csv(table, separator=";", labels=True), ";")
    column = {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}
    assert column["transport"][:5] == ["Bil", "Buss", "Cykel", "Till fots", "Annat, nämligen"]
    assert column["trygghet_kvall"][0] == "Vet ej"
    assert column["bibliotek"][:2] == ["Nej", "Ja"]
    assert column["prioriteringar_skola"][:2] == ["Ej valt", "Valt"]
    assert column["rekommendera"][0] == "Ej besvarad"
    assert column["trygghet_kvall"][1] in {"1", "2", "3", "4", "Mycket otrygg", "Mycket trygg"}


def test_csv_neutralises_every_formula_payload(table):
    rows = read_csv(formats.to_csv(table, separator=","), ",")
    column = {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}
    for number in range(16):
        payload = PAYLOADS[number % len(PAYLOADS)]
        assert column["synpunkter"][number] == "'" + payload
    assert column["transport_annat_text"][4] == "'=1+2"
    assert column["prioriteringar_annat_text"][0] == "'@import"
    every_text = [cell for row in rows[1:] for cell in row]
    assert not any(cell and cell[0] in "=+@\t\r＝" for cell in every_text)
    assert not any(cell.startswith("-") and not cell.lstrip("-").replace(".", "").isdigit() for cell in every_text)


def test_xlsx_has_data_and_codebook_sheets_and_no_formula_anywhere(table, tmp_path):
    path = tmp_path / "export.xlsx"
    path.write_bytes(formats.to_xlsx(table))
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["Data", "Kodbok"]
    data = workbook["Data"]
    rows = list(data.iter_rows(values_only=True))
    assert list(rows[0]) == [v.name for v in table.variables]
    column = {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}
    assert column["vikt"] == table.data["vikt"].tolist()
    assert column["transport"][:5] == [1, 2, 3, 4, 5]
    assert column["omrade"][0] == "0180"
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
    # The payloads are kept as written, as text cells carrying Excel's ' prefix.
    for number in range(16):
        cell = data.cell(row=number + 2, column=rows[0].index("synpunkter") + 1)
        assert cell.value == PAYLOADS[number % len(PAYLOADS)].replace("\r", "\n")  # XML keeps no CR
        assert cell.data_type == "s"
        assert cell.quotePrefix
    harmless = data.cell(row=19, column=rows[0].index("synpunkter") + 1)
    assert harmless.value == ARABIC and not harmless.quotePrefix
    codebook = list(workbook["Kodbok"].iter_rows(values_only=True))
    assert codebook[0][0] == "Trygghet och service"
    names = [row[0] for row in codebook]
    assert "bibliotek_nojdhet_utbud" in names


def test_xlsx_with_labels(table, tmp_path):
    path = tmp_path / "export.xlsx"
    path.write_bytes(formats.to_xlsx(table, labels=True))
    rows = list(load_workbook(path)["Data"].iter_rows(values_only=True))
    assert [row[rows[0].index("transport")] for row in rows[1:3]] == ["Bil", "Buss"]


def test_sav_reads_back_with_labels_values_measures_and_missing(table, tmp_path):
    path = tmp_path / "export.sav"
    path.write_bytes(formats.to_sav(table))
    frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    assert meta.column_names == [v.name for v in table.variables]
    labels = meta.column_names_to_labels
    assert labels["trygghet_kvall"] == "Hur trygg känner du dig när du går ensam ute på kvällen i ditt bostadsområde?"
    assert labels["prioriteringar_miljo"].endswith(": Miljö och klimat")
    assert meta.variable_value_labels["transport"] == {1: "Bil", 2: "Buss", 3: "Cykel", 4: "Till fots",
                                                       5: "Annat, nämligen", -1: "Ej besvarad", -2: "Visades inte"}
    assert meta.variable_value_labels["trygghet_kvall"][99] == "Vet ej"
    assert {"lo": 99.0, "hi": 99.0} in meta.missing_ranges["trygghet_kvall"]
    assert {"lo": -2.0, "hi": -2.0} in meta.missing_ranges["transport"]
    assert meta.variable_measure["vikt"] == "scale"
    assert meta.variable_measure["trygghet_kvall"] == "ordinal"
    assert meta.variable_measure["transport"] == "nominal"
    assert frame["vikt"].tolist() == pytest.approx(table.data["vikt"].tolist())
    assert frame["transport"].tolist() == table.data["transport"].tolist()
    assert frame["omrade"].tolist()[:2] == ["0180", "0181"]
    assert frame["synpunkter"].tolist()[16] == "x" * 600  # long strings survive
    assert frame["synpunkter"].tolist()[17] == ARABIC
    assert frame["synpunkter"].tolist()[0] == PAYLOADS[0]  # SPSS evaluates nothing: kept as written
    assert meta.notes == ["Viktad med raking."]
    # Without user_missing, SPSS' missing codes read as missing.
    plain, _ = pyreadstat.read_sav(str(path))
    assert np.isnan(plain["trygghet_kvall"][0]) and np.isnan(plain["rekommendera"][0])


def test_codebook_csv_lists_every_variable_after_the_notes(table):
    rows = read_csv(formats.codebook_csv(table, separator=";"), ";")
    assert rows[0] == ["Trygghet och service"]
    assert ["Viktad med raking."] in rows
    header_at = rows.index(formats.codebook_headers())
    variables = rows[header_at + 1:]
    assert [row[0] for row in variables] == [v.name for v in table.variables]
    transport = variables[[row[0] for row in variables].index("transport")]
    assert transport[4] == "1 = Bil; 2 = Buss; 3 = Cykel; 4 = Till fots; 5 = Annat, nämligen"
    assert transport[5] == "'-1 = Ej besvarad; -2 = Visades inte"  # CSV-safe


def test_an_empty_table_gives_header_only_files_in_every_format(empty, tmp_path):
    assert read_csv(formats.to_csv(empty), ";") == [[v.name for v in empty.variables]]
    path = tmp_path / "empty.xlsx"
    path.write_bytes(formats.to_xlsx(empty))
    assert len(list(load_workbook(path)["Data"].iter_rows())) == 1
    sav = tmp_path / "empty.sav"
    sav.write_bytes(formats.to_sav(empty))
    frame, meta = pyreadstat.read_sav(str(sav), user_missing=True)
    assert len(frame) == 0 and meta.column_names == [v.name for v in empty.variables]
    assert meta.variable_value_labels["transport"][1] == "Bil"


@pytest.mark.parametrize("text, safe", [("=1", "'=1"), ("+1", "'+1"), ("-x", "'-x"), ("@x", "'@x"), ("\tx", "'\tx"),
                                        ("\rx", "'\rx"), (" =1", "' =1"), ("a=1", "a=1"), ("", ""), ("1-2", "1-2")])
def test_neutralise(text, safe):
    assert formats.neutralise(text) == safe


def test_long_notes_are_split_into_spss_document_lines(tmp_path):
    note = "Åäö " * 30 + "x" * 200
    lines = formats.note_lines(note)
    assert all(len(line.encode()) <= 80 for line in lines)
    assert "".join(lines).replace(" ", "") == note.replace(" ", "")
    defn = load_definition(EXAMPLE.read_text(encoding="utf-8"))
    table = build_table(defn, records()[:2], title="T", notes=[note, "Kort."])
    path = tmp_path / "notes.sav"
    path.write_bytes(formats.to_sav(table))
    _, meta = pyreadstat.read_sav(str(path))
    assert meta.notes == [*lines, "Kort."]


def test_xlsx_keeps_error_lookalikes_and_control_characters_as_plain_text(tmp_path):
    defn = load_definition(EXAMPLE.read_text(encoding="utf-8"))
    rows = [ResponseRecord(str(i), "sv", None, "man", "25-34", "0180", {"synpunkter": text})
            for i, text in enumerate(["#N/A", "#DIV/0!", "rad ett\nrad två", "klocka\x07", "vanlig text", "12"])]
    path = tmp_path / "odd.xlsx"
    path.write_bytes(formats.to_xlsx(build_table(defn, rows, title="T")))
    sheet = load_workbook(path)["Data"]
    header = [cell.value for cell in sheet[1]]
    cells = [sheet.cell(row=r, column=header.index("synpunkter") + 1) for r in range(2, 8)]
    assert [c.value for c in cells] == ["#N/A", "#DIV/0!", "rad ett\nrad två", "klocka", "vanlig text", "12"]
    assert all(c.data_type == "s" for c in cells)
