"""Writing an :class:`~surveys.exports.table.ExportTable`: CSV, XLSX, SPSS ``.sav``, codebook.

* CSV: UTF-8 with a byte order mark (so Excel reads the Swedish letters), ``;`` (what
  Swedish Excel expects) or ``,`` between fields, decimal point, CRLF line ends.
* XLSX (openpyxl): a data sheet and a codebook sheet; every text is a string cell.
* SPSS ``.sav`` (pyreadstat): variable labels (question texts), value labels (codes →
  option labels), measure levels and user-missing values.
* Codebook: variable name, label, type, values → labels, missing codes and notes, as
  rows (for CSV, the XLSX sheet and the HTML page) after the notes on weighting.

Spreadsheet formula injection (OWASP "CSV injection"): every text that a spreadsheet
could take for a formula — starting with ``=``, ``+``, ``-``, ``@``, a tab, a carriage
return or a line feed (also after spaces, and the full-width forms) — is made inert.
In CSV it gets a ``'`` in front. In XLSX every text is a string cell (never a formula)
and formula-like ones also carry Excel's own ``'`` prefix (the cell style
``quotePrefix``), so the text stays exactly what the resident wrote and editing the
cell in Excel keeps it text. The ``.sav`` file keeps texts as given: SPSS does not
evaluate them.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _

from surveys.exports.table import (
    KINDS,
    SPSS_MAX_LABEL_BYTES,
    SPSS_MAX_VALUE_LABEL_BYTES,
    ExportTable,
    Variable,
    truncate_bytes,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
SEPARATORS = {"semicolon": ";", "comma": ","}
XLSX_MAX_CELL = 32767
SPSS_NOTE_LINE_BYTES = 80


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet could read ``text`` as a formula."""
    stripped = text.lstrip(" ")
    return bool(text) and (text[0] in FORMULA_STARTS or (bool(stripped) and stripped[0] in FORMULA_STARTS))


def neutralise(text: str) -> str:
    """``text`` made safe for a CSV cell: a ``'`` before anything formula-like."""
    return "'" + text if looks_like_formula(text) else text


# --------------------------------------------------------------------------- cells


def _numbers(values: Any) -> list[int | float | None]:
    """A float column as Python numbers: whole numbers as int, NaN as None."""
    array = np.asarray(values, dtype=float)
    missing = np.isnan(array)
    if not missing.all() and np.array_equal(array[~missing], np.round(array[~missing])):
        whole = np.where(missing, 0, array).astype(np.int64).tolist()
        return [None if gap else number for number, gap in zip(whole, missing.tolist())]
    return [None if gap else number for number, gap in zip(array.tolist(), missing.tolist())]


def _columns(table: ExportTable, *, labels: bool) -> list[list[Any]]:
    """Each variable's cells: numbers as numbers (None when empty), texts as they are; codes
    as their labels if asked. The writers make the texts safe."""
    columns: list[list[Any]] = []
    for variable in table.variables:
        values = table.data[variable.name]
        if variable.is_text:
            columns.append(values.tolist())
            continue
        numbers = _numbers(values)
        names = variable.labels()
        if labels and names:
            numbers = [names.get(number, number) if number is not None else None for number in numbers]
        columns.append(numbers)
    return columns


def _cells(table: ExportTable, *, labels: bool) -> Iterator[tuple[Any, ...]]:
    """The rows of cells (see :func:`_columns`)."""
    return zip(*_columns(table, labels=labels))


# --------------------------------------------------------------------------- CSV


def _format_csv_number(value: Any, decimal: str) -> Any:
    if isinstance(value, float):
        return repr(value).replace(".", decimal)
    return value


def to_csv(table: ExportTable, *, separator: str = ";", labels: bool = False) -> bytes:
    """The table as CSV: UTF-8 with BOM, header row of variable names, CRLF lines.

    With ``;`` between fields decimals get a comma (Swedish Excel reads both that way);
    with ``,`` they get a point.
    """
    decimal = "," if separator == ";" else "."
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([v.name for v in table.variables])
    columns = []
    for column in _columns(table, labels=labels):
        columns.append(["" if cell is None else neutralise(cell) if isinstance(cell, str)
                        else _format_csv_number(cell, decimal) for cell in column])
    writer.writerows(zip(*columns))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def codebook_csv(table: ExportTable, *, separator: str = ";") -> bytes:
    """The codebook as CSV: the notes first, then one row per variable."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    for row in codebook_sheet_rows(table):
        writer.writerow([neutralise(str(cell)) if isinstance(cell, str) else cell for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --------------------------------------------------------------------------- codebook


def _codes_text(codes: Mapping[Any, str]) -> str:
    return "; ".join(f"{code} = {label}" for code, label in codes.items())


def codebook_headers() -> list[str]:
    return [_("Variabel"), _("Etikett (frågetext)"), _("Typ"), _("Mätnivå"), _("Värden"),
            _("Saknade värden"), _("Frågans nyckel"), _("Anmärkning")]


def codebook_rows(table: ExportTable) -> list[dict[str, str]]:
    """One row per variable, for the codebook page and files."""
    measures = {"nominal": _("nominal"), "ordinal": _("ordinal"), "scale": _("intervall/kvot")}
    return [
        {
            "name": v.name,
            "label": v.label,
            "kind": str(KINDS.get(v.kind, v.kind)),
            "measure": measures.get(v.measure, v.measure),
            "values": _codes_text(v.value_labels),
            "missing": _codes_text(v.missing),
            "question": v.question_key or "",
            "note": v.note,
        }
        for v in table.variables
    ]


def codebook_sheet_rows(table: ExportTable) -> list[list[str]]:
    """The codebook as a grid: title, notes, a blank row, headers, one row per variable."""
    rows: list[list[str]] = [[table.title], [_("Antal svar: %(n)s", n=table.row_count)]]
    rows += [[note] for note in table.notes]
    rows.append([])
    rows.append(codebook_headers())
    rows += [list(row.values()) for row in codebook_rows(table)]
    return rows


# --------------------------------------------------------------------------- XLSX


def to_xlsx(table: ExportTable, *, labels: bool = False) -> bytes:
    """The table as an XLSX workbook: sheet "Data" and sheet "Kodbok"; no formulas."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    data = workbook.create_sheet(_("Data"))
    data.append([_string_cell(data, v.name) for v in table.variables])
    for cells in _cells(table, labels=labels):
        data.append([_xlsx_value(data, cell) if isinstance(cell, str) else cell for cell in cells])
    codebook = workbook.create_sheet(_("Kodbok"))
    for row in codebook_sheet_rows(table):
        codebook.append([_string_cell(codebook, cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_value(sheet: Any, text: str) -> Any:
    """``text`` as it can be appended: plain when openpyxl stores it as a string anyway
    (the fast path), else an explicit string cell."""
    from openpyxl.cell.cell import ERROR_CODES

    if text.isprintable() and not looks_like_formula(text) and text not in ERROR_CODES:
        return text
    return _string_cell(sheet, text)


def _string_cell(sheet: Any, text: str) -> Any:
    """A cell that holds ``text`` as a string, whatever it looks like."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=None)
    cell.value = _xlsx_text(text)
    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
    if looks_like_formula(text):
        cell.quotePrefix = True  # Excel's ' prefix: shown and edited as text
    return cell


def _xlsx_text(text: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return text[:XLSX_MAX_CELL]


# --------------------------------------------------------------------------- SPSS


def _sav_frame(table: ExportTable) -> pd.DataFrame:
    frame = table.data.copy()
    for variable in table.variables:
        if variable.is_text:
            frame[variable.name] = frame[variable.name].astype(str)
    return frame


def to_sav(table: ExportTable) -> bytes:
    """The table as an SPSS ``.sav`` file with variable and value labels and missing values."""
    import pyreadstat

    frame = _sav_frame(table)
    column_labels = {v.name: truncate_bytes(v.label, SPSS_MAX_LABEL_BYTES) for v in table.variables}
    value_labels = {
        v.name: {float(code): truncate_bytes(label, SPSS_MAX_VALUE_LABEL_BYTES) for code, label in v.labels().items()}
        for v in table.variables if not v.is_text and v.labels()
    }
    missing = {v.name: [float(code) for code in v.missing] for v in table.variables if v.missing and not v.is_text}
    measures = {v.name: v.measure for v in table.variables}
    formats = {v.name: _sav_format(table, v) for v in table.variables if not v.is_text}
    notes = [line for note in table.notes for line in note_lines(note)]
    handle, path = tempfile.mkstemp(suffix=".sav")
    os.close(handle)
    try:
        pyreadstat.write_sav(frame, path, file_label=truncate_bytes(table.title, 60),
                             column_labels=column_labels, variable_value_labels=value_labels,
                             missing_ranges=missing, variable_measure=measures, variable_format=formats,
                             note=notes or None, row_compress=True)
        with open(path, "rb") as file:
            return file.read()
    finally:
        os.unlink(path)


def note_lines(note: str, limit: int = SPSS_NOTE_LINE_BYTES) -> list[str]:
    """``note`` as lines of at most ``limit`` UTF-8 bytes (SPSS document lines are 80 bytes)."""
    lines: list[str] = []
    current = ""
    for word in note.split():
        while len(word.encode("utf-8")) > limit:  # a word longer than a line is cut
            head = truncate_bytes(word, limit)
            if current:
                lines.append(current)
                current = ""
            lines.append(head)
            word = word[len(head):]
        candidate = f"{current} {word}" if current else word
        if len(candidate.encode("utf-8")) <= limit:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _sav_format(table: ExportTable, variable: Variable) -> str:
    if variable.kind == "weight":
        return "F12.6"
    values = table.data[variable.name].to_numpy(dtype=float)
    values = values[~np.isnan(values)]
    if values.size and not np.array_equal(values, np.round(values)):
        return "F12.4"
    extremes = [abs(int(v)) for v in (values.min(), values.max())] if values.size else []
    codes = [abs(int(code)) for code in variable.labels()]
    digits = len(str(max(extremes + codes + [0])))
    return f"F{digits + 1}.0"  # one more for a minus sign
