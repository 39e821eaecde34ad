"""Swedish region codes: riket, län, kommun, RegSO and DeSO, always as strings.

Region codes keep their leading zeros (``"0180"``, ``"09"``). SCB writes a region
as code and name in one label (``"0980 Gotland"``, ``"SE214 Gotlands län"``,
``"00 Sweden"``) or as separate code and label (PX ``CODES``, JSON-stat); both
give the same :class:`Region`. The level is read from the shape of the code:

=============  ===================  =====================
level          example code         note
=============  ===================  =====================
``riket``      ``00``               the whole country
``riksområde`` ``SE1``, ``SE11``    NUTS 1 and NUTS 2
``län``        ``09``, ``SE214``    county; NUTS 3 codes in some CSV exports
``kommun``     ``0980``             municipality
``regso``      ``0980R001``         regional statistical area (RegSO 2020)
``deso``       ``0980C1120``        demographic statistical area (DeSO 2018)
=============  ===================  =====================

Example:
    >>> region_of(None, "0980 Gotland")
    Region(code='0980', name='Gotland', level='kommun')
    >>> region_of("09", "Gotlands län").level
    'län'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["Region", "region_of", "region_level_of", "REGION_LEVELS", "is_part_of"]

REGION_LEVELS: Final = ("riket", "riksområde", "län", "kommun", "regso", "deso")
"""Region levels from coarsest to finest."""

_PATTERNS: Final = (
    ("riket", re.compile(r"^00$")),
    ("län", re.compile(r"^(0[1-9]|1\d|2[0-5])$")),
    ("län", re.compile(r"^SE\d{3}$")),
    ("riksområde", re.compile(r"^SE\d{1,2}$")),
    ("kommun", re.compile(r"^\d{4}$")),
    ("regso", re.compile(r"^\d{4}R\d{3}$")),
    ("deso", re.compile(r"^\d{4}[A-C]\d{4}$")),
)

_COUNTRY_NAMES: Final = frozenset({"riket", "hela riket", "sverige", "sweden", "hela landet", "the country"})


@dataclass(frozen=True)
class Region:
    """A region as the importer understood it: ``code`` (string), ``name`` and ``level``.

    ``level`` is ``None`` when the code has none of SCB's shapes, as for a
    municipality's own district names in a hand-made file.
    """

    code: str
    name: str
    level: str | None


def region_level_of(code: str) -> str | None:
    """The level of a region code (see the module table), or ``None`` for other codes.

    Example:
        >>> region_level_of("0180"), region_level_of("SE214"), region_level_of("Norra")
        ('kommun', 'län', None)
    """
    for level, pattern in _PATTERNS:
        if pattern.match(code):
            return level
    return None


def region_of(code: str | None, label: str | None) -> Region:
    """Split an SCB region category into code, name and level.

    With a separate ``code`` (PX ``CODES``, JSON-stat) the code is taken as is
    and a leading copy of it is removed from the label. Without one, a leading
    token shaped like a region code is split off the label (``"0980 Gotland"``).
    ``"Riket"``/``"Sweden"`` without a code get ``"00"``. Anything else keeps the
    label as its code, with level ``None``.

    Example:
        >>> region_of(None, "00 Sweden").code, region_of(None, "Riket").code
        ('00', '00')
        >>> region_of("0114", "Upplands Väsby").name
        'Upplands Väsby'
    """
    text = " ".join((label or "").split())
    if code is not None and code.strip():
        clean = code.strip()
        name = text
        if name.startswith(clean + " "):
            name = name[len(clean) + 1 :].strip()
        return Region(clean, name or clean, region_level_of(clean))
    if not text:
        raise ValueError("empty region")
    first, _, rest = text.partition(" ")
    level = region_level_of(first)
    if level is not None:
        return Region(first, rest.strip() or first, level)
    if text.lower() in _COUNTRY_NAMES:
        return Region("00", text, "riket")
    return Region(text, text, None)


def is_part_of(part: str, whole: str) -> bool | None:
    """Whether region ``part`` lies inside region ``whole``, from the codes alone.

    Kommun codes start with their län code (``0980`` in ``09``), DeSO and RegSO
    codes with their kommun code, and everything is in riket ``00``. Returns
    ``None`` when the codes cannot tell (NUTS codes, DeSO against RegSO).

    Example:
        >>> is_part_of("0980", "09"), is_part_of("0180", "09"), is_part_of("0980", "SE214")
        (True, False, None)
    """
    whole_level = region_level_of(whole)
    part_level = region_level_of(part)
    if whole_level == "riket":
        return True
    if whole_level == "län" and whole.isdigit() and part_level in ("kommun", "regso", "deso"):
        return part.startswith(whole)
    if whole_level == "kommun" and part_level in ("regso", "deso"):
        return part.startswith(whole)
    return None
