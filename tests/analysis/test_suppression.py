"""Small-cell suppression: primary rule, secondary suppression along additive
lines, and its use on estimate_report output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.design import SurveyDesign
from analysis.estimates import OVERALL, Question, estimate_report
from analysis.suppression import TOTAL, suppress_report, suppress_table


def hidden_per_line(hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hidden elements per extended row, per extended column, hidden cells per column."""
    return hidden.sum(axis=1), hidden.sum(axis=0), hidden[:-1, :-1].sum(axis=0)


def test_primary_and_secondary_along_rows_and_columns() -> None:
    counts = pd.DataFrame({"Norr": [20, 3, 9], "Soder": [15, 8, 12]}, index=["ja", "nej", "vet ej"])
    table = suppress_table(counts, k=5)
    assert table.reasons.loc["nej", "Norr"] == "primary: n = 3 is below 5"
    assert table.hidden.loc["nej", "Soder"]  # the row total would give it away
    assert table.hidden.loc["vet ej", "Norr"]  # the column's 100 % would give it away
    assert table.hidden.loc["vet ej", "Soder"]
    assert not table.hidden.loc["ja"].any() and not table.hidden.loc[TOTAL].any()
    assert table.n_hidden == 4
    assert table.reasons.loc["nej", "Soder"].startswith("secondary:")


def test_zero_cells_are_not_hidden_by_themselves() -> None:
    table = suppress_table(pd.DataFrame({"A": [10, 0], "B": [12, 7]}, index=["ja", "nej"]))
    assert table.n_hidden == 0


def test_a_small_column_is_hidden_with_its_base_and_protected_by_another() -> None:
    counts = pd.DataFrame({"Skog": [2, 1], "Norr": [30, 20], "Soder": [25, 40]}, index=["ja", "nej"])
    table = suppress_table(counts, k=5)
    assert table.hidden["Skog"].all()
    assert table.reasons.loc[TOTAL, "Skog"] == "primary: base n = 3 is below 5"
    # the base of Skog = grand total - the other bases: another base must go, and with it
    # enough of that column that it cannot be rebuilt from its cells
    assert table.hidden.loc[TOTAL, "Norr"]
    rows, cols, cells = hidden_per_line(table.hidden.to_numpy())
    assert (rows != 1).all() and (cols != 1).all() and (cells != 1).all()


def test_a_small_table_is_hidden_whole() -> None:
    table = suppress_table(pd.DataFrame({"A": [1, 1], "B": [1, 0]}), k=5)
    assert table.hidden.to_numpy().all()
    assert table.reasons.loc[TOTAL, TOTAL] == "primary: the table's total n = 3 is below 5"


def test_non_additive_columns_need_their_totals() -> None:
    counts = pd.DataFrame({"Norr": [12, 3], "Soder": [9, 14]}, index=["park", "gym"])
    with pytest.raises(ValueError, match="give column_totals"):
        suppress_table(counts, columns_add_up=False)
    table = suppress_table(counts, column_totals=[20, 20], columns_add_up=False, column_percentages=False)
    assert table.hidden.loc["gym", "Norr"] and table.hidden.loc["gym", "Soder"]
    assert not table.hidden.loc["park"].any()  # options need not add up to the base


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be a positive whole number"),
        ({"k": 2.5}, "k must be a positive whole number"),
        ({"row_totals": [1, 2, 3]}, "one value per row"),
        ({"column_totals": [1]}, "one value per column"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        suppress_table(pd.DataFrame({"A": [10, 10], "B": [10, 10]}), **kwargs)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        (pd.DataFrame({"A": [1.5, 2]}), "whole numbers"),
        (pd.DataFrame({"A": [-1, 2]}), "whole numbers"),
        (pd.DataFrame({"A": [np.nan, 2]}), "missing values"),
        (pd.DataFrame(), "empty"),
        ([[1, 2]], "must be a DataFrame"),
    ],
)
def test_bad_counts(counts: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        suppress_table(counts)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 5).flatmap(
        lambda r: st.integers(1, 5).flatmap(
            lambda c: st.lists(st.lists(st.integers(0, 25), min_size=c, max_size=c), min_size=r, max_size=r)
        )
    ),
    st.integers(2, 10),
)
def test_no_hidden_value_can_be_recovered_from_one_line(cells: list[list[int]], k: int) -> None:
    counts = pd.DataFrame(cells)
    table = suppress_table(counts, k=k)
    hidden = table.hidden.to_numpy()
    values = np.asarray(cells)
    assert hidden[:-1, :-1][(values > 0) & (values < k)].all()  # primary
    rows, cols, cells_per_col = hidden_per_line(hidden)
    assert (rows != 1).all(), "a row with one hidden value gives it away"
    assert (cols != 1).all(), "a column with one hidden value gives it away"
    if values.shape[0] > 1:
        assert (cells_per_col != 1).all(), "percentages add up to 100 %"
    reasons = table.reasons.to_numpy()
    assert ((reasons != "") == hidden).all()


# ----------------------------------------------------------------- reports


def small_panel() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 200
    district = np.array(["Skog"] * 4 + list(rng.choice(["Norr", "Soder", "Vaster"], n - 4)))
    data = pd.DataFrame(
        {
            "district": district,
            "gender": rng.choice(["K", "M"], n),
            "q1": pd.Series(rng.choice(["ja", "nej", "vet ej"], n, p=[0.55, 0.4, 0.05]), dtype=object),
            "opt_a": (rng.random(n) < 0.97).astype(float),
            "opt_b": (rng.random(n) < 0.5).astype(float),
            "q2": rng.integers(1, 11, n).astype(float),
        }
    )
    return data


def report_for(data: pd.DataFrame) -> pd.DataFrame:
    questions = [
        Question.single_choice("q1"),
        Question.multiple_choice("fritid", {"a": "opt_a", "b": "opt_b"}),
        Question.numeric("q2"),
    ]
    return estimate_report(data, SurveyDesign(np.full(len(data), 50.0)), questions, by=["district", "gender"])


def test_report_hides_small_domains_and_what_would_reveal_them() -> None:
    out = suppress_report(report_for(small_panel()), k=5)
    assert {"suppressed", "base_suppressed", "suppression_reason"} <= set(out.columns)
    skog = out[out["domain_value"] == "Skog"]
    assert skog["suppressed"].all() and skog["base_suppressed"].all()
    assert skog["suppression_reason"].str.contains("below 5").all()
    # Skog's base is the whole minus the other districts: another district's base goes too
    other_bases = out[(out["domain_variable"] == "district") & (out["domain_value"] != "Skog")]
    assert other_bases.groupby("domain_value")["base_suppressed"].any().any()
    # every hidden value says why, every published one says nothing
    assert (out["suppression_reason"] != "").eq(out["suppressed"] | out["base_suppressed"]).all()


def test_report_multiple_choice_hides_the_few_who_did_not_choose() -> None:
    out = suppress_report(report_for(small_panel()), k=5)
    rows = out[(out["question"] == "fritid") & (out["category"] == "a")]
    few = rows[(rows["n"] - rows["count"] > 0) & (rows["n"] - rows["count"] < 5)]
    assert len(few) and few["suppressed"].all()
    assert few["suppression_reason"].str.contains("did not choose|below").all()


def test_report_tables_have_no_line_with_a_single_hidden_value() -> None:
    out = suppress_report(report_for(small_panel()), k=5)
    for (question, variable), frame in out[out["domain_variable"] != OVERALL].groupby(["question", "domain_variable"]):
        top = out[(out["question"] == question) & (out["domain_variable"] == OVERALL)].set_index("category")
        cells = frame.pivot(index="category", columns="domain_value", values="suppressed")
        totals = top["suppressed"].reindex(cells.index)
        rows = cells.sum(axis=1) + totals.astype(int)
        assert (rows != 1).all(), (question, variable)
        if frame["kind"].iloc[0] == "single":
            assert (cells.sum(axis=0) != 1).all(), (question, variable)


def test_overall_values_hidden_for_one_domain_variable_are_hidden_for_all() -> None:
    data = small_panel()
    data.loc[:2, "q1"] = "kanske"  # three respondents only: the overall share is primary
    out = suppress_report(report_for(data), k=5)
    overall = out[(out["question"] == "q1") & (out["domain_variable"] == OVERALL)].set_index("category")
    assert overall.loc["kanske", "suppressed"]
    for variable in ["district", "gender"]:
        row = out[(out["question"] == "q1") & (out["domain_variable"] == variable) & (out["category"] == "kanske")]
        assert row["suppressed"].sum() + 1 != 1  # with the hidden overall value: never one alone
        assert row["suppressed"].any()  # else the cells would add up to the hidden total


def test_report_needs_estimate_report_columns() -> None:
    with pytest.raises(ValueError, match="lacks the columns"):
        suppress_report(pd.DataFrame({"question": ["q"]}))
