"""Reading the CSV files staff upload: encoding, delimiter, header and rows with line numbers.

Municipal staff save files from Excel, from the population register's extract
tools and from SCB. So a file may be UTF-8 (with or without a byte order mark),
or Windows "ANSI" (cp1252/Latin-1); separated by ``;`` (Swedish Excel), ``,`` or
tabs. What cannot be read (an Excel workbook, UTF-16, a mixed encoding, a
broken quote) is refused with a message that names the line.

Every problem is collected, so the person uploading sees them all at once; the
importers write nothing when there is any (all or nothing).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from flask_babel import gettext as _

UTF8_BOM = b"\xef\xbb\xbf"
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an uploaded file; ``line`` is the file's line number (1 = header)."""

    line: int | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return _("Rad %(line)s: %(message)s", line=self.line, message=self.message)


class ImportRejected(ValueError):
    """The file was refused; ``problems`` says where and why. Nothing was written."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Table:
    """A decoded CSV file: rows keyed by canonical column name, with their line numbers."""

    columns: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    encoding: str = "UTF-8"
    delimiter: str = ","


class Problems:
    """Collects problems; stops collecting after MAX_PROBLEMS, saying so."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self.truncated = False

    def add(self, line: int | None, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(line, message))
        else:
            self.truncated = True

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            items = list(self.items)
            if self.truncated:
                items.append(Problem(None, _("Det finns fler fel än de %(n)s som visas.", n=MAX_PROBLEMS)))
            raise ImportRejected(items)


def simplify(name: str) -> str:
    """Header text compared loosely: no case, accents, spaces or punctuation ("Födelse-år" → "fodelsear")."""
    decomposed = unicodedata.normalize("NFKD", name.strip().strip('"').lower())
    return "".join(ch for ch in decomposed if ch.isalnum())


def decode(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name) or raise ImportRejected saying how to save the file instead."""
    if not data.strip():
        raise ImportRejected([Problem(None, _("Filen är tom."))])
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRejected([Problem(None, _(
            "Filen är en Excel-arbetsbok, inte en CSV-fil. Öppna den i Excel och välj Spara som → "
            "CSV UTF-8 (kommaavgränsad) eller CSV (semikolonavgränsad)."))])
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise ImportRejected([Problem(None, _(
            "Filen är sparad som UTF-16 (\"Unicode-text\"). Spara den som CSV UTF-8 eller CSV "
            "(semikolonavgränsad) och ladda upp den igen."))])
    if data.startswith(UTF8_BOM):
        try:
            return data[len(UTF8_BOM):].decode("utf-8"), "UTF-8"
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise ImportRejected([Problem(line, _(
                "Filen börjar som UTF-8 men den här raden har tecken i en annan teckenkodning "
                "(troligen Latin-1). Spara hela filen som CSV UTF-8 och ladda upp den igen."))]) from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    # Windows "ANSI": cp1252, or Latin-1 for the few bytes cp1252 leaves undefined.
    try:
        return data.decode("cp1252"), "Latin-1"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


def _delimiter(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_table(
    data: bytes,
    *,
    columns: Mapping[str, Sequence[str]],
    required: Sequence[str],
    example: str,
) -> Table:
    """Decode ``data`` and return its rows keyed by canonical column name.

    ``columns`` maps each canonical name to the header spellings accepted for it
    (compared without case, accents, spaces or punctuation); columns not named
    there are ignored. ``required`` columns must be present and non-empty on every
    row. ``example`` is a header line shown when columns are missing. Raises
    ImportRejected listing every problem.
    """
    text, encoding = decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = _delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    problems = Problems()
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise ImportRejected([Problem(1, _("Rubrikraden kunde inte läsas."))]) from None

    wanted = {simplify(alias): name for name, aliases in columns.items() for alias in (name, *aliases)}
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        name = wanted.get(simplify(title))
        if name is None:
            continue
        if name in positions:
            problems.add(1, _("Kolumnen %(column)s finns två gånger i rubrikraden.", column=title.strip()))
        positions[name] = index
    missing = [name for name in required if name not in positions]
    if missing:
        found = ", ".join(title.strip() for title in header if title.strip()) or _("inga")
        problems.add(1, _(
            "Kolumner saknas: %(missing)s. Filen har kolumnerna: %(found)s. Första raden ska vara "
            "rubriker, till exempel: %(example)s",
            missing=", ".join(missing), found=found, example=example))
    problems.raise_if_any()

    table = Table(columns=tuple(positions), encoding=encoding, delimiter=delimiter)
    line = 1  # the header
    try:
        for row in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            extra = row[len(header):]
            if len(row) < len(header) or any(cell.strip() for cell in extra):
                problems.add(start, _(
                    "raden har %(found)s fält men rubrikraden har %(expected)s. Kontrollera "
                    "avgränsaren (semikolon eller komma) och citattecknen.",
                    found=len(row), expected=len(header)))
                continue
            values = {name: row[index].strip() for name, index in positions.items()}
            empty = [name for name in required if not values[name]]
            if empty:
                problems.add(start, _("kolumnen %(column)s är tom.", column=", ".join(empty)))
                continue
            table.rows.append((start, values))
    except csv.Error as error:
        problems.add(reader.line_num or line + 1, _("raden kunde inte läsas (%(error)s). Kontrollera citattecknen.",
                                                    error=str(error)))
    problems.raise_if_any()
    if not table.rows:
        raise ImportRejected([Problem(None, _("Filen har en rubrikrad men inga rader med uppgifter."))])
    return table
