"""Small-cell suppression for published tables (disclosure control).

A published table of survey results must not let anyone single out a small
group of respondents. The rule here is the classical one for additive tables
of counts (threshold rule plus secondary cell suppression; see Hundepool et
al. 2012, *Statistical Disclosure Control*, ch. 5; Cox 1980):

Primary suppression, with ``k`` the threshold (default 5) on *unweighted*
counts of respondents:

1. a cell with ``0 < count < k`` is hidden;
2. a column whose base (its total, e.g. the respondents in a district) is
   below ``k`` is hidden entirely - base, cells and their percentages;
3. a row total (e.g. a category's overall count) with ``0 < total < k`` is
   hidden; a grand total below ``k`` hides the whole table.

Empty cells (count 0) are not hidden by themselves: they reveal nothing about
a person. Percentages are hidden together with the count they are computed
from.

Secondary suppression: a hidden value must not be derivable from the totals.
The table is seen with its margins as a set of *lines* - every row (cells plus
row total) when the columns partition the respondents (``rows_add_up``), and
every column (cells plus column total) when the rows are exclusive categories
(``columns_add_up``), the margins included. A line with exactly one hidden
element (cell or total) gives it away by subtraction, so one more element of
that line is hidden: the unhidden cell with the smallest count, preferring
non-empty cells; the line's total only if no cell is left. Because a column's
percentages always add up to 100 %, a column line (``column_percentages``)
also counts as giving away a single hidden *cell* even when its total is
hidden. The lines are revisited until nothing changes; every step only adds
hidden elements, so this stops. The result may hide more than an optimal
(linear-programming) pattern would; it never hides less than the rule demands.

References: Hundepool, A. et al. (2012) *Statistical Disclosure Control*,
Wiley, ch. 5; Cox, L.H. (1980) "Suppression methodology and statistical
disclosure control", *JASA* 75:377-385.

Example:
    >>> import pandas as pd
    >>> counts = pd.DataFrame({"Norr": [20, 3, 9], "Soder": [15, 8, 12]}, index=["ja", "nej", "vet ej"])
    >>> table = suppress_table(counts, k=5)
    >>> table.hidden.loc[["nej", "vet ej"]].to_numpy().tolist()  # 3 < 5, and what would reveal it
    [[True, True, False], [True, True, False]]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

TOTAL = "(total)"
"""Label of the margin row and column in :class:`SuppressedTable`."""

OVERALL = "(all)"


@dataclass(frozen=True)
class SuppressedTable:
    """Which values of a table to hide, and why.

    ``hidden`` and ``reasons`` have the table's rows and columns plus a margin
    row and column labelled :data:`TOTAL` (row totals, column totals and the
    grand total). A margin that the table does not publish is never hidden.
    ``reasons`` is ``""`` for published values.
    """

    hidden: pd.DataFrame
    reasons: pd.DataFrame
    k: int

    @property
    def n_hidden(self) -> int:
        """How many values (cells and totals) are hidden."""
        return int(self.hidden.to_numpy().sum())


class _Grid:
    """An extended (r+1) x (c+1) table with margins, and the hiding rules."""

    def __init__(
        self,
        values: np.ndarray,
        present: np.ndarray,
        rows_add_up: bool,
        columns_add_up: bool,
        column_percentages: bool,
    ) -> None:
        self.values = values
        self.present = present
        self.hidden = np.zeros(values.shape, dtype=bool)
        self.reason = np.full(values.shape, "", dtype=object)
        self.rows_add_up = rows_add_up
        self.columns_add_up = columns_add_up
        self.column_percentages = column_percentages
        self.labels_r: list[str] = []
        self.labels_c: list[str] = []

    def hide(self, i: int, j: int, why: str) -> bool:
        if not self.present[i, j] or self.hidden[i, j]:
            return False
        self.hidden[i, j] = True
        self.reason[i, j] = why
        return True

    def _pick(self, cells: list[tuple[int, int]]) -> tuple[int, int] | None:
        """The unhidden present cell with the smallest count, non-empty first."""
        free = [(i, j) for i, j in cells if self.present[i, j] and not self.hidden[i, j]]
        if not free:
            return None
        nonempty = [ij for ij in free if self.values[ij] > 0]
        pool = nonempty or free
        return min(pool, key=lambda ij: (self.values[ij], ij))

    def _line(self, cells: list[tuple[int, int]], total: tuple[int, int], name: str, percent: bool) -> bool:
        present_cells = [ij for ij in cells if self.present[ij]]
        hidden_cells = sum(self.hidden[ij] for ij in present_cells)
        total_hidden = bool(self.present[total] and self.hidden[total])
        hidden = hidden_cells + total_hidden
        leak = hidden == 1 or (percent and (hidden_cells == 1 or (total_hidden and hidden_cells == 0)))
        if not leak or not present_cells:
            return False
        choice = self._pick(present_cells)
        why = f"secondary: else derivable from the other values of {name}"
        if choice is not None:
            return self.hide(*choice, why)
        return self.hide(*total, why)

    def secondary(self) -> None:
        r, c = self.values.shape[0] - 1, self.values.shape[1] - 1
        changed = True
        while changed:
            changed = False
            if self.rows_add_up:
                for i in range(r + 1):
                    name = f"row {self.labels_r[i]!r}" if i < r else "the column totals"
                    cells = [(i, j) for j in range(c)]
                    changed |= self._line(cells, (i, c), name, percent=False)
            if self.columns_add_up:
                for j in range(c + 1):
                    name = f"column {self.labels_c[j]!r}" if j < c else "the row totals"
                    cells = [(i, j) for i in range(r)]
                    changed |= self._line(cells, (r, j), name, percent=self.column_percentages and j < c)


def _primary(grid: _Grid, k: int) -> None:
    v, present = grid.values, grid.present
    r, c = v.shape[0] - 1, v.shape[1] - 1
    if present[r, c] and v[r, c] < k:
        for i in range(r + 1):
            for j in range(c + 1):
                grid.hide(i, j, f"primary: the table's total n = {int(v[r, c])} is below {k}")
        return
    for j in range(c):
        if present[r, j] and v[r, j] < k:
            grid.hide(r, j, f"primary: base n = {int(v[r, j])} is below {k}")
            for i in range(r):
                grid.hide(i, j, f"primary: the column's base n = {int(v[r, j])} is below {k}")
    for i in range(r):
        if present[i, c] and 0 < v[i, c] < k:
            grid.hide(i, c, f"primary: n = {int(v[i, c])} is below {k}")
        for j in range(c):
            if present[i, j] and 0 < v[i, j] < k:
                grid.hide(i, j, f"primary: n = {int(v[i, j])} is below {k}")


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive whole number of respondents (default 5), not {k!r}")
    return int(k)


def _as_counts(values: object, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if np.isnan(arr).any():
        raise ValueError(f"{what} contain missing values: give every unweighted count (0 for none)")
    if (arr < 0).any() or (arr != np.round(arr)).any():
        raise ValueError(f"{what} must be unweighted counts of respondents: whole numbers, 0 or more")
    return arr


def suppress_table(
    counts: pd.DataFrame,
    *,
    k: int = 5,
    row_totals: Sequence[float] | pd.Series | None = None,
    column_totals: Sequence[float] | pd.Series | None = None,
    grand_total: float | None = None,
    rows_add_up: bool = True,
    columns_add_up: bool = True,
    column_percentages: bool = True,
    publish_row_totals: bool = True,
    publish_column_totals: bool = True,
) -> SuppressedTable:
    """Mark the values of a table to hide so that no group below ``k`` is exposed.

    ``counts`` holds *unweighted* counts of respondents per cell (rows: answer
    categories, columns: domains). Totals default to the sums of the cells when
    the cells add up to them (``rows_add_up``: the columns partition the
    respondents, as districts do; ``columns_add_up``: each respondent is in one
    row, as for a single-choice question); otherwise give them (e.g. the
    respondents per district for a multiple-choice question). Rules: the module
    docstring (threshold rule with secondary suppression along every additive
    line; Hundepool et al. 2012, ch. 5).

    Example:
        >>> import pandas as pd
        >>> t = suppress_table(pd.DataFrame({"A": [10, 2], "B": [7, 9]}, index=["ja", "nej"]))
        >>> t.reasons.loc["nej", "A"]
        'primary: n = 2 is below 5'
    """
    k = _check_k(k)
    if not isinstance(counts, pd.DataFrame):
        raise ValueError("counts must be a DataFrame: rows are categories, columns are domains")
    if counts.shape[0] == 0 or counts.shape[1] == 0:
        raise ValueError("counts is empty: give at least one row and one column")
    cells = _as_counts(counts.to_numpy(), "counts")
    r, c = cells.shape
    if row_totals is None:
        if publish_row_totals and not rows_add_up:
            raise ValueError("give row_totals: the cells of a row do not add up to its total here")
        rt = cells.sum(axis=1)
    else:
        rt = _as_counts(row_totals, "row_totals")
        if rt.shape != (r,):
            raise ValueError(f"row_totals needs one value per row ({r})")
    if column_totals is None:
        if publish_column_totals and not columns_add_up:
            raise ValueError("give column_totals: the cells of a column do not add up to its total here")
        ct = cells.sum(axis=0)
    else:
        ct = _as_counts(column_totals, "column_totals")
        if ct.shape != (c,):
            raise ValueError(f"column_totals needs one value per column ({c})")
    if grand_total is None:
        gt = float(ct.sum() if rows_add_up else rt.sum() if columns_add_up else cells.sum())
    else:
        gt = float(_as_counts([grand_total], "grand_total")[0])

    values = np.zeros((r + 1, c + 1))
    values[:r, :c] = cells
    values[:r, c] = rt
    values[r, :c] = ct
    values[r, c] = gt
    present = np.ones((r + 1, c + 1), dtype=bool)
    present[:r, c] = publish_row_totals
    present[r, :c] = publish_column_totals
    present[r, c] = publish_row_totals or publish_column_totals
    grid = _Grid(values, present, rows_add_up, columns_add_up, column_percentages)
    grid.labels_r = [str(x) for x in counts.index]
    grid.labels_c = [str(x) for x in counts.columns]
    _primary(grid, k)
    grid.secondary()
    index = list(counts.index) + [TOTAL]
    columns = list(counts.columns) + [TOTAL]
    return SuppressedTable(
        hidden=pd.DataFrame(grid.hidden, index=index, columns=columns),
        reasons=pd.DataFrame(grid.reason.astype(str), index=index, columns=columns),
        k=k,
    )


# --------------------------------------------------------------------------- reports


def suppress_report(report: pd.DataFrame, *, k: int = 5) -> pd.DataFrame:
    """Apply small-cell suppression to the tidy output of ``estimate_report``.

    For every question and every domain variable the estimates form a table:
    rows are the categories (options; the mean for a numeric question),
    columns the domain values, the ``(all)`` estimates the row totals and the
    domains' unweighted bases ``n`` the column totals. The cells' unweighted
    counts are ``count`` (respondents choosing the category; for a numeric
    question, ``n``). A single-choice question's categories add up to the base;
    a multiple-choice question's options do not (and an option that all but
    ``0 < n - count < k`` respondents chose is hidden too: it exposes the few
    who did not); domains always add up to the whole. The rules are
    :func:`suppress_table`'s. An overall value hidden for one domain variable is
    hidden for all, and the tables are revisited until nothing changes.

    Returns a copy of ``report`` with ``suppressed`` (hide the estimate, its
    interval, se and count), ``base_suppressed`` (hide ``n`` and ``weighted_n``)
    and ``suppression_reason``.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from analysis.design import SurveyDesign
        >>> from analysis.estimates import Question, estimate_report
        >>> answers = ["ja"] * 10 + ["nej"] * 8 + ["vet ej"] * 2 + ["ja"] * 9 + ["nej"] * 7 + ["vet ej"] * 6
        >>> data = pd.DataFrame({"q": answers, "kon": ["K"] * 20 + ["M"] * 22})
        >>> report = estimate_report(data, SurveyDesign(np.ones(42)), [Question.single_choice("q")], by=["kon"])
        >>> out = suppress_report(report)
        >>> [(r.category, r.domain_value) for r in out[out["suppressed"]].itertuples()]
        [('nej', 'K'), ('vet ej', 'K'), ('nej', 'M'), ('vet ej', 'M')]
    """
    k = _check_k(k)
    needed = {"question", "kind", "category", "domain_variable", "domain_value", "n", "count"}
    missing = needed - set(report.columns)
    if missing:
        raise ValueError(f"report lacks the columns {sorted(missing)}: pass estimate_report's output")
    out = report.reset_index(drop=True).copy()
    for column in ("n", "count"):
        if out[column].isna().any() or (out[column] < 0).any():
            raise ValueError(f"report column {column!r} must hold unweighted counts (0 or more)")
    state = _ReportState(len(out))
    tables = _report_tables(out)
    changed = True
    while changed:
        changed = False
        for table in tables:
            changed |= table.protect(out, state, k)
    out["suppressed"] = state.suppressed
    out["base_suppressed"] = state.base_suppressed
    out["suppression_reason"] = pd.Series(state.reasons, dtype=object).astype(str)
    return out


class _ReportState:
    """What is hidden so far, per row of the report."""

    def __init__(self, n: int) -> None:
        self.suppressed = np.zeros(n, dtype=bool)
        self.base_suppressed = np.zeros(n, dtype=bool)
        self.reasons = np.full(n, "", dtype=object)

    def mark(self, rows: Sequence[int], flags: np.ndarray, why: str) -> bool:
        changed = False
        for i in rows:
            if not flags[i]:
                flags[i] = True
                changed = True
                if not self.reasons[i]:
                    self.reasons[i] = why
        return changed


@dataclass(frozen=True)
class _ReportTable:
    """One question by one domain variable: report row numbers per grid position."""

    kind: str
    categories: list[str]
    domains: list[str]
    cell_rows: dict[tuple[int, int], int]
    total_rows: dict[int, int]

    def protect(self, out: pd.DataFrame, state: _ReportState, k: int) -> bool:
        r, c = len(self.categories), len(self.domains)
        values = np.zeros((r + 1, c + 1))
        present = np.zeros((r + 1, c + 1), dtype=bool)
        count = out["count"].to_numpy(dtype=float)
        n = out["n"].to_numpy(dtype=float)
        for (i, j), row in self.cell_rows.items():
            values[i, j] = count[row]
            values[r, j] = max(values[r, j], n[row])
            present[i, j] = present[r, j] = True
        for i, row in self.total_rows.items():
            values[i, c] = count[row]
            values[r, c] = max(values[r, c], n[row])
            present[i, c] = present[r, c] = True
        single = self.kind == "single"
        grid = _Grid(values, present, True, single, single)
        grid.labels_r = self.categories
        grid.labels_c = self.domains
        _primary(grid, k)
        if self.kind == "multiple":
            for (i, j), row in self.cell_rows.items():
                rest = n[row] - count[row]
                if 0 < rest < k:
                    grid.hide(i, j, f"primary: only n = {int(rest)} did not choose this option, below {k}")
        elsewhere = "secondary: hidden in another table of the same question"
        for (i, j), row in self.cell_rows.items():
            if state.suppressed[row]:
                grid.hide(i, j, elsewhere)
            if state.base_suppressed[row]:
                grid.hide(r, j, elsewhere)
        for i, row in self.total_rows.items():
            if state.suppressed[row]:
                grid.hide(i, c, elsewhere)
            if state.base_suppressed[row]:
                grid.hide(r, c, elsewhere)
        grid.secondary()
        changed = False
        for (i, j), row in self.cell_rows.items():
            if grid.hidden[i, j]:
                changed |= state.mark([row], state.suppressed, grid.reason[i, j])
            if grid.hidden[r, j]:
                changed |= state.mark([row], state.base_suppressed, grid.reason[r, j])
        for i, row in self.total_rows.items():
            if grid.hidden[i, c]:
                changed |= state.mark([row], state.suppressed, grid.reason[i, c])
            if grid.hidden[r, c]:
                changed |= state.mark([row], state.base_suppressed, grid.reason[r, c])
        return changed


def _report_tables(out: pd.DataFrame) -> list[_ReportTable]:
    tables: list[_ReportTable] = []
    overall = (out["domain_variable"] == OVERALL).to_numpy()
    for _, qframe in out.groupby("question", sort=False):
        kinds = qframe["kind"].unique()
        if len(kinds) != 1:
            raise ValueError("every row of one question must have the same kind")
        categories = [str(x) for x in dict.fromkeys(qframe["category"])]
        cat_pos = {cat: i for i, cat in enumerate(categories)}
        top = qframe[overall[qframe.index]]
        total_rows = {cat_pos[str(cat)]: int(row) for row, cat in zip(top.index, top["category"], strict=True)}
        inner = qframe[~overall[qframe.index]]
        for _, vframe in inner.groupby("domain_variable", sort=False):
            domains = [str(x) for x in dict.fromkeys(vframe["domain_value"])]
            dom_pos = {d: j for j, d in enumerate(domains)}
            cell_rows = {
                (cat_pos[str(cat)], dom_pos[str(dom)]): int(row)
                for row, cat, dom in zip(vframe.index, vframe["category"], vframe["domain_value"], strict=True)
            }
            tables.append(_ReportTable(str(kinds[0]), categories, domains, cell_rows, total_rows))
        if inner.empty and len(top):
            # no domains: the overall column alone is the table
            cell_rows = {(i, 0): row for i, row in total_rows.items()}
            tables.append(_ReportTable(str(kinds[0]), categories, [OVERALL], cell_rows, {}))
    return tables
