"""From cells as a file lays them out to a checked :class:`PopulationTable`.

Every reader (SCB CSV, long CSV, PX, JSON-stat, API v1 JSON) produces a
:class:`RawTable`: the file's dimensions with their categories as written
(code and label), one row of category positions per cell, the raw count
tokens and, where the format has them, line numbers. :func:`assemble` then
does the same work for all formats, so every format gets the same checks and
the same messages:

1. recognise the dimensions (region, gender, age, period, table contents,
   others such as civilstånd);
2. keep the population contents (Folkmängd) when the table has several;
3. parse the counts: SCB's ``..`` (missing), text, decimals and negative
   numbers are errors naming the line;
4. normalise the categories to the app's vocabulary; unknown categories,
   two labels for one category and overlapping age groups are errors;
5. refuse duplicate cells;
6. keep one region level (the finest, unless told otherwise);
7. set SCB's totals aside and check them against the sum of the detailed
   cells (:class:`~analysis.targets.table.Tolerance`);
8. sum over the other dimensions (civilstånd);
9. single years of age become ``age`` (int), age groups ``age_group``;
10. fill combinations missing from the file with 0, with a warning.

Nothing is returned unless every step passes: there are no partial results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .regions import REGION_LEVELS, is_part_of, region_of
from .table import DEFAULT_TOLERANCE, TOTALS_COLUMNS, PopulationTable, Source, Tolerance
from .vocabulary import (
    TOTAL,
    DimKind,
    age_label,
    age_range_of,
    dimension_kind,
    gender_of,
    is_known_other,
    missing_marital_statuses,
    is_population_content,
    is_total_label,
    period_of,
    period_year,
)

__all__ = ["RawDimension", "RawTable", "TableWarning", "assemble", "parse_counts"]


class TableWarning(str):
    """A warning's English text (it is a ``str``) with what it is about as data.

    For callers that explain warnings in their own words: ``code`` is
    ``"partial_category"`` (a summed-over dimension such as civilstånd lacks
    categories; ``params``: ``dimension``, ``missing``, ``kept``),
    ``"unknown_dimension"`` (``dimension``), ``"missing_combinations"``
    (``count``) or ``"regions_unchecked"`` (``regions``).
    """

    code: str
    params: dict

    def __new__(cls, text: str, *, code: str, **params: object) -> TableWarning:
        warning = super().__new__(cls, text)
        warning.code = code
        warning.params = params
        return warning


@dataclass
class RawDimension:
    """One dimension as the file writes it.

    ``codes[i]``/``labels[i]`` describe category ``i`` (either may be ``None``);
    ``where[i]``, when given, says where the category is defined (PX
    ``VALUES`` line), otherwise the first cell using it is named.
    ``kind`` overrides recognition by name.
    """

    name: str
    codes: list[str | None]
    labels: list[str | None]
    kind: DimKind | None = None
    where: list[str] | None = None

    def text(self, i: int) -> str:
        """The category as the analyst sees it in the file."""
        code, label = self.codes[i], self.labels[i]
        if label is None:
            return str(code)
        if code is None or label.startswith(code) or code == label:
            return label
        return f"{label} ({code})"


@dataclass
class RawTable:
    """Cells as laid out in one file, before any interpretation."""

    source: Source
    dims: list[RawDimension]
    index: np.ndarray  # (cells, dims) category positions
    values: Sequence[object]  # raw count per cell: str, int, float or None
    lines: np.ndarray | None = None  # position of each cell: line number, or index in a JSON array
    where_format: str = "line {}"  # how a position is named: "line {}", "value[{}]", "row {}"
    notes: list[str] = field(default_factory=list)
    cell_key_noise: bool = False  # the file itself says the figures carry CKM noise

    def where(self, cell: int) -> str:
        """``"line 17"``, ``"value[16]"`` or ``"row 3"``: where a cell is, for error messages."""
        if self.lines is not None:
            return self.where_format.format(int(self.lines[cell]))
        return f"cell {cell + 1}"

    def describe(self, cell: int) -> str:
        """``"(region=SE214 Gotlands län, kön=män, år=2020)"``."""
        parts = [f"{d.name}={d.text(int(self.index[cell, j]))}" for j, d in enumerate(self.dims)]
        return "(" + ", ".join(parts) + ")"

    def category_where(self, dim: int, category: int) -> str:
        """Where category ``category`` of dimension ``dim`` is defined or first used."""
        d = self.dims[dim]
        if d.where is not None:
            return d.where[category]
        hits = np.flatnonzero(self.index[:, dim] == category)
        return self.where(int(hits[0])) if len(hits) else f"dimension {d.name!r}"


def _fail(raw: RawTable, cell: int, problem: str, fix: str) -> ValueError:
    return ValueError(f"{_name(raw)}, {raw.where(cell)} {raw.describe(cell)}: {problem}. {fix}")


def _fail_dim(raw: RawTable, dim: int, category: int, problem: str, fix: str) -> ValueError:
    return ValueError(f"{_name(raw)}, {raw.category_where(dim, category)}: {problem}. {fix}")


def _name(raw: RawTable) -> str:
    if raw.source.name:
        return raw.source.name
    return "the data frame" if raw.source.format == "frame" else "the file"


# ------------------------------------------------------------------- counts
_MISSING_SYMBOLS = {
    "..": "'..' is SCB's symbol for figures that are not available",
    ".": "'.' is SCB's symbol for figures that cannot occur",
    "...": "'...' is SCB's symbol for figures that are not available",
    "": "the count is empty",
    "x": "'x' marks a figure suppressed for confidentiality",
}


def parse_counts(raw: RawTable, cells: np.ndarray) -> np.ndarray:
    """Whole, non-negative counts for ``cells``; the first bad one is a ``ValueError``.

    SCB's ``-`` (nil) counts as 0. Spaces used as thousands separators are
    removed (``"60 124"``).
    """
    values = raw.values if isinstance(raw.values, np.ndarray) else np.asarray(raw.values, dtype=object)
    chosen = values[cells]
    if all(type(t) is str for t in chosen.tolist()):
        try:  # fast path: every token is a plain whole number
            counts = chosen.astype(np.int64)
        except (ValueError, OverflowError):
            pass
        else:
            if not (counts < 0).any():
                return counts
    tokens = pd.Series(chosen, dtype=object)
    if any(type(t) is bool for t in tokens.tolist()):  # JSON true/false are not counts
        tokens = tokens.map(lambda t: "not a number" if type(t) is bool else t)
    numbers = np.array(pd.to_numeric(tokens, errors="coerce"), dtype=float)  # a writable copy
    text = tokens
    unparsed = np.isnan(numbers)
    if unparsed.any():  # SCB's "-", thousands separators, quotes: clean only what did not parse
        text = tokens.copy()
        text[unparsed] = tokens[unparsed].map(_clean_token)
        numbers[unparsed] = pd.to_numeric(text[unparsed], errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(numbers) | (numbers < 0) | (numbers != np.floor(numbers))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        cell = int(cells[first])
        token = raw.values[cell]
        shown = "null" if token is None else repr(token)
        clean = _clean_token(token)
        if clean in _MISSING_SYMBOLS or token is None:
            why = _MISSING_SYMBOLS.get(clean, "the count is missing")
            raise _fail(raw, cell, f"count {shown} is missing ({why})",
                        "Choose a table or selection without missing figures, or fill the figure in")
        if np.isnan(numbers[first]):
            raise _fail(raw, cell, f"count {shown} is not a number",
                        "Counts must be whole numbers of persons")
        if numbers[first] < 0:
            raise _fail(raw, cell, f"count {shown} is negative",
                        "A population count cannot be negative; is this a change (Folkökning)"
                        " rather than Folkmängd?")
        raise _fail(raw, cell, f"count {shown} is not a whole number",
                    "Population counts are whole numbers of persons; export without decimals")
    if np.any(numbers > 2**53):
        cell = int(cells[int(np.argmax(numbers))])
        raise _fail(raw, cell, "count is implausibly large", "Check the column separator")
    return numbers.astype(np.int64)


def _clean_token(token: object) -> object:
    if token is None:
        return None
    if isinstance(token, bool):
        return "not a number"
    if isinstance(token, (int, float, np.integer, np.floating)):
        return token
    text = str(token).strip().strip('"').strip()
    if text in ("-", "–"):
        return "0"
    return text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "")


# -------------------------------------------------------------------- kinds
_COLUMN_OF_KIND = {
    "region": "region",
    "district": "district",
    "gender": "gender",
    "age": "age",
    "period": "period",
}


def _kinds(raw: RawTable) -> list[DimKind]:
    kinds: list[DimKind] = []
    seen: dict[str, str] = {}
    for dim in raw.dims:
        kind = dim.kind or dimension_kind(dim.name) or "other"
        if kind != "other":
            group = "region" if kind == "district" else kind
            if group in seen:
                raise ValueError(
                    f"{raw.source.name or 'the file'}: two {group} dimensions, {seen[group]!r}"
                    f" and {dim.name!r}; keep only one of them in the export"
                )
            seen[group] = dim.name
        kinds.append(kind)
    return kinds


# ------------------------------------------------------------------ content
def _choose_content(raw: RawTable, j: int, wanted: str | None) -> tuple[int, str | None]:
    dim = raw.dims[j]
    n = len(dim.labels)
    texts = [dim.text(i) for i in range(n)]
    if wanted is not None:
        key = wanted.strip().lower()
        for i in range(n):
            if key in {(dim.codes[i] or "").lower(), (dim.labels[i] or "").lower()}:
                return i, _content_note(texts, i, n)
        raise ValueError(
            f"{raw.source.name or 'the file'}: content {wanted!r} is not in the table; it has"
            f" {', '.join(repr(t) for t in texts)}"
        )
    if n == 1:
        return 0, None
    candidates = [i for i in range(n) if is_population_content(dim.codes[i], dim.labels[i])]
    if len(candidates) == 1:
        return candidates[0], _content_note(texts, candidates[0], n)
    raise ValueError(
        f"{raw.source.name or 'the file'}: the table has {n} contents"
        f" ({', '.join(repr(t) for t in texts)}) and the population (Folkmängd) cannot be told"
        " apart; pass content='…' to choose one"
    )


def _content_note(texts: list[str], chosen: int, n: int) -> str | None:
    if n == 1:
        return None
    others = ", ".join(repr(t) for i, t in enumerate(texts) if i != chosen)
    return f"used table contents {texts[chosen]!r}; left out {others}"


# ---------------------------------------------------------------- normalise
@dataclass
class _Normalised:
    keys: list[str | None]  # per category; None = total
    names: dict[str, str] = field(default_factory=dict)  # region code -> name
    levels: dict[str, str | None] = field(default_factory=dict)  # region code -> level
    ranges: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # age label -> range


def _normalise(raw: RawTable, j: int, kind: DimKind) -> _Normalised:
    dim = raw.dims[j]
    out = _Normalised(keys=[])
    used = set(np.unique(raw.index[:, j]).tolist()) if len(raw.index) else set()
    for i, (code, label) in enumerate(zip(dim.codes, dim.labels)):
        if i not in used:
            out.keys.append(None)
            continue
        shown = dim.text(i)
        if kind == "gender":
            try:
                found = gender_of(code, label)
            except ValueError as error:
                raise _fail_dim(raw, j, i, str(error).split(";")[0],
                                "Leave these rows out of the population file") from None
            if found is None:
                raise _fail_dim(raw, j, i, f"unknown {dim.name} {shown!r}",
                                "Use kvinnor/män, women/men or SCB's codes 2/1")
            out.keys.append(None if found is TOTAL else str(found))
        elif kind == "age":
            found_age = age_range_of(code, label)
            if found_age is None:
                raise _fail_dim(raw, j, i, f"unknown {dim.name} {shown!r}",
                                "Write ages as '37', '37 år', '100+ år' or groups like '45-54'")
            if found_age is TOTAL:
                out.keys.append(None)
            else:
                lower, upper = found_age  # type: ignore[misc]
                key = age_label(lower, upper)
                out.keys.append(key)
                out.ranges[key] = (lower, upper)
        elif kind == "period":
            found_period = period_of(code, label)
            if found_period is None:
                raise _fail_dim(raw, j, i, f"{dim.name} {shown!r} is not a period",
                                "Periods are years (2020), months (2026M01) or quarters (2025K1)")
            out.keys.append(found_period)
        elif kind in ("region", "district"):
            if is_total_label(None, label) and code is None:
                out.keys.append(None)
                continue
            try:
                region = region_of(code, label)
            except ValueError:
                raise _fail_dim(raw, j, i, f"empty {dim.name}", "Every row needs a region") from None
            if kind == "region" and region.code.isdigit() and len(region.code) in (1, 3):
                raise _fail_dim(
                    raw, j, i,
                    f"{dim.name} code {region.code!r} looks like a code that lost its leading zero",
                    f"Write it as text, '{region.code.zfill(len(region.code) + 1)}'"
                    " (spreadsheet programs drop leading zeros)",
                )
            out.keys.append(region.code)
            out.names[region.code] = region.name
            out.levels[region.code] = region.level if kind == "region" else None
        else:  # other dimensions: keep the label
            out.keys.append(None if is_total_label(code, label) else (label or code or ""))
    if kind == "age":
        _check_age_overlap(raw, j, out)
    return out


def _check_age_overlap(raw: RawTable, j: int, norm: _Normalised) -> None:
    first: dict[str, int] = {}
    for i, key in enumerate(norm.keys):
        if key is not None:
            first.setdefault(key, i)
    items = sorted(((norm.ranges[key], i) for key, i in first.items()), key=lambda t: t[0][0])
    for (a, i), (b, k) in zip(items, items[1:]):
        if a[1] is None or b[0] <= a[1]:
            dim = raw.dims[j]
            raise _fail_dim(
                raw, j, k,
                f"{dim.name} {dim.text(k)!r} overlaps {dim.text(i)!r} ({raw.category_where(j, i)})",
                "Export one age grouping only (single years, or groups that do not overlap)",
            )


# ------------------------------------------------------------------ assemble
def assemble(
    raw: RawTable,
    *,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    content: str | None = None,
    region_level: str | None = None,
) -> PopulationTable:
    """Check and normalise ``raw`` into a :class:`PopulationTable` (steps in the module docstring).

    ``content`` chooses the table contents by code or label when the file has
    several; ``region_level`` keeps another level than the finest when the
    file mixes levels (``"län"`` from a file with län and kommuner).
    """
    filename = _name(raw)
    if not isinstance(tolerance, Tolerance):
        raise ValueError("tolerance must be a Tolerance, for example Tolerance(absolute=5, relative=0.005)")
    if region_level is not None and region_level not in REGION_LEVELS:
        raise ValueError(f"region_level {region_level!r} is not one of {list(REGION_LEVELS)}")
    if len(raw.index) == 0:
        raise ValueError(f"{filename}: the file holds no population figures")
    kinds = _kinds(raw)
    notes = list(raw.notes)
    warnings: list[str] = []

    # 2. contents
    cells = np.arange(len(raw.index))
    dims = list(range(len(raw.dims)))
    for j in list(dims):
        if kinds[j] == "content":
            chosen, note = _choose_content(raw, j, content)
            cells = cells[raw.index[cells, j] == chosen]
            dims.remove(j)
            if note:
                notes.append(note)
    if content is not None and "content" not in kinds:
        raise ValueError(f"{filename}: content={content!r} given, but the file has one content only")

    # 3. counts
    population = parse_counts(raw, cells)

    # 4. categories
    normalised = {j: _normalise(raw, j, kinds[j]) for j in dims}

    # 5. duplicate cells (after normalising: "kvinnor" and "women" are one category)
    if len(dims):
        canonical = {}
        for j in dims:
            seen: dict[str | None, int] = {}
            canonical[j] = np.array([seen.setdefault(key, i)
                                     for i, key in enumerate(normalised[j].keys)], dtype=np.int64)
        keys = pd.DataFrame({j: canonical[j][raw.index[cells, j]] for j in dims})
        repeated = keys.duplicated(keep=False).to_numpy()
        if repeated.any():
            first = int(np.flatnonzero(repeated)[0])
            row = keys.iloc[first]
            same = np.flatnonzero((keys == row).all(axis=1).to_numpy())
            a, b = int(cells[same[0]]), int(cells[same[1]])
            raise _fail(raw, b, f"the same cell as {raw.where(a)}",
                        "Each combination of categories may appear only once; remove the duplicate")
    elif len(cells) > 1:
        raise _fail(raw, int(cells[1]), f"the same cell as {raw.where(int(cells[0]))}",
                    "Each combination of categories may appear only once; remove the duplicate")

    # build the working frame: one object column per dimension, None = total
    columns: dict[str, list[str | None]] = {}
    names_of: dict[str, str] = {}
    other_dims: list[str] = []
    region_names: dict[str, str] = {}
    levels: dict[str, str | None] = {}
    ranges: dict[str, tuple[int, int | None]] = {}
    for j in dims:
        kind = kinds[j]
        column = _COLUMN_OF_KIND.get(kind, f"other:{raw.dims[j].name}")
        keys_j = normalised[j].keys
        columns[column] = [keys_j[c] for c in raw.index[cells, j].tolist()]
        names_of[column] = raw.dims[j].name
        if kind == "other":
            other_dims.append(column)
            if not is_known_other(raw.dims[j].name):
                warnings.append(TableWarning(
                    f"summed over {raw.dims[j].name!r}, a dimension the importer does not know;"
                    " check that its categories do not overlap",
                    code="unknown_dimension", dimension=raw.dims[j].name,
                ))
        region_names.update(normalised[j].names)
        levels.update(normalised[j].levels)
        ranges.update(normalised[j].ranges)
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()},
                         index=pd.RangeIndex(len(cells)))
    frame["population"] = population
    frame["_cell"] = cells
    dim_columns = [c for c in frame.columns if c not in ("population", "_cell")]

    # dimensions holding only a total: the total is the figure
    for column in list(dim_columns):
        if column in ("region", "district", "period"):
            continue
        if frame[column].isna().all():
            dim_columns.remove(column)
            frame = frame.drop(columns=[column])
            if column in other_dims:
                other_dims.remove(column)
            notes.append(f"{names_of[column]}: the file has only its total, so the figures are for"
                         " all categories together")

    totals_rows: list[pd.DataFrame] = []
    errors: list[tuple[int, str]] = []

    # 6. region levels
    table_level: str | None = None
    region_column = "region" if "region" in dim_columns else None
    if region_column is not None:
        present_levels = {levels[c] for c in frame["region"].dropna().unique().tolist()}
        if None in present_levels and len(present_levels) > 1:
            unknown = sorted(c for c in frame["region"].dropna().unique() if levels[c] is None)
            raise ValueError(
                f"{filename}: regions {unknown[:5]} are not SCB region codes, but other regions"
                " are; import a municipality's districts in a file of their own"
            )
        if None in present_levels:
            table_level = None
        else:
            order = [lvl for lvl in REGION_LEVELS if lvl in present_levels]
            table_level = region_level or order[-1]
            if table_level not in present_levels:
                raise ValueError(
                    f"{filename}: region_level={region_level!r}, but the file has regions at the"
                    f" levels {order}"
                )
            if len(order) > 1:
                level_of_row = frame["region"].map(levels)
                finer = REGION_LEVELS.index(table_level)
                coarse_mask = level_of_row.map(lambda lvl: REGION_LEVELS.index(lvl) < finer)
                fine_mask = level_of_row.map(lambda lvl: REGION_LEVELS.index(lvl) > finer)
                coarse = frame[coarse_mask.astype(bool)]
                n_fine = frame.loc[fine_mask.astype(bool), "region"].nunique()
                n_coarse = coarse["region"].nunique()
                frame = frame[~(coarse_mask | fine_mask).astype(bool)]
                kept = frame["region"].nunique()
                text = f"the file has regions at several levels ({', '.join(order)}): used the"
                text += f" {kept} at level {table_level}"
                if n_coarse:
                    text += f"; {n_coarse} coarser regions were checked against them and set aside"
                if n_fine:
                    text += f"; left out {n_fine} finer regions"
                notes.append(text)
                if n_coarse:
                    totals_rows.append(
                        _check_region_totals(frame, coarse, dim_columns, tolerance, names_of,
                                             warnings)
                    )
        regions_kept = set(frame["region"].dropna().tolist())
        region_names = {k: v for k, v in region_names.items() if k in regions_kept}
    elif "district" in dim_columns:
        table_level = "district"

    # 7. totals
    total_mask = frame[dim_columns].isna()
    has_total = total_mask.any(axis=1)
    if has_total.any():
        details = frame[~has_total]
        for pattern, rows in frame[has_total].groupby(
            [total_mask[c] for c in dim_columns], sort=False
        ):
            pattern = pattern if isinstance(pattern, tuple) else (pattern,)
            spanned = [c for c, t in zip(dim_columns, pattern) if t]
            keep = [c for c, t in zip(dim_columns, pattern) if not t]
            checked = _compare(rows, details, keep, tolerance)
            messages = _messages(checked, spanned, names_of)
            outside = checked["outside"].to_numpy()
            errors.extend((int(cell), message) for cell, message, off in
                          zip(checked["_cell"], messages, outside) if off)
            checked["warning"] = [m if not off else "" for m, off in zip(messages, outside)]
            totals_rows.append(checked)
        frame = details
        notes.append(
            "the file holds SCB's totals as well as the detailed cells: used the detailed cells"
            " and checked the totals against their sums (see totals)"
        )
    if errors:
        cell, message = errors[0]
        more = f" ({len(errors) - 1} more totals are off as well)" if len(errors) > 1 else ""
        raise _fail(
            raw, cell,
            f"{message}{more}",
            "This is more than SCB's cell-key noise explains; check that the export is one"
            " consistent table, or pass a larger tolerance",
        )

    # 8. other dimensions
    keys = [c for c in dim_columns if c not in other_dims]
    for column in other_dims:
        values = [v for v in pd.unique(frame[column]) if v is not None]
        notes.append(
            f"summed over {names_of[column]} ({len(values)} "
            f"{'category' if len(values) == 1 else 'categories'}:"
            f" {', '.join(str(v) for v in values[:6])}{' …' if len(values) > 6 else ''})"
        )
        missing = missing_marital_statuses(names_of[column], [str(v) for v in values])
        if missing:
            warnings.append(TableWarning(
                f"{names_of[column]} lacks {', '.join(missing)}: the counts are for"
                f" {', '.join(str(v) for v in values)} only, not the whole population. Export"
                f" every {names_of[column]} category, or leave {names_of[column]} out of the"
                " selection",
                code="partial_category", dimension=names_of[column], missing=tuple(missing),
                kept=tuple(str(v) for v in values),
            ))
    if other_dims:
        if keys:
            frame = frame.groupby(keys, sort=False, dropna=False)["population"].sum().reset_index()
        else:
            frame = pd.DataFrame({"population": [int(frame["population"].sum())]})

    # 9. ages
    open_age: int | None = None
    if "age" in keys:
        used = [k for k in pd.unique(frame["age"]) if k is not None]
        spans = {k: ranges[k] for k in used}
        top = max(spans.values(), key=lambda r: r[0]) if spans else None
        single = all(
            (r[1] == r[0]) or (r[1] is None and top is not None and r[0] == top[0])
            for r in spans.values()
        )
        if single:
            frame["age"] = frame["age"].map(lambda k: spans[k][0]).astype(np.int64)
            if top is not None and top[1] is None:
                open_age = top[0]
        else:
            order = sorted(spans, key=lambda k: spans[k][0])
            frame["age"] = pd.Categorical(frame["age"], categories=order, ordered=True)
            frame = frame.rename(columns={"age": "age_group"})
            keys = ["age_group" if k == "age" else k for k in keys]

    # 10. missing combinations
    frame = frame[keys + ["population"]]
    if len(keys) > 1:
        frame = _fill_missing(frame, keys, warnings)

    # final shape
    order = [c for c in ("region", "district", "gender", "age", "age_group", "period") if c in keys]
    frame = frame[order + ["population"]]
    for column in ("region", "district", "gender", "period"):
        if column in frame.columns:
            frame[column] = frame[column].astype(str)
    frame["population"] = frame["population"].astype(np.int64)
    frame = frame.sort_values([c for c in ("period", "region", "district", "gender", "age",
                                           "age_group") if c in order]).reset_index(drop=True)
    periods = frame["period"].unique().tolist() if "period" in frame.columns else []
    noise = raw.cell_key_noise or any(period_year(p) >= 2025 for p in periods)
    totals = _totals_frame(totals_rows, dim_columns)
    if totals is not None and "age_group" in frame.columns:
        totals = totals.rename(columns={"age": "age_group"})
    return PopulationTable(
        data=frame,
        source=raw.source,
        region_level=table_level,
        notes=tuple(notes),
        cell_key_noise=noise,
        open_age=open_age,
        region_names=region_names,
        totals=totals,
        other_warnings=tuple(warnings),
    )


def _compare(rows: pd.DataFrame, details: pd.DataFrame, keep: list[str],
             tolerance: Tolerance) -> pd.DataFrame:
    """``rows`` (published totals) with the sum and count of the detailed cells they span."""
    if keep:
        parts = details.groupby(keep, sort=False)["population"].agg(["sum", "size"])
        merged = rows.join(parts, on=keep)
    else:
        merged = rows.assign(sum=int(details["population"].sum()), size=len(details))
    out = merged.rename(columns={"population": "published", "sum": "sum_of_parts",
                                 "size": "parts"})
    out["sum_of_parts"] = out["sum_of_parts"].fillna(0).astype(np.int64)
    out["parts"] = out["parts"].fillna(0).astype(np.int64)
    out["difference"] = out["sum_of_parts"] - out["published"]
    out["allowed"] = [tolerance.allowed(t, p) for t, p in zip(out["published"], out["parts"])]
    out["outside"] = out["difference"].abs() > out["allowed"]
    out["warning"] = ""
    return out.reset_index(drop=True)


def _messages(checked: pd.DataFrame, spanned: list[str], names_of: dict[str, str],
              what: str | None = None) -> list[str]:
    """One message per row of ``checked`` whose total differs from its parts ('' otherwise)."""
    what = what or "published total over " + " and ".join(names_of.get(c, c) for c in spanned)
    fixed = [c for c in checked.columns if c in names_of and c not in spanned]
    out = []
    for row in checked.to_dict("records"):
        if row["difference"] == 0:
            out.append("")
            continue
        where = ", ".join(f"{names_of[c]} {row[c]}" for c in fixed)
        out.append(
            what + (f" for {where}" if where else "")
            + f" is {row['published']} but its {row['parts']} detailed cells sum to"
            f" {row['sum_of_parts']} (difference {row['difference']:+d},"
            f" tolerance {row['allowed']:.1f})"
        )
    return out


def _check_region_totals(
    fine: pd.DataFrame,
    coarse: pd.DataFrame,
    dim_columns: list[str],
    tolerance: Tolerance,
    names_of: dict[str, str],
    warnings: list[str],
) -> pd.DataFrame:
    """Compare coarser regions (län, riket) with the sum of their finer parts in the file.

    Only warnings: a file may hold a county and just some of its
    municipalities. Regions whose parts cannot be told from the codes are
    set aside unchecked.
    """
    others = [c for c in dim_columns if c != "region"]
    fine_details = fine[~fine[dim_columns].isna().any(axis=1)]
    coarse_details = coarse[~coarse[dim_columns].isna().any(axis=1)]
    fine_codes = fine_details["region"].unique().tolist()
    pairs: list[tuple[str, str]] = []
    unchecked: list[str] = []
    for code in coarse_details["region"].unique().tolist():
        inside = [is_part_of(c, str(code)) for c in fine_codes]
        if any(flag is None for flag in inside):
            unchecked.append(str(code))
        else:
            pairs.extend((str(code), c) for c, flag in zip(fine_codes, inside) if flag)
    pieces = []
    checkable = coarse_details[~coarse_details["region"].isin(unchecked)]
    if len(checkable):
        membership = pd.DataFrame(pairs, columns=["_whole", "region"], dtype=object)
        parts = fine_details.merge(membership, on="region")
        parts = parts.drop(columns=["region"]).rename(columns={"_whole": "region"})
        checked = _compare(checkable, parts, ["region"] + others, tolerance)
        messages = _messages(checked, [], {**names_of, "region": "region"}, what="this region")
        checked["warning"] = [
            m.replace("this region for region ", "region ", 1)
            + ("; the file may not hold all of its parts" if m and off else "")
            for m, off in zip(messages, checked["outside"].to_numpy())
        ]
        pieces.append(checked)
    if unchecked:
        piece = coarse_details[coarse_details["region"].isin(unchecked)]
        piece = piece.rename(columns={"population": "published"}).reset_index(drop=True)
        piece["sum_of_parts"] = pd.NA
        piece["parts"] = pd.NA
        piece["difference"] = pd.NA
        piece["allowed"] = np.nan
        piece["outside"] = False
        piece["warning"] = ""
        pieces.append(piece)
        warnings.append(TableWarning(
            f"regions {', '.join(unchecked[:5])}{' …' if len(unchecked) > 5 else ''} were set aside"
            " without a check: their parts cannot be told from the codes",
            code="regions_unchecked", regions=tuple(unchecked),
        ))
    return pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()


def _totals_frame(pieces: list[pd.DataFrame], dim_columns: list[str]) -> pd.DataFrame | None:
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return None
    frame = pd.concat(pieces, ignore_index=True)
    dims = [c for c in dim_columns if c in frame.columns]
    out = frame[dims].astype(object)
    out = out.where(out.notna(), None)
    out.columns = [c.removeprefix("other:") for c in dims]
    for column in TOTALS_COLUMNS:
        out[column] = frame[column].to_numpy()
    for column in ("sum_of_parts", "parts", "difference"):
        out[column] = pd.array(out[column].tolist(), dtype="Int64")
    out["published"] = out["published"].astype(np.int64)
    out["allowed"] = out["allowed"].astype(float)
    out["warning"] = out["warning"].astype(object)
    return out


def _fill_missing(frame: pd.DataFrame, keys: list[str], warnings: list[str]) -> pd.DataFrame:
    levels = []
    for key in keys:
        column = frame[key]
        if isinstance(column.dtype, pd.CategoricalDtype):
            levels.append(list(column.cat.categories))
        else:
            levels.append(list(pd.unique(column)))
    expected = int(np.prod([len(level) for level in levels]))
    if expected == len(frame):
        return frame
    full = pd.MultiIndex.from_product(levels, names=keys)
    indexed = frame.set_index(keys)["population"]
    missing = full.difference(indexed.index)
    shown = "; ".join(
        ", ".join(f"{k} {v}" for k, v in zip(keys, combo)) for combo in list(missing)[:5]
    )
    warnings.append(TableWarning(
        f"{len(missing)} combinations are missing from the file and were filled with 0"
        f" (e.g. {shown}{' …' if len(missing) > 5 else ''})",
        code="missing_combinations", count=len(missing),
    ))
    filled = indexed.reindex(full, fill_value=0).reset_index()
    for key, level in zip(keys, levels):
        if isinstance(frame[key].dtype, pd.CategoricalDtype):
            filled[key] = pd.Categorical(filled[key], categories=level, ordered=True)
    return filled
