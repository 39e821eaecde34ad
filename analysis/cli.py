"""The command line: ``python -m analysis targets|weight|estimate|representativeness``.

Four subcommands read an analyst's files and write CSV or JSON:

``targets FILE``
    import a population file (SCB CSV in Swedish or English, PX, PxWebApi
    JSON-stat2, API v1 JSON, a long or one-way CSV), group single years into
    age bands, and print the margins with the importer's notes and warnings.
``weight RESPONDENTS.csv TARGETS [TARGETS ...]``
    weight respondents to the margins (rake, poststratify, linear, logit, ...)
    and write one weight per respondent id, optionally a JSON report.
``estimate RESPONDENTS.csv``
    weighted shares and means with standard errors and confidence intervals,
    overall and per domain, from a weights file or weighting inline (then the
    standard errors are calibration-aware, as R's ``svymean`` on a raked design).
``representativeness RESPONDENTS.csv TARGETS [TARGETS ...]``
    the respondents' composition against the population: counts, shares,
    differences in percentage points, index of dissimilarity and chi-square.

The respondents CSV has one row per respondent: an ``id`` column, the weighting
variables (``gender``, ``age_group`` or ``age``, ``district``), optionally a
design-weight column, and answer columns. Every value is read as text, so codes
keep their leading zeros (``0180``). The formats and a worked example are in the
README's analysis section.

Bad input (a missing file, a column that is not there, a category without a
population figure, options that contradict each other) ends with one message
naming what to fix, on standard error, and exit status 2, as argparse does for
bad arguments; never a traceback. Status 0 means the outputs were written.

Example:
    >>> main(["targets", "--help"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from analysis.targets import DEFAULT_AGE_BANDS, AgeBands

PROG = "python -m analysis"
ID_COLUMN = "id"
MISSING_VALUES = ("", "NA", "NaN", "nan")

#: Python keyword advice in the library's messages, and the flag that does the same here.
_FLAG_WORDS: tuple[tuple[str, str], ...] = (
    ("pass drop_unmatched=True", "pass --drop-unmatched"),
    ("drop_unmatched=True", "--drop-unmatched"),
    ("pass partial=True", "pass --partial"),
    ("partial=True", "--partial"),
    ("pass align_totals=True", "pass --align-totals"),
    ("align_totals=True", "--align-totals"),
    ("with collapse=", "with --collapse"),
    ("collapse=", "--collapse"),
    ("declare them uncovered=", "declare them with --uncovered"),
    ("on_nonconvergence='warn'", "--on-nonconvergence warn"),
    ("raise max_iterations", "raise --max-iterations"),
    ("drop reweight", "drop --reweight"),
    ("needs bounds=(lower, upper) on the factor g", "needs --bounds L,U on the factor g = w/d"),
    ("bound the weights with trim=Trim(...)", "bound the weights with --trim-upper/--trim-lower"),
    ("(use method='truncated_linear' or 'logit')", "(use --method truncated_linear or logit)"),
    ("use method='rake' for several margins", "use --method rake for several margins"),
    ("use select(period=...) first, or include 'period'", "choose one with --period"),
    ("Use select(period=...) first, or include 'period'", "Choose one with --period"),
    ("use with_age_bands(...) to get 'age_group' from single years",
     "age bands are made from single years with --age-bands"),
    ("(use to_districts() when they are the municipality's districts)",
     "(pass --regions-as-districts when they are the municipality's districts)"),
)


class InputError(ValueError):
    """Bad input found by the command line itself (not by the library)."""


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _cli_words(message: str) -> str:
    """Replace Python keyword advice in a library message by the matching command-line flag."""
    for python, flag in _FLAG_WORDS:
        message = message.replace(python, flag)
    return message


def _split_list(text: str | None, what: str) -> list[str]:
    """``"gender, age_group"`` → ``["gender", "age_group"]``; empty items are an error."""
    if text is None:
        return []
    items = [item.strip() for item in text.split(",")]
    if any(not item for item in items):
        raise InputError(f"{what}: {text!r} has an empty name; separate names with single commas")
    return items


def _parse_crosses(texts: Sequence[str] | None) -> list[tuple[str, ...]]:
    """``["district*gender", "age_group*gender"]`` or ``["district*gender,age_group"]`` → tuples."""
    out: list[tuple[str, ...]] = []
    for text in texts or ():
        for term in _split_list(text, "--margins"):
            names = tuple(part.strip() for part in term.split("*"))
            if any(not name for name in names):
                raise InputError(f"--margins: {term!r} is not NAME or NAME*NAME (e.g. district*gender)")
            if len(set(names)) != len(names):
                raise InputError(f"--margins: {term!r} names a variable twice")
            out.append(names)
    return out


def _parse_bounds(text: str | None) -> tuple[float, float] | None:
    """``"0.5,3"`` → ``(0.5, 3.0)``; ``inf`` allowed."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lower, upper = float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError(f"--bounds: give two numbers LOWER,UPPER such as 0.3,3 (got {text!r})") from None
    return lower, upper


def _parse_collapse(texts: Sequence[str] | None) -> dict[str, list[list[str]]]:
    """``["age_group=65-74|75+"]`` → ``{"age_group": [["65-74", "75+"]]}``."""
    out: dict[str, list[list[str]]] = {}
    for text in texts or ():
        variable, sep, members = text.partition("=")
        categories = [c.strip() for c in members.split("|")]
        if not sep or not variable.strip() or len(categories) < 2 or any(not c for c in categories):
            raise InputError(
                f"--collapse: {text!r} is not VARIABLE=CATEGORY|CATEGORY[|...] (e.g. age_group=65-74|75+)"
            )
        out.setdefault(variable.strip(), []).append(categories)
    return out


def _parse_uncovered(texts: Sequence[str] | None) -> dict[str, tuple[str, ...]] | None:
    """``["gender=annan,uppger_ej"]`` → mapping; ``["none"]`` → ``{}``; nothing → the default."""
    if not texts:
        return None
    out: dict[str, tuple[str, ...]] = {}
    for text in texts:
        if text.strip().lower() == "none":
            if len(texts) > 1:
                raise InputError("--uncovered none cannot be combined with other --uncovered values")
            return {}
        variable, sep, categories = text.partition("=")
        if not sep or not variable.strip():
            raise InputError(f"--uncovered: {text!r} is not VARIABLE=CATEGORY[,CATEGORY] or 'none'")
        out[variable.strip()] = tuple(_split_list(categories, "--uncovered"))
    return out


def _open_out(path: str) -> tuple[TextIO, bool]:
    """A text stream for ``path`` (``-`` is standard output) and whether to close it."""
    if path == "-":
        return sys.stdout, False
    target = Path(path)
    if target.parent and not target.parent.exists():
        raise InputError(f"{path}: the folder {str(target.parent)!r} does not exist")
    return target.open("w", encoding="utf-8", newline=""), True


def _format_of(path: str | None, explicit: str | None) -> str:
    """``--format`` when given, else ``json`` for a ``.json`` path, else ``csv``."""
    if explicit:
        return explicit
    if path and path.lower().endswith(".json"):
        return "json"
    return "csv"


def _jsonable(value: Any) -> Any:
    """Plain JSON values: NaN/inf → null, numpy → Python, tuples → lists, dataclasses → dicts."""
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if value is None or isinstance(value, str):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {_label(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _label(key: Hashable) -> str:
    """A margin key or category as text: ``("district", "gender")`` → ``"district × gender"``."""
    if isinstance(key, tuple):
        return " × ".join(str(k) for k in key)
    return str(key)


def _write_json(data: Any, path: str) -> None:
    stream, close = _open_out(path)
    try:
        json.dump(_jsonable(data), stream, ensure_ascii=False, indent=2, allow_nan=False)
        stream.write("\n")
    finally:
        if close:
            stream.close()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _jsonable(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _write_frame(frame: pd.DataFrame, path: str, fmt: str) -> None:
    if fmt == "json":
        _write_json(_records(frame), path)
        return
    stream, close = _open_out(path)
    try:
        frame.to_csv(stream, index=False, lineterminator="\n", float_format="%.15g")
    finally:
        if close:
            stream.close()


def _note(message: str, stream: TextIO | None = None) -> None:
    print(message, file=stream or sys.stderr)


# ---------------------------------------------------------------------------
# Reading the inputs
# ---------------------------------------------------------------------------


def _age_bands(text: str | None) -> AgeBands:
    if text is None:
        return DEFAULT_AGE_BANDS
    try:
        return AgeBands.parse(text)
    except ValueError as error:
        raise InputError(f"--age-bands: {error}") from None


@dataclass(frozen=True)
class TargetFile:
    """One imported population file, ready for margins."""

    path: str
    table: Any  # analysis.targets.PopulationTable (imported lazily)

    def describe(self) -> dict[str, Any]:
        """Where the figures came from, for reports."""
        table = self.table
        return {
            "file": self.path,
            "source": str(table.source),
            "format": table.source.format,
            "table_id": table.source.table_id,
            "period": table.period or None,
            "reference_date": table.reference_date or None,
            "region_level": table.region_level,
            "dims": list(table.dims),
            "cell_key_noise": table.cell_key_noise,
            "notes": list(table.notes),
            "warnings": list(table.warnings),
        }


def load_targets(
    paths: Sequence[str],
    *,
    age_bands: AgeBands,
    period: str | None = None,
    regions_as_districts: bool = False,
) -> list[TargetFile]:
    """Import every population file, choose one period, group ages into ``age_bands``.

    Raises :class:`ValueError` naming the file for every problem.
    """
    from analysis.targets import read_population

    out: list[TargetFile] = []
    for path in paths:
        if not Path(path).is_file():
            raise InputError(f"{path}: no such population file")
        try:
            table = read_population(path)
            if period is not None:
                if "period" not in table.dims:
                    raise InputError("--period was given but the file has no period")
                table = table.select(period=period)
            elif len(table.periods) > 1:
                raise InputError(
                    f"the file holds {len(table.periods)} periods ({', '.join(table.periods[:6])}); "
                    "choose one with --period"
                )
            if "age" in table.dims or "age_group" in table.dims:
                table = table.with_age_bands(age_bands)
            if regions_as_districts and table.region_dim == "region":
                table = table.to_districts()
        except ValueError as error:
            text = str(error)
            if not text.startswith(Path(path).name) and not text.startswith(path):
                text = f"{path}: {text}"
            raise InputError(_cli_words(text)) from None
        out.append(TargetFile(path=path, table=table))
    return out


def margin_keys(
    variables: Sequence[str], crosses: Sequence[tuple[str, ...]], method: str
) -> list[str | tuple[str, ...]]:
    """The margins to weight on.

    Post-stratification uses one margin: the single ``--margins`` term, or the
    full cross of ``--vars``. Other methods use every ``--margins`` term plus a
    one-way margin for each variable of ``--vars`` that no term contains (a
    one-way margin is implied by a cross that contains it).
    """
    if method == "poststratify":
        if len(crosses) > 1:
            raise InputError("--method poststratify uses one margin: give one --margins term or only --vars")
        if crosses:
            cross = crosses[0]
            return [cross[0] if len(cross) == 1 else cross]
        if not variables:
            raise InputError("name the weighting variables with --vars (e.g. --vars gender,age_group)")
        return [variables[0] if len(variables) == 1 else tuple(variables)]
    keys: list[str | tuple[str, ...]] = [c[0] if len(c) == 1 else c for c in crosses]
    covered = {name for cross in crosses for name in cross}
    keys.extend(v for v in variables if v not in covered)
    if not keys:
        raise InputError("name the weighting variables with --vars (and crosses with --margins)")
    if len(set(keys)) != len(keys):
        raise InputError("a margin is named twice in --vars/--margins")
    return keys


def build_targets(
    files: Sequence[TargetFile], keys: Sequence[str | tuple[str, ...]]
) -> dict[str | tuple[str, ...], pd.Series]:
    """Each margin from the first file that has all its variables; the Series carry their source."""
    targets: dict[str | tuple[str, ...], pd.Series] = {}
    for key in keys:
        names = (key,) if isinstance(key, str) else key
        for file in files:
            if all(name in file.table.dims for name in names):
                try:
                    series = file.table.margin(names if len(names) > 1 else names[0]).astype(float)
                except ValueError as error:
                    raise InputError(_cli_words(f"{file.path}: {error}")) from None
                series.attrs = {
                    "file": file.path,
                    "source": str(file.table.source),
                    "reference_date": file.table.reference_date or None,
                }
                targets[key] = series
                break
        else:
            have = "; ".join(f"{f.path} has {', '.join(d for d in f.table.dims if d != 'period')}"
                             for f in files)
            hint = ""
            if any("region" in f.table.dims for f in files) and "district" in names:
                hint = " (pass --regions-as-districts when the file's regions are the districts)"
            raise InputError(f"no population file has the margin {_label(key)!r}{hint}: {have}")
    return targets


def _sniff_delimiter(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_respondents(
    path: str, *, id_column: str = ID_COLUMN, age_bands: AgeBands = DEFAULT_AGE_BANDS,
    need: Sequence[str] = (),
) -> pd.DataFrame:
    """Read the respondents CSV: every value as text, ``id`` unique, ``need`` columns present.

    ``,``, ``;`` or tab separated, UTF-8 (a BOM is fine) or Windows-1252.
    Empty cells (and ``NA``) are missing. When ``age_group`` is needed but only
    ``age`` is there, the ages are grouped into ``age_bands``.
    """
    source = Path(path)
    if not source.is_file():
        raise InputError(f"{path}: no such respondents file")
    raw = source.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    if not text.strip():
        raise InputError(f"{path}: the file is empty; it needs a header line with {id_column!r}")
    delimiter = _sniff_delimiter(text.splitlines()[0])
    header = [name.strip() for name in next(csv.reader([text.splitlines()[0]], delimiter=delimiter))]
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise InputError(f"{path}: the header names {twice} more than once; give every column once")
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False,
                            na_values=list(MISSING_VALUES), skipinitialspace=True)
    except (pd.errors.ParserError, csv.Error) as error:
        raise InputError(f"{path}: not a readable CSV file: {error}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if id_column not in frame.columns:
        raise InputError(
            f"{path}: no {id_column!r} column (columns: {', '.join(frame.columns)}); the first line must be "
            f"a header such as '{id_column},gender,age_group,district,q1'"
        )
    if frame.empty:
        raise InputError(f"{path}: the file has a header but no respondents")
    ids = frame[id_column]
    if ids.isna().any():
        line = int(np.flatnonzero(ids.isna().to_numpy())[0]) + 2
        raise InputError(f"{path}, line {line}: the {id_column!r} is empty; every respondent needs an id")
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        shown = ", ".join(duplicated.unique()[:5].tolist())
        raise InputError(f"{path}: the ids {shown} appear more than once; each respondent is one row")
    if "age_group" in need and "age_group" not in frame.columns and "age" in frame.columns:
        try:
            frame["age_group"] = pd.Series(age_bands.assign(frame["age"].tolist()), index=frame.index)
        except ValueError as error:
            raise InputError(f"{path}: column 'age': {error}") from None
    missing = [name for name in need if name not in frame.columns]
    if missing:
        hint = " (or an 'age' column to group with --age-bands)" if "age_group" in missing else ""
        raise InputError(
            f"{path}: no column {', '.join(map(repr, missing))}{hint}; its columns are {', '.join(frame.columns)}"
        )
    return frame


def _numeric_column(frame: pd.DataFrame, column: str, path: str, id_column: str, what: str) -> np.ndarray:
    """A numeric column, or an error naming the first ids with text that is not a number."""
    text = frame[column]
    values = pd.to_numeric(text.str.replace(",", ".", regex=False).str.replace(" ", "", regex=False),
                           errors="coerce")
    bad = values.isna() & text.notna()
    if bad.any():
        rows = frame.loc[bad, [id_column, column]].head(3)
        shown = ", ".join(f"id {i}: {v!r}" for i, v in rows.itertuples(index=False))
        raise InputError(f"{path}: {what} {column!r} must be numbers; not numbers at {shown}")
    return values.to_numpy(dtype=float)


def read_weights_file(path: str, ids: pd.Series, id_column: str = ID_COLUMN) -> np.ndarray:
    """Weights from a file written by ``weight`` (CSV or JSON with ``id`` and ``weight``), in ``ids`` order."""
    source = Path(path)
    if not source.is_file():
        raise InputError(f"{path}: no such weights file")
    try:
        if path.lower().endswith(".json"):
            frame = pd.DataFrame(json.loads(source.read_text(encoding="utf-8-sig")))
            frame = frame.astype({c: str for c in frame.columns if c != "weight"})
        else:
            frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=list(MISSING_VALUES),
                                encoding="utf-8-sig", sep=None, engine="python")
    except (ValueError, pd.errors.ParserError, csv.Error) as error:
        raise InputError(f"{path}: not a weights file (CSV or JSON with columns {id_column}, weight): {error}") from None
    for column in (id_column, "weight"):
        if column not in frame.columns:
            raise InputError(f"{path}: no {column!r} column; a weights file has the columns {id_column},weight")
    keyed = frame.assign(weight=pd.to_numeric(frame["weight"], errors="coerce"))
    if keyed["weight"].isna().any() or not np.isfinite(keyed["weight"].to_numpy(dtype=float)).all():
        bad = keyed.loc[~np.isfinite(keyed["weight"].to_numpy(dtype=float)), id_column].head(3).tolist()
        raise InputError(f"{path}: weights must be finite numbers; see ids {bad}")
    if (keyed["weight"] < 0).any():
        raise InputError(f"{path}: weights must not be negative")
    if keyed[id_column].duplicated().any():
        raise InputError(f"{path}: ids appear more than once: {keyed[id_column][keyed[id_column].duplicated()].head(3).tolist()}")
    lookup = keyed.set_index(id_column)["weight"]
    missing = ids[~ids.isin(lookup.index)]
    if len(missing):
        raise InputError(
            f"{path}: no weight for {len(missing)} respondents (ids {missing.head(5).tolist()}); "
            "use the weights written for this respondents file"
        )
    extra = lookup.index.difference(pd.Index(ids))
    if len(extra):
        raise InputError(
            f"{path}: {len(extra)} ids are not among the respondents (e.g. {extra[:5].tolist()}); "
            "use the weights written for this respondents file"
        )
    weights = lookup.reindex(ids.to_numpy()).to_numpy(dtype=float)
    if weights.sum() <= 0:
        raise InputError(f"{path}: the weights sum to zero")
    return weights


# ---------------------------------------------------------------------------
# Weighting from arguments
# ---------------------------------------------------------------------------


def _weighting_options(args: argparse.Namespace, frame: pd.DataFrame, path: str) -> dict[str, Any]:
    """Keyword options for :func:`analysis.weighting.weight` from the shared flags."""
    from analysis.weighting import DEFAULT_UNCOVERED, Trim

    options: dict[str, Any] = {
        "scale": args.scale,
        "partial": args.partial,
        "drop_unmatched": args.drop_unmatched,
        "align_totals": args.align_totals,
        "tolerance": args.tolerance,
        "max_iterations": args.max_iterations,
        "on_nonconvergence": args.on_nonconvergence,
        "min_cell_size": args.min_cell_size,
        "bounds": _parse_bounds(args.bounds),
    }
    collapse = _parse_collapse(args.collapse)
    if collapse:
        options["collapse"] = collapse
    uncovered = _parse_uncovered(args.uncovered)
    options["uncovered"] = DEFAULT_UNCOVERED if uncovered is None else uncovered
    if args.design_weight is not None:
        if args.design_weight not in frame.columns:
            raise InputError(f"{path}: --design-weight names {args.design_weight!r}, which is not a column")
        base = _numeric_column(frame, args.design_weight, path, args.id_column, "the design weight")
        bad = ~np.isfinite(base) | (base <= 0)
        if bad.any():
            shown = frame.loc[bad, args.id_column].head(3).tolist()
            raise InputError(f"{path}: design weights must be positive numbers for every respondent (ids {shown})")
        options["weights"] = base
    trim_given = args.trim_upper is not None or args.trim_lower is not None
    if trim_given:
        options["trim"] = Trim(
            upper=math.inf if args.trim_upper is None else args.trim_upper,
            lower=-math.inf if args.trim_lower is None else args.trim_lower,
            relative_to=args.trim_relative_to,
            redistribution=args.trim_redistribution,
            strict=args.trim_strict,
            reweight=args.reweight,
        )
    elif args.reweight or args.trim_strict:
        raise InputError("--reweight and --trim-strict need --trim-upper and/or --trim-lower")
    return options


def run_weighting(
    args: argparse.Namespace, frame: pd.DataFrame, path: str, files: Sequence[TargetFile]
) -> Any:
    """Weight ``frame`` as the flags say; returns the :class:`~analysis.weighting.WeightingResult`."""
    from analysis.weighting import ConvergenceWarning, weight

    variables = _split_list(args.vars, "--vars")
    keys = margin_keys(variables, _parse_crosses(args.margins), args.method)
    targets = build_targets(files, keys)
    options = _weighting_options(args, frame, path)
    summary_by = "district" if "district" in frame.columns else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            result = weight(frame, targets, args.method, summary_by=summary_by,
                            metadata={"respondents": path,
                                      "targets": [f.describe() for f in files]}, **options)
        except ValueError as error:
            raise InputError(_cli_words(f"{path}: {error}")) from None
    for warning in caught:
        _note(f"warning: {_cli_words(str(warning.message))}")
    return result


def weighting_report(result: Any, ids: pd.Series, files: Sequence[TargetFile]) -> dict[str, Any]:
    """Everything a reader needs to judge and reproduce the weights, as plain JSON values."""
    margins = []
    for fit in result.margins:
        cells = []
        for label, target in fit.targets.items():
            achieved = float(fit.achieved[label])
            entry: dict[str, Any] = {}
            if len(fit.variables) == 1:
                entry[fit.variables[0]] = label
            else:
                entry.update(dict(zip(fit.variables, label, strict=True)))
            entry.update({
                "target": float(target), "achieved": achieved,
                "relative_error": abs(achieved - float(target)) / float(target) if target else None,
            })
            cells.append(entry)
        margins.append({
            "margin": _label(fit.key), "variables": list(fit.variables),
            "max_relative_error": fit.max_relative_error,
            "implied_by": None if fit.implied_by is None else _label(fit.implied_by),
            "ignored": [_label(i) for i in fit.ignored], "uncovered_total": fit.uncovered_total,
            "source": dict(fit.metadata), "cells": cells,
        })
    summary = {str(k): {c: _jsonable(v) for c, v in row.items()}
               for k, row in result.summary.to_dict(orient="index").items()}
    weights = np.asarray(result.weights)
    return {
        "method": result.method,
        "converged": result.converged,
        "iterations": result.iterations,
        "tolerance": result.tolerance,
        "max_relative_error": result.max_relative_error,
        "respondents": int(weights.size),
        "weighted": int(weights.size - len(result.dropped_rows)),
        "sum_of_weights": float(weights.sum()),
        "design_effect": result.design_effect,
        "effective_sample_size": result.effective_sample_size,
        "targets": [f.describe() for f in files],
        "margins": margins,
        "weights": summary,
        "validation": [
            {"kind": i.kind, "severity": i.severity, "message": _cli_words(i.message),
             "resolution": None if i.resolution is None else _cli_words(i.resolution), "count": i.count}
            for i in result.report.issues
        ],
        "dropped_ids": ids.iloc[np.asarray(result.dropped_rows, dtype=np.intp)].tolist(),
        "uncovered_counts": {k: dict(v) for k, v in result.uncovered_counts.items()},
        "trimming": result.trimming,
        "options": {k: v for k, v in result.options.items() if k != "weights"}
        | {"design_weight": None if result.options.get("weights") is None else "column"},
    }


def _describe_result(result: Any) -> str:
    state = "converged" if result.converged else "did NOT converge"
    kept = int(np.count_nonzero(result.weights)) if len(result.dropped_rows) else int(result.weights.size)
    return (
        f"{result.method} {state} in {result.iterations} iteration(s), largest relative margin error "
        f"{result.max_relative_error:.2g} (tolerance {result.tolerance:g}); {kept} respondents weighted, "
        f"sum of weights {float(np.sum(result.weights)):.10g}, Kish deff {result.design_effect:.3f}, "
        f"effective n {result.effective_sample_size:.1f}"
    )


# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------


def cmd_targets(args: argparse.Namespace) -> int:
    """``targets FILE``: import, print margins, notes and warnings."""
    files = load_targets([args.file], age_bands=_age_bands(args.age_bands), period=args.period,
                         regions_as_districts=args.regions_as_districts)
    table = files[0].table
    crosses = _parse_crosses(args.margins)
    keys: list[str | tuple[str, ...]] = [c[0] if len(c) == 1 else c for c in crosses]
    if not keys:
        keys = [d for d in table.dims if d != "period"]
    margins: dict[str, pd.Series] = {}
    for key in keys:
        try:
            margins[_label(key)] = table.margin(key)
        except ValueError as error:
            raise InputError(_cli_words(f"{args.file}: {error}")) from None
    info = files[0].describe()
    info["total"] = int(table.total)
    out = args.out or "-"
    if args.format == "json":
        data = dict(info)
        data["margins"] = {
            name: [
                {**(dict(zip(series.index.names, idx, strict=True)) if isinstance(idx, tuple)
                    else {series.index.name: idx}), "population": int(value)}
                for idx, value in series.items()
            ]
            for name, series in margins.items()
        }
        _write_json(data, out)
    elif args.format == "csv":
        dims = [d for d in ("region", "district", "gender", "age", "age_group") if any(
            d in name.split(" × ") for name in margins)]
        rows = []
        for name, series in margins.items():
            for idx, value in series.items():
                row: dict[str, Any] = {"margin": name}
                labels = idx if isinstance(idx, tuple) else (idx,)
                row.update(dict(zip(series.index.names, labels, strict=True)))
                row["population"] = int(value)
                rows.append(row)
        frame = pd.DataFrame(rows, columns=["margin", *dims, "population"])
        _write_frame(frame, out, "csv")
    else:
        stream, close = _open_out(out)
        try:
            print(f"source: {info['source']}", file=stream)
            print(f"period: {info['period'] or '-'}  reference date: {info['reference_date'] or '-'}  "
                  f"region level: {info['region_level'] or '-'}  total: {info['total']}", file=stream)
            for note in table.notes:
                print(f"note: {note}", file=stream)
            for name, series in margins.items():
                print(f"\n{name}", file=stream)
                shown = series.to_frame("population")
                shown["share"] = (series / series.sum()).round(4)
                print(shown.to_string(), file=stream)
        finally:
            if close:
                stream.close()
    for warning in table.warnings:
        _note(f"warning: {warning}")
    return 0


def cmd_weight(args: argparse.Namespace) -> int:
    """``weight RESPONDENTS TARGETS...``: write weights (and a report)."""
    bands = _age_bands(args.age_bands)
    variables = _split_list(args.vars, "--vars")
    crosses = _parse_crosses(args.margins)
    need = list(dict.fromkeys([*variables, *(n for c in crosses for n in c)]))
    frame = read_respondents(args.respondents, id_column=args.id_column, age_bands=bands, need=need)
    files = load_targets(args.targets, age_bands=bands, period=args.period,
                         regions_as_districts=args.regions_as_districts)
    result = run_weighting(args, frame, args.respondents, files)
    weights = pd.DataFrame({args.id_column: frame[args.id_column].to_numpy(), "weight": result.weights})
    _write_frame(weights, args.out, _format_of(args.out, args.format))
    if args.report:
        _write_json(weighting_report(result, frame[args.id_column], files), args.report)
    _note(_describe_result(result))
    if len(result.dropped_rows):
        _note(f"note: {len(result.dropped_rows)} respondents were dropped (weight 0); see the report")
    for issue in result.report.issues:
        if issue.severity == "warning":
            _note(f"warning: {_cli_words(issue.message)}")
    return 0


def _questions(args: argparse.Namespace, frame: pd.DataFrame, path: str) -> list[Any]:
    from analysis.estimates import Question

    out: list[Any] = []
    for name in _split_list(args.questions, "--questions"):
        if name not in frame.columns:
            raise InputError(f"{path}: --questions names {name!r}, which is not a column")
        answers = frame[name].dropna()
        numbers = pd.to_numeric(answers, errors="coerce")
        if len(answers) and numbers.notna().all():
            order = sorted(answers.unique().tolist(), key=lambda v: float(v))
        else:
            order = sorted(answers.unique().tolist())
        out.append(Question.single_choice(name, categories=order or None))
    for name in _split_list(args.numeric, "--numeric"):
        if name not in frame.columns:
            raise InputError(f"{path}: --numeric names {name!r}, which is not a column")
        out.append(Question.numeric(name))
    for text in args.multiple or ():
        name, sep, columns = text.partition("=")
        names = _split_list(columns, "--multiple") if sep else []
        if not sep or not name.strip() or not names:
            raise InputError(f"--multiple: {text!r} is not NAME=COLUMN,COLUMN[,...] (0/1 columns)")
        for column in names:
            if column not in frame.columns:
                raise InputError(f"{path}: --multiple {name} names {column!r}, which is not a column")
        out.append(Question.multiple_choice(name.strip(), names))
    if not out:
        raise InputError("name the questions to estimate with --questions, --numeric or --multiple")
    if len({q.name for q in out}) != len(out):
        raise InputError("a question is named twice in --questions/--numeric/--multiple")
    return out


def _prepare_answers(frame: pd.DataFrame, questions: Sequence[Any], path: str, id_column: str) -> pd.DataFrame:
    """Numeric and 0/1 columns as numbers (an error names the first bad ids)."""
    data = frame.copy()
    for q in questions:
        if q.kind in ("numeric", "multiple"):
            for column in q.columns:
                data[column] = _numeric_column(frame, column, path, id_column, "answer column")
    return data


def cmd_estimate(args: argparse.Namespace) -> int:
    """``estimate RESPONDENTS``: weighted shares and means, overall and per domain."""
    from analysis.design import SurveyDesign
    from analysis.estimates import estimate_report

    bands = _age_bands(args.age_bands)
    by = _split_list(args.by, "--by")
    variables = _split_list(args.vars, "--vars")
    crosses = _parse_crosses(args.margins)
    if (args.weights is None) == (not args.targets):
        raise InputError("give either --weights FILE (weights written by 'weight') or --targets FILE... "
                         "with --vars to weight here (calibration-aware standard errors)")
    need = list(dict.fromkeys([*by, *variables, *(n for c in crosses for n in c)]))
    frame = read_respondents(args.respondents, id_column=args.id_column, age_bands=bands, need=need)
    questions = _questions(args, frame, args.respondents)
    data = _prepare_answers(frame, questions, args.respondents, args.id_column)
    if args.weights is not None:
        if variables or crosses:
            raise InputError("--vars/--margins weight inline and need --targets, not --weights")
        design = SurveyDesign(read_weights_file(args.weights, frame[args.id_column], args.id_column))
        _note("note: weights read from a file carry no calibration information: standard errors are those of "
              "svydesign(ids=~1, weights=~weight), usually larger than after calibration; weight inline with "
              "--targets for calibration-aware standard errors")
    else:
        files = load_targets(args.targets, age_bands=bands, period=args.period,
                             regions_as_districts=args.regions_as_districts)
        result = run_weighting(args, frame, args.respondents, files)
        _note(_describe_result(result))
        design = result.design
    try:
        report = estimate_report(data, design, questions, by=by, alpha=args.alpha, proportion_ci=args.ci)
    except ValueError as error:
        raise InputError(_cli_words(f"{args.respondents}: {error}")) from None
    _write_frame(report, args.out, _format_of(args.out, args.format))
    flagged = report[report["flag"] != ""]
    if len(flagged):
        _note(f"note: {len(flagged)} estimates carry a flag (see the columns flag and reason)")
    return 0


def cmd_representativeness(args: argparse.Namespace) -> int:
    """``representativeness RESPONDENTS TARGETS...``: composition against the population."""
    from analysis.representativeness import compare_to_population

    bands = _age_bands(args.age_bands)
    variables = _split_list(args.vars, "--vars")
    crosses = _parse_crosses(args.margins)
    keys: list[str | tuple[str, ...]] = [*variables, *(c[0] if len(c) == 1 else c for c in crosses)]
    if not keys:
        raise InputError("name the variables to compare with --vars (and crosses with --margins)")
    need = list(dict.fromkeys([*variables, *(n for c in crosses for n in c)]))
    frame = read_respondents(args.respondents, id_column=args.id_column, age_bands=bands, need=need)
    files = load_targets(args.targets, age_bands=bands, period=args.period,
                         regions_as_districts=args.regions_as_districts)
    targets = build_targets(files, keys)
    weights = None
    if args.weights is not None:
        weights = read_weights_file(args.weights, frame[args.id_column], args.id_column)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            comparison = compare_to_population(frame, targets, weights=weights)
        except ValueError as error:
            raise InputError(f"{args.respondents}: {error}") from None
    summary = comparison.summary_frame()
    table = comparison.table
    fmt = _format_of(args.out, args.format)
    if args.out:
        if fmt == "json":
            _write_json({"targets": [f.describe() for f in files], "summary": _records(summary),
                         "table": _records(table)}, args.out)
        else:
            _write_frame(table, args.out, "csv")
    shown = summary[["variable", "n_compared", "n_excluded", "dissimilarity", "weighted_dissimilarity",
                     "chi_square", "dof", "p_value"]]
    if weights is None:
        shown = shown.drop(columns=["weighted_dissimilarity"])
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if not args.out:
        print()
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for warning in caught:
        _note(f"warning: {warning.message}")
    return 0


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--age-bands", metavar="BANDS",
                        help="age bands, e.g. '16-24,25-34,35-44,45-54,55-64,65-74,75+' (the default)")
    parser.add_argument("--period", help="the period to use when a file holds several (e.g. 2020, 2026M01)")
    parser.add_argument("--regions-as-districts", action="store_true",
                        help="the file's regions (e.g. RegSO areas) are the municipality's districts")


def _add_respondent_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id-column", default=ID_COLUMN, metavar="COL",
                        help="the respondents' id column (default: id)")


def _add_margin_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--vars", required=required, metavar="V1,V2",
                        help="weighting variables, each a one-way margin (e.g. gender,age_group,district)")
    parser.add_argument("--margins", action="append", metavar="A*B",
                        help="cross-classified margins such as 'district*gender' (repeatable or comma-separated); "
                             "a one-way margin contained in a cross is not repeated")


def _add_weighting_options(parser: argparse.ArgumentParser) -> None:
    from analysis.weighting import METHODS

    group = parser.add_argument_group("weighting")
    group.add_argument("--method", default="rake", choices=sorted(METHODS),
                       help="rake (IPF, default), poststratify (full cross), linear (GREG), truncated_linear "
                            "and logit (need --bounds), raking_ratio (calibrate calfun='raking')")
    group.add_argument("--design-weight", metavar="COL", help="column of design (base) weights")
    group.add_argument("--bounds", metavar="L,U", help="bounds on g = w/d for calibration methods, e.g. 0.3,3")
    group.add_argument("--scale", choices=("population", "sample"), default="population",
                       help="weights sum to the population (default) or to the number of respondents")
    group.add_argument("--trim-upper", type=float, metavar="X", help="trim weights above X")
    group.add_argument("--trim-lower", type=float, metavar="X", help="raise weights below X")
    group.add_argument("--trim-relative-to", choices=("absolute", "mean"), default="absolute",
                       help="trimming bounds are weights (default) or multiples of the mean weight")
    group.add_argument("--trim-redistribution", choices=("equal", "proportional"), default="equal",
                       help="spread the trimmed amount in equal shares (R trimWeights, default) or proportionally")
    group.add_argument("--trim-strict", action="store_true", help="repeat trimming until no weight is outside")
    group.add_argument("--reweight", action="store_true",
                       help="alternate trimming and weighting until both the margins and the bounds hold")
    group.add_argument("--collapse", action="append", metavar="VAR=A|B",
                       help="merge categories in data and targets, e.g. age_group=65-74|75+ (repeatable)")
    group.add_argument("--uncovered", action="append", metavar="VAR=A,B",
                       help="categories without population figures (default gender=annan,uppger_ej; 'none' for none)")
    group.add_argument("--partial", action="store_true", help="ignore target cells without respondents (R partial=TRUE)")
    group.add_argument("--drop-unmatched", action="store_true",
                       help="give weight 0 to respondents with missing values or without targets")
    group.add_argument("--align-totals", action="store_true", help="scale every margin to the first margin's total")
    group.add_argument("--tolerance", type=float, default=1e-10, help="largest relative margin error (default 1e-10)")
    group.add_argument("--max-iterations", type=int, default=1000, help="default 1000")
    group.add_argument("--on-nonconvergence", choices=("error", "warn"), default="error",
                       help="stop with an error (default) or write the weights with a warning")
    group.add_argument("--min-cell-size", type=int, default=5,
                       help="warn about cells of cross margins with fewer respondents (default 5)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m analysis``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Population targets, weighting, estimates and representativeness for Medborgarpanel.",
        epilog="Exit status: 0 done, 2 bad input or options (the message says what to fix).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    targets = sub.add_parser("targets", help="import a population file and print its margins",
                             description="Import an SCB file (CSV, PX, JSON-stat2) or a long/one-way CSV and "
                                         "print its margins, notes and warnings.")
    targets.add_argument("file", metavar="FILE")
    _add_target_options(targets)
    targets.add_argument("--margins", action="append", metavar="A*B",
                         help="margins to print, e.g. gender,age_group,'gender*age_group' (default: every one-way)")
    targets.add_argument("--format", choices=("text", "json", "csv"), default="text")
    targets.add_argument("--out", metavar="PATH", help="write here instead of standard output")
    targets.set_defaults(handler=cmd_targets)

    weight = sub.add_parser("weight", help="weight respondents to population margins",
                            description="Weight respondents to population margins and write one weight per id.")
    weight.add_argument("respondents", metavar="RESPONDENTS.csv")
    weight.add_argument("targets", metavar="TARGETS", nargs="+",
                        help="population file(s); each margin is taken from the first file that has it")
    _add_margin_options(weight, required=False)
    _add_weighting_options(weight)
    _add_target_options(weight)
    _add_respondent_options(weight)
    weight.add_argument("--out", required=True, metavar="PATH", help="weights file (.csv or .json; - for stdout)")
    weight.add_argument("--format", choices=("csv", "json"), help="default: from the extension of --out")
    weight.add_argument("--report", metavar="PATH", help="write a JSON report of the weighting here")
    weight.set_defaults(handler=cmd_weight)

    estimate = sub.add_parser("estimate", help="weighted shares and means with confidence intervals",
                              description="Weighted shares and means, overall and per domain, with "
                                          "standard errors and confidence intervals.")
    estimate.add_argument("respondents", metavar="RESPONDENTS.csv")
    estimate.add_argument("--weights", metavar="FILE", help="weights written by 'weight' (id,weight)")
    estimate.add_argument("--targets", nargs="+", metavar="FILE",
                          help="weight here instead, to these population files (with --vars)")
    estimate.add_argument("--questions", metavar="Q1,Q2", help="single-choice questions (one column each)")
    estimate.add_argument("--numeric", metavar="Q1,Q2", help="numeric questions: weighted means")
    estimate.add_argument("--multiple", action="append", metavar="NAME=C1,C2",
                          help="multiple-choice question with one 0/1 column per option (repeatable)")
    estimate.add_argument("--by", metavar="V1,V2", help="domains, e.g. district,gender,age_group")
    estimate.add_argument("--ci", choices=("wald", "logit", "beta"), default="logit",
                          help="interval for shares: logit (default, svyciprop), beta (Korn-Graubard), wald")
    estimate.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05)")
    _add_margin_options(estimate, required=False)
    _add_weighting_options(estimate)
    _add_target_options(estimate)
    _add_respondent_options(estimate)
    estimate.add_argument("--out", default="-", metavar="PATH", help="estimates file (.csv or .json; default stdout)")
    estimate.add_argument("--format", choices=("csv", "json"), help="default: from the extension of --out")
    estimate.set_defaults(handler=cmd_estimate)

    rep = sub.add_parser("representativeness", help="respondents against the population",
                         description="Counts, shares and differences against the population, index of "
                                     "dissimilarity and chi-square goodness of fit, per margin.")
    rep.add_argument("respondents", metavar="RESPONDENTS.csv")
    rep.add_argument("targets", metavar="TARGETS", nargs="+")
    _add_margin_options(rep, required=False)
    rep.add_argument("--weights", metavar="FILE", help="weights written by 'weight': adds weighted shares")
    _add_target_options(rep)
    _add_respondent_options(rep)
    rep.add_argument("--out", metavar="PATH", help="write the table (.csv) or table and summary (.json) here")
    rep.add_argument("--format", choices=("csv", "json"), help="default: from the extension of --out")
    rep.set_defaults(handler=cmd_representativeness)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m analysis`` with ``argv``; returns the exit status (0 done, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code) if isinstance(exit_.code, int) else 2
    command = f"{PROG} {args.command}"
    try:
        return int(args.handler(args))
    except BrokenPipeError:  # e.g. `... | head`: the reader has all it wants
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as error:
        message = str(error)
        if isinstance(error, OSError) and error.filename is not None:
            message = f"{error.filename}: {error.strerror or message}"
        _note(f"{command}: error: {_cli_words(message)}")
        return 2
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        _note(f"{command}: interrupted")
        return 130

