"""Population targets: SCB population figures imported exactly as an analyst downloads them.

>>> from analysis.targets import read_population, DEFAULT_AGE_BANDS
>>> table = read_population("BE0101N1_20210513-223812_SE214-excerpt.csv")  # doctest: +SKIP
>>> table = table.with_age_bands(DEFAULT_AGE_BANDS)                          # doctest: +SKIP
>>> targets = table.targets("gender", "age_group")                          # doctest: +SKIP

Modules:

* :mod:`.agebands` — :class:`AgeBands` (standard library only at import time);
* :mod:`.vocabulary`, :mod:`.regions` — SCB's labels and codes in the app's vocabulary;
* :mod:`.sniff` — encodings, binary files, format detection;
* :mod:`.delimited`, :mod:`.px`, :mod:`.jsonstat` — one reader per format;
* :mod:`.assemble` — the checks every format goes through;
* :mod:`.table` — :class:`PopulationTable`, :class:`Tolerance`, :class:`Source`;
* :mod:`.districts` — DeSO/RegSO → the municipality's districts;
* :mod:`.read` — :func:`read_population` and the format-specific readers.

Everything but :mod:`.agebands` is loaded on first use, so
``from analysis.targets.agebands import AgeBands`` does not import pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .agebands import DEFAULT_AGE_BANDS, AgeBand, AgeBands

if TYPE_CHECKING:  # pragma: no cover
    from .districts import aggregate_to_districts, read_deso_regso_key
    from .read import (
        read_api_v1_json,
        read_jsonstat,
        read_population,
        read_population_csv,
        read_px,
    )
    from .table import DEFAULT_TOLERANCE, PopulationTable, Source, Targets, Tolerance
    from .vocabulary import GENDERS, period_end

_LAZY = {
    "read_population": "read",
    "read_population_csv": "read",
    "read_px": "read",
    "read_jsonstat": "read",
    "read_api_v1_json": "read",
    "PopulationTable": "table",
    "Source": "table",
    "Tolerance": "table",
    "Targets": "table",
    "DEFAULT_TOLERANCE": "table",
    "aggregate_to_districts": "districts",
    "read_deso_regso_key": "districts",
    "GENDERS": "vocabulary",
    "period_end": "vocabulary",
}

__all__ = ["AgeBand", "AgeBands", "DEFAULT_AGE_BANDS", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
