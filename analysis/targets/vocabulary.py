"""One vocabulary for population figures, whatever language or format SCB used.

SCB labels the same thing in many ways: ``"män"``, ``"men"``, code ``"1"``;
``"0 år"``, ``"0 years"``, ``"100+ år"``; ``"0980 Gotland"``,
``"SE214 Gotlands län"``. This module turns each into the app's vocabulary:

* gender: ``"kvinna"`` or ``"man"`` (SCB publishes only these two; the panel's
  ``"annan"`` and ``"uppger_ej"`` have no population figures);
* age: a range of completed years ``(lower, upper)``, ``upper`` ``None`` when
  open-ended (``"100+"``);
* region: the code as a string with its leading zeros (``"0180"``), plus its
  name and level (riket, län, kommun, RegSO, DeSO);
* period: ``"2020"``, ``"2026M01"``, ``"2025K3"`` with the date the stock refers to;
* ``TOTAL`` for SCB's total categories (``"totalt"``, ``"TotSa"``), which the
  importer sets aside and checks against the sum of the detailed cells.

Unknown labels raise ``ValueError`` in the caller, which knows the line.

Example:
    >>> gender_of("1", "män"), gender_of(None, "women")
    ('man', 'kvinna')
    >>> age_range_of(None, "100+ år"), age_range_of("45-54", "45-54 år")
    ((100, None), (45, 54))
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from typing import Final, Literal

__all__ = [
    "TOTAL",
    "GENDERS",
    "DimKind",
    "dimension_kind",
    "gender_of",
    "age_range_of",
    "age_label",
    "period_of",
    "period_end",
    "is_total_label",
    "is_population_content",
    "is_value_column",
]

DimKind = Literal["region", "district", "gender", "age", "period", "content", "other"]


class _Total:
    """Marker for a total category (``"totalt"``, ``"TotSa"``)."""

    _instance: _Total | None = None

    def __new__(cls) -> _Total:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "TOTAL"


TOTAL: Final = _Total()
"""The normalised value of a total category."""

GENDERS: Final = ("kvinna", "man")
"""The two genders SCB publishes figures for, in the order margins use."""

PANEL_ONLY_GENDERS: Final = ("annan", "uppger_ej")

_DIMENSION_NAMES: Final[dict[str, DimKind]] = {
    # region
    "region": "region",
    "regioner": "region",
    "kommun": "region",
    "kommuner": "region",
    "kommun_code": "region",
    "kommunkod": "region",
    "municipality": "region",
    "län": "region",
    "lan": "region",
    "county": "region",
    "deso": "region",
    "regso": "region",
    "area": "region",
    "område": "region",
    "omrade": "region",
    # the municipality's own districts
    "district": "district",
    "districts": "district",
    "distrikt": "district",
    "stadsdel": "district",
    "stadsdelsområde": "district",
    "kommundel": "district",
    "valdistrikt": "district",
    # gender
    "kön": "gender",
    "kon": "gender",
    "sex": "gender",
    "gender": "gender",
    # age
    "ålder": "age",
    "alder": "age",
    "age": "age",
    "age_group": "age",
    "age group": "age",
    "agegroup": "age",
    "åldersgrupp": "age",
    "aldersgrupp": "age",
    "age_band": "age",
    # period
    "år": "period",
    "ar": "period",
    "year": "period",
    "years": "period",
    "period": "period",
    "tid": "period",
    "time": "period",
    "månad": "period",
    "manad": "period",
    "month": "period",
    "kvartal": "period",
    "quarter": "period",
    # table contents
    "tabellinnehåll": "content",
    "tabellinnehall": "content",
    "contentscode": "content",
    "contents": "content",
    "table contents": "content",
    "observations": "content",
    # dimensions to sum over
    "civilstånd": "other",
    "civilstand": "other",
    "marital status": "other",
    "maritalstatus": "other",
}

_VALUE_COLUMNS: Final = frozenset(
    {
        "population",
        "befolkning",
        "folkmängd",
        "folkmangd",
        "folkmängden",
        "antal",
        "count",
        "value",
        "number",
        "persons",
        "personer",
        "invånare",
    }
)

_KNOWN_OTHER: Final = frozenset(
    {"civilstånd", "civilstand", "marital status", "maritalstatus"}
)


def dimension_kind(name: str) -> DimKind | None:
    """What a dimension is, from its name or code in the file (any case); ``None`` if unknown.

    Example:
        >>> dimension_kind("Kön"), dimension_kind("ContentsCode"), dimension_kind("birth country")
        ('gender', 'content', None)
    """
    key = " ".join(name.strip().lower().split())
    return _DIMENSION_NAMES.get(key)


def is_known_other(name: str) -> bool:
    """True for dimensions the importer routinely sums over (civilstånd / marital status)."""
    return " ".join(name.strip().lower().split()) in _KNOWN_OTHER


_MARITAL: Final = {
    "ogifta": ("og", "ogifta", "single", "unmarried", "never married"),
    "gifta": ("g", "gifta", "married"),
    "skilda": ("sk", "skilda", "divorced"),
    "änkor/änklingar": ("änkl", "ankl", "änkor/änklingar", "änka/änkling", "widowers/widows",
                        "widows/widowers", "widowed"),
}


def missing_marital_statuses(dimension: str, categories: Sequence[str]) -> list[str]:
    """The civilstånd groups (SCB: ogifta, gifta, skilda, änkor/änklingar) absent from a file.

    Summing over civilstånd gives the population only when all four are
    present. Empty for other dimensions.

    Example:
        >>> missing_marital_statuses("civilstånd", ["ogifta", "gifta"])
        ['skilda', 'änkor/änklingar']
    """
    if not is_known_other(dimension):
        return []
    present = {c.strip().lower() for c in categories}
    return [group for group, names in _MARITAL.items() if not present.intersection(names)]


def is_value_column(name: str) -> bool:
    """True when a column header names the population count (``population``, ``Folkmängd``…).

    Example:
        >>> is_value_column("Folkmängd"), is_value_column("kön")
        (True, False)
    """
    key = " ".join(name.strip().lower().split())
    return key in _VALUE_COLUMNS or is_population_content(None, name)


_TOTAL_CODES: Final = frozenset({"totsa", "tot", "totalt", "total", "1+2", "tot_sa", "totsa."})
_TOTAL_PREFIXES: Final = (
    "totalt",
    "total",
    "samtliga",
    "alla ",
    "all ",
    "both sexes",
    "båda könen",
    "män och kvinnor",
    "men and women",
    "summa",
)


def is_total_label(code: str | None, label: str | None) -> bool:
    """True when a category is a total (``"totalt"``, ``"TotSa"``, ``"both sexes"``, ``"1+2"``).

    Example:
        >>> is_total_label("TotSa", "totalt, samtliga män och kvinnor"), is_total_label(None, "gifta")
        (True, False)
    """
    if code is not None and code.strip().lower() in _TOTAL_CODES:
        return True
    if label is None:
        return False
    text = label.strip().lower()
    return text in _TOTAL_CODES or text.startswith(_TOTAL_PREFIXES)


_MEN: Final = frozenset({"män", "man", "men", "male", "males", "m", "pojkar", "boys"})
_WOMEN: Final = frozenset(
    {"kvinnor", "kvinna", "women", "woman", "female", "females", "k", "f", "flickor", "girls"}
)


def gender_of(code: str | None, label: str | None) -> str | _Total | None:
    """``"man"``, ``"kvinna"``, ``TOTAL``, or ``None`` when the category is not recognised.

    SCB's codes ``1`` (män) and ``2`` (kvinnor) are accepted, as are Swedish and
    English labels. The panel-only categories ``annan`` and ``uppger_ej`` raise
    ``ValueError``: no population figures exist for them.

    Example:
        >>> gender_of("2", "kvinnor"), gender_of(None, "Men"), gender_of("TotSa", None)
        ('kvinna', 'man', TOTAL)
    """
    for text in (code, label):
        if text is None:
            continue
        key = text.strip().lower()
        if key in PANEL_ONLY_GENDERS or key in {"uppger ej", "annat", "other"}:
            raise ValueError(
                f"gender {text!r} has no population figures (SCB publishes only kvinna and man);"
                " leave these rows out of the population file"
            )
    if code is not None:
        key = code.strip().lower()
        if key == "1":
            return "man"
        if key == "2":
            return "kvinna"
    for text in (label, code):
        if text is None:
            continue
        key = text.strip().lower()
        if key in _MEN:
            return "man"
        if key in _WOMEN:
            return "kvinna"
    if is_total_label(code, label):
        return TOTAL
    return None


_YEARS: Final = r"(?:år|ar|years?|yrs?|y)?"
_SINGLE = re.compile(rf"^(\d{{1,3}})\s*{_YEARS}$")
_OPEN = re.compile(
    rf"^(\d{{1,3}})\s*(?:\+\s*{_YEARS}|{_YEARS}\s*\+|{_YEARS}\s+(?:och äldre|och över|eller äldre|"
    r"or older|and older|and over|or more))$"
)
_RANGE = re.compile(rf"^(\d{{1,3}})\s*(?:-|–|—)\s*(\d{{1,3}})\s*{_YEARS}$")
_OPEN_CODE = re.compile(r"^(\d{1,3})\+\d*$")  # PxWebApi codes such as "100+10"
_TO_CODE = re.compile(r"^-(\d{1,3})$")  # PxWebApi code "-4" for 0-4 år

MAX_AGE: Final = 130


def age_range_of(code: str | None, label: str | None) -> tuple[int, int | None] | _Total | None:
    """Completed ages ``(lower, upper)`` for an SCB age category; ``upper`` is ``None`` if open.

    The label is read first (``"0 år"``, ``"1 year"``, ``"100+ år"``,
    ``"45-54 år"``, ``"100 years or older"``), then the code (``"45-54"``,
    ``"100+10"``, ``"-4"``). Returns ``TOTAL`` for ``"totalt"``/``"TotSA"`` and
    ``None`` when neither is recognised.

    Example:
        >>> age_range_of(None, "0 år"), age_range_of("100+10", "100+ år"), age_range_of("-4", None)
        ((0, 0), (100, None), (0, 4))
    """
    for text in (label, code):
        if text is None:
            continue
        key = " ".join(text.strip().lower().split())
        found = _parse_age(key)
        if found is not None:
            return found
    if is_total_label(code, label):
        return TOTAL
    return None


def _parse_age(key: str) -> tuple[int, int | None] | None:
    match = _SINGLE.match(key)
    if match:
        age = int(match.group(1))
        return (age, age) if age <= MAX_AGE else None
    match = _OPEN.match(key) or _OPEN_CODE.match(key)
    if match:
        age = int(match.group(1))
        return (age, None) if age <= MAX_AGE else None
    match = _RANGE.match(key)
    if match:
        lower, upper = int(match.group(1)), int(match.group(2))
        if lower <= upper <= MAX_AGE:
            return (lower, upper)
        return None
    match = _TO_CODE.match(key)
    if match:
        return (0, int(match.group(1)))
    return None


def age_label(lower: int, upper: int | None) -> str:
    """The app's label for an age range: ``"37"``, ``"45-54"``, ``"100+"``.

    Example:
        >>> age_label(45, 54), age_label(100, None), age_label(7, 7)
        ('45-54', '100+', '7')
    """
    if upper is None:
        return f"{lower}+"
    if upper == lower:
        return str(lower)
    return f"{lower}-{upper}"


_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})\s*M\s*(\d{2})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(\d{4})\s*[KQ]\s*([1-4])$", re.IGNORECASE)
_HALF = re.compile(r"^(\d{4})\s*H\s*([12])$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def period_of(code: str | None, label: str | None) -> str | None:
    """The period in SCB's notation (``"2020"``, ``"2026M01"``, ``"2025K3"``), or ``None``.

    Example:
        >>> period_of("2026M01", None), period_of(None, "2020"), period_of(None, "2025q3")
        ('2026M01', '2020', '2025K3')
    """
    for text in (code, label):
        if text is None:
            continue
        key = text.strip()
        if _YEAR.match(key):
            return key
        match = _MONTH.match(key)
        if match and 1 <= int(match.group(2)) <= 12:
            return f"{match.group(1)}M{match.group(2)}"
        match = _QUARTER.match(key)
        if match:
            return f"{match.group(1)}K{match.group(2)}"
        match = _HALF.match(key)
        if match:
            return f"{match.group(1)}H{match.group(2)}"
        match = _DATE.match(key)
        if match:
            try:
                _ = calendar.monthrange(int(match.group(1)), int(match.group(2)))
            except calendar.IllegalMonthError:
                continue
            return key
    return None


def period_end(period: str) -> str:
    """The ISO date a population stock for ``period`` refers to: the period's last day.

    SCB's Folkmängd refers to 31 December of each year; monthly tables
    (TAB6471) to the last day of each month.

    Example:
        >>> period_end("2020"), period_end("2026M02"), period_end("2025K3")
        ('2020-12-31', '2026-02-28', '2025-09-30')
    """
    if _DATE.match(period):
        return period
    year = int(period[:4])
    if _YEAR.match(period):
        month = 12
    elif period[4] == "M":
        month = int(period[5:])
    elif period[4] == "K":
        month = 3 * int(period[5:])
    elif period[4] == "H":
        month = 6 * int(period[5:])
    else:  # pragma: no cover - period_of never returns anything else
        raise ValueError(f"period {period!r} is not in SCB's notation (2020, 2026M01, 2025K3)")
    return f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"


def period_year(period: str) -> int:
    """The calendar year of a period (``"2026M01"`` → 2026)."""
    return int(period[:4])


_POPULATION_CONTENT: Final = ("folkmängd", "population", "befolkning", "folkmangd")
_POPULATION_CODES: Final = frozenset({"be0101n1", "000007sf"})
_NOT_STOCK: Final = ("ökning", "förändring", "growth", "change", "increase", "tillväxt", "mean",
                     "average", "medel", "density", "täthet", "per km")


def is_population_content(code: str | None, label: str | None) -> bool:
    """True when a table-contents category is the population stock (Folkmängd).

    Example:
        >>> is_population_content("BE0101N1", "Folkmängd"), is_population_content(None, "Folkökning")
        (True, False)
        >>> is_population_content(None, "Population growth")
        False
    """
    if code is not None and code.strip().lower() in _POPULATION_CODES:
        return True
    if label is None:
        return False
    text = label.strip().lower()
    if any(word in text for word in _NOT_STOCK):
        return False
    return text.startswith(_POPULATION_CONTENT)
