"""Collapse respondents into cells of their weighting variables, once.

Weighting on categorical variables never needs the rows themselves: every
respondent in the same cell of the cross-classification (for example kvinna ×
35-44 × 0180) gets the same adjustment factor. This module turns the weighting
columns into one integer cell id per row, with as few passes over the data as
possible:

1. per variable, the category codes are read from a ``Categorical`` (or from
   one ``pandas.factorize`` of a string column), ``-1`` for missing;
2. the codes are combined in mixed radix into a cell id (Horner's rule, in
   place, int32);
3. one ``bincount`` gives the respondent count and one gives the base-weight
   total of every cell;
4. on the cell table only, each cell's categories are mapped to *levels*: the
   target categories first, then categories seen only in the data, then one
   slot for missing values.

Solvers then work on the cell table (a few hundred numbers) and the final
weights are mapped back with one gather, ``weights = base * factor[cell]``.
Missing values and categories without targets occupy their own level, so every
validation question (how many rows are missing, which categories have no
target, which target cells are empty) is answered from the cell table without
another pass over the rows.

This is an internal module: the public entry points are in
:mod:`analysis.weighting`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The cross-classification is kept dense (every combination of levels is a
#: cell) up to this many cells; beyond it only the observed cells are kept.
DENSE_CELL_LIMIT = 1 << 22


@dataclass(frozen=True)
class Variable:
    """One weighting variable after encoding.

    ``levels`` lists the target categories first (``levels[:n_target]``), then
    categories seen only among the respondents; level ``len(levels)`` is the
    missing-value slot. ``collapsed`` maps each merged label to the original
    categories it stands for.
    """

    name: str
    levels: tuple[object, ...]
    n_target: int
    collapsed: Mapping[object, tuple[object, ...]]

    @property
    def missing_level(self) -> int:
        """Level code of a missing value."""
        return len(self.levels)

    @property
    def radix(self) -> int:
        """Number of level codes, the missing slot included."""
        return len(self.levels) + 1


@dataclass(frozen=True)
class CellTable:
    """Respondents collapsed into cells.

    ``cell`` holds one cell id per respondent (int32). For each cell,
    ``levels_of_cell[v]`` is the level code of variable ``v``, ``count`` the
    number of respondents and ``base_total`` the sum of their base weights.
    """

    variables: tuple[Variable, ...]
    cell: np.ndarray
    levels_of_cell: tuple[np.ndarray, ...]
    count: np.ndarray
    base_total: np.ndarray

    @property
    def n_cells(self) -> int:
        """Number of cells in the table."""
        return int(self.count.size)

    def variable(self, name: str) -> tuple[int, Variable]:
        """Position and description of the variable called ``name``."""
        for position, variable in enumerate(self.variables):
            if variable.name == name:
                return position, variable
        raise KeyError(name)


def collapse_map(
    name: str, groups: Sequence[Sequence[object]], order: Sequence[object] | None
) -> dict[object, object]:
    """Map each category in ``groups`` to the label of its merged group.

    The merged label joins the original labels with ``"/"`` (``("65-74",
    "75+")`` becomes ``"65-74/75+"``). When ``order`` is given (an ordered
    categorical), the categories of a group must be neighbours in it.
    """
    mapping: dict[object, object] = {}
    for group in groups:
        members = tuple(group)
        if len(members) < 2:
            raise ValueError(
                f"collapse[{name!r}]: each group needs at least two categories to merge, got {members!r}"
            )
        if order is not None:
            positions = []
            for member in members:
                if member not in order:
                    raise ValueError(
                        f"collapse[{name!r}]: {member!r} is not a category of {name!r} "
                        f"(categories: {list(order)})"
                    )
                positions.append(list(order).index(member))
            positions.sort()
            if positions != list(range(positions[0], positions[0] + len(positions))):
                raise ValueError(
                    f"collapse[{name!r}]: {members!r} are not neighbouring categories of the ordered "
                    f"variable {name!r}; merge only adjacent categories (order: {list(order)})"
                )
        label = "/".join(str(member) for member in members)
        for member in members:
            if member in mapping:
                raise ValueError(
                    f"collapse[{name!r}]: {member!r} appears in more than one group"
                )
            mapping[member] = label
    return mapping


def _codes(column: pd.Series) -> tuple[np.ndarray, list[object]]:
    """Integer codes (-1 for missing) and the categories they index."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categorical = column.array
        return np.asarray(categorical.codes), list(categorical.categories)
    codes, uniques = pd.factorize(column, sort=False)
    return codes, list(uniques)


def encode(
    frame: pd.DataFrame,
    target_levels: Mapping[str, Sequence[object]],
    collapse: Mapping[str, Mapping[object, object]],
    base: np.ndarray | None,
) -> CellTable:
    """Encode the weighting columns of ``frame`` into a :class:`CellTable`.

    ``target_levels[v]`` are the (already collapsed) categories that have
    population figures for variable ``v``; ``collapse[v]`` maps original data
    categories to merged labels. ``base`` are the base weights (``None`` means
    all ones).

    The cell id is built from the raw category codes (``-1`` for missing, so
    each variable has ``len(categories) + 1`` codes) with Horner's rule in
    place; mapping categories to target levels happens on the cell table, so
    the rows are read once per variable and never gathered through a lookup.
    Several cells may share the same levels (merged categories).
    """
    variables: list[Variable] = []
    raw_codes: list[np.ndarray] = []
    lookups: list[np.ndarray] = []
    for name, targets in target_levels.items():
        codes, categories = _codes(frame[name])
        merge = collapse.get(name, {})
        levels: list[object] = list(targets)
        position = {level: i for i, level in enumerate(levels)}
        lookup = np.empty(len(categories) + 1, dtype=np.int32)
        for i, category in enumerate(categories):
            label = merge.get(category, category)
            if label not in position:
                position[label] = len(levels)
                levels.append(label)
            lookup[i + 1] = position[label]
        lookup[0] = len(levels)  # raw code -1 (missing) -> the missing slot
        merged: dict[object, tuple[object, ...]] = {}
        for original, label in merge.items():
            merged[label] = merged.get(label, ()) + (original,)
        variables.append(
            Variable(name=name, levels=tuple(levels), n_target=len(targets), collapsed=merged)
        )
        raw_codes.append(codes)
        lookups.append(lookup)

    radices = [lookup.size for lookup in lookups]
    n_dense = int(np.prod(radices, dtype=np.int64))
    # sum_v (code_v + 1) * stride_v = (Horner on the raw codes) + sum_v stride_v
    strides = np.cumprod([1] + radices[::-1][:-1])[::-1]
    offset = int(strides.sum())
    dtype = np.int32 if n_dense < 2**31 else np.int64
    cell = raw_codes[0].astype(dtype)
    for codes, radix in zip(raw_codes[1:], radices[1:], strict=True):
        cell *= radix
        cell += codes
    cell += offset
    del raw_codes
    if n_dense <= DENSE_CELL_LIMIT:
        raw_of_cell = np.unravel_index(np.arange(n_dense), radices)
        n_cells = n_dense
    else:
        observed, inverse = np.unique(cell, return_inverse=True)
        cell = inverse.astype(np.int32)
        raw_of_cell = np.unravel_index(observed, radices)
        n_cells = int(observed.size)
    levels_of_cell = tuple(
        lookup[raw] for lookup, raw in zip(lookups, raw_of_cell, strict=True)
    )
    count = np.bincount(cell, minlength=n_cells).astype(np.float64)
    base_total = count if base is None else np.bincount(cell, weights=base, minlength=n_cells)
    return CellTable(
        variables=tuple(variables),
        cell=cell,
        levels_of_cell=levels_of_cell,
        count=count,
        base_total=base_total,
    )
