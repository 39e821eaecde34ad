"""DeSO and RegSO figures aggregated into the municipality's own districts.

SCB publishes small-area population by DeSO (demographic statistical areas,
about 700-2 700 residents each) and RegSO (regional statistical areas, groups
of DeSO). A municipality's districts (stadsdelar, kommundelar) are usually
unions of DeSO, so a mapping DeSO code → district code turns SCB's figures into
district targets. SCB's key file ``koppling-deso2018-regso2020.csv`` maps every
DeSO to its RegSO; when the RegSO are the districts it is the mapping.

Example:
    >>> import pandas as pd
    >>> from analysis.targets import PopulationTable
    >>> table = PopulationTable.from_frame(pd.DataFrame(
    ...     {"region": ["0980C1120", "0980C1150"], "population": [1500, 1700]}))
    >>> aggregate_to_districts(table, {"0980C1120": "0980R001", "0980C1150": "0980R001"}).total
    3200
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from .sniff import check_not_binary, decode_text, load_bytes
from .table import PopulationTable

__all__ = ["aggregate_to_districts", "read_deso_regso_key"]

_KEY_COLUMNS = {
    "kommun": "kommun",
    "kommunkod": "kommun",
    "kommunnamn": "kommun_name",
    "deso_2018": "deso",
    "deso": "deso",
    "desokod": "deso",
    "regso_2020": "regso_name",
    "regso": "regso_name",
    "regsonamn": "regso_name",
    "regsokod_2020": "regso",
    "regsokod": "regso",
}
_DESO = re.compile(r"^\d{4}[A-C]\d{4}$")
_REGSO = re.compile(r"^\d{4}R\d{3}$")


def read_deso_regso_key(
    source: str | Path | bytes | BinaryIO,
    *,
    filename: str | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read SCB's DeSO → RegSO key (``koppling-deso2018-regso2020.csv``).

    Returns one row per DeSO with string columns ``kommun``, ``kommun_name``,
    ``deso``, ``regso`` (code, e.g. ``"0980R001"``) and ``regso_name``, in file
    order. Codes keep their leading zeros. A malformed or repeated DeSO code is
    an error naming its line.

    Example:
        >>> text = "Kommun,Kommunnamn,DeSO_2018,RegSO_2020,RegSOkod_2020\\n"
        >>> text += "0980,Gotland,0980C1120,Bingeby,0980R001\\n"
        >>> key = read_deso_regso_key(text.encode())
        >>> dict(zip(key["deso"], key["regso"]))
        {'0980C1120': '0980R001'}
    """
    data, name = load_bytes(source, filename)
    shown = name or "the key file"
    check_not_binary(data, shown)
    text = decode_text(data, filename=shown, encoding=encoding)
    lines = text.splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:  # pragma: no cover - check_not_binary refuses empty files
        raise ValueError(f"{shown}: the file is empty")
    delimiter = ";" if lines[header_at].count(";") > lines[header_at].count(",") else ","
    header = [h.strip().strip('"').strip().lower() for h in lines[header_at].split(delimiter)]
    columns = [_KEY_COLUMNS.get(h) for h in header]
    for needed in ("kommun", "deso", "regso"):
        if needed not in columns:
            raise ValueError(
                f"{shown}, line {header_at + 1}: no {needed!r} column; SCB's key has the columns"
                " Kommun, Kommunnamn, DeSO_2018, RegSO_2020, RegSOkod_2020"
            )
    records = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines[header_at + 1:], start=header_at + 2):
        if not line.strip():
            continue
        fields = [f.strip().strip('"').strip() for f in line.split(delimiter)]
        if len(fields) != len(header):
            raise ValueError(f"{shown}, line {number}: {len(fields)} fields, the header has"
                             f" {len(header)}")
        row = {c: f for c, f in zip(columns, fields) if c is not None}
        deso, regso, kommun = row["deso"], row["regso"], row["kommun"]
        if not _DESO.match(deso):
            raise ValueError(f"{shown}, line {number}: {deso!r} is not a DeSO code (like 0980C1120)")
        if not _REGSO.match(regso):
            raise ValueError(f"{shown}, line {number}: {regso!r} is not a RegSO code (like 0980R001)")
        if not (kommun.isdigit() and len(kommun) == 4):
            raise ValueError(f"{shown}, line {number}: kommun {kommun!r} is not a 4-digit code;"
                             " keep the leading zero")
        if not (deso.startswith(kommun) and regso.startswith(kommun)):
            raise ValueError(f"{shown}, line {number}: {deso} / {regso} are not in kommun {kommun}")
        if deso in seen:
            raise ValueError(f"{shown}, line {number}: DeSO {deso} is already on line {seen[deso]}")
        seen[deso] = number
        records.append({
            "kommun": kommun,
            "kommun_name": row.get("kommun_name", ""),
            "deso": deso,
            "regso": regso,
            "regso_name": row.get("regso_name", ""),
        })
    if not records:
        raise ValueError(f"{shown}: the key has a header but no rows")
    return pd.DataFrame.from_records(records, columns=["kommun", "kommun_name", "deso", "regso",
                                                       "regso_name"])


def aggregate_to_districts(
    table: PopulationTable,
    mapping: Mapping[str, str] | pd.Series | None,
    *,
    names: Mapping[str, str] | None = None,
) -> PopulationTable:
    """Sum a table's regions into districts by ``mapping`` (region code → district code).

    Without a mapping the regions are taken as the districts and only the
    column is renamed. Every region in the table must be in the mapping: the
    unmapped codes are named in the error. The result has a ``district``
    column and ``region_level="district"``; ``names`` gives district names.

    Example:
        >>> import pandas as pd
        >>> from analysis.targets import PopulationTable
        >>> table = PopulationTable.from_frame(pd.DataFrame({"region": ["0980R001"], "population": [9]}))
        >>> aggregate_to_districts(table, None).dims
        ('district',)
    """
    dim = table.region_dim
    if dim is None:
        raise ValueError("to_districts: the table has no regions to turn into districts")
    data = table.data
    if mapping is None:
        renamed = data.rename(columns={dim: "district"})
        region_names = dict(table.region_names)
        if names is not None:
            region_names.update({str(k): str(v) for k, v in names.items()})
        note = f"regions ({table.region_level}) used as the districts"
        return replace(table, data=renamed, region_level="district", region_names=region_names,
                       notes=table.notes + (note,), totals=None,
                       other_warnings=table.warnings)
    lookup = {str(k): str(v) for k, v in dict(mapping).items()}
    empty = [k for k, v in lookup.items() if not v.strip() or v.lower() == "nan"]
    if empty:
        raise ValueError(f"to_districts: region {empty[0]!r} is mapped to an empty district")
    present = data[dim].dropna().astype(str).unique().tolist()
    unmapped = sorted(c for c in present if c not in lookup)
    if unmapped:
        shown = ", ".join(unmapped[:10]) + (f" and {len(unmapped) - 10} more" if len(unmapped) > 10
                                            else "")
        raise ValueError(
            f"to_districts: {len(unmapped)} regions in the table have no district in the mapping:"
            f" {shown}. Add them to the mapping, or select(region=...) the municipality's own"
            " regions first"
        )
    district = data[dim].astype(object).map(lambda c: None if pd.isna(c) else lookup[str(c)])
    others = [c for c in table.dims if c != dim]
    if table.one_way:
        regional = data[data[dim].notna()].assign(district=district[data[dim].notna()])
        summed = regional.groupby("district", sort=True)["population"].sum().reset_index()
        rest = data[data[dim].isna()].drop(columns=[dim]).assign(district=None)
        new = pd.concat([summed, rest], ignore_index=True)
    else:
        new = (
            data.drop(columns=[dim]).assign(district=district)
            .groupby(["district"] + others, sort=True, observed=False)["population"].sum()
            .reset_index()
        )
    order = [c for c in ("district", "gender", "age", "age_group", "period") if c in new.columns]
    new = new[order + ["population"]]
    new["district"] = new["district"].astype(str) if not table.one_way else new["district"]
    new["population"] = new["population"].astype(np.int64)
    region_names = {d: d for d in new["district"].dropna().unique().tolist()}
    if names is not None:
        region_names.update({str(k): str(v) for k, v in names.items() if str(k) in region_names})
    n_districts = new["district"].nunique()
    note = (f"aggregated {len(present)} regions ({table.region_level}) into {n_districts}"
            " districts")
    return replace(table, data=new, region_level="district", region_names=region_names,
                   notes=table.notes + (note,), totals=None, other_warnings=table.warnings)
