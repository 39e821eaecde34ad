"""The input check's findings carry their data (``params``) beside the English message,
so callers can explain them in their own words."""

from __future__ import annotations

import pandas as pd

from analysis import weight


def _respondents() -> pd.DataFrame:
    rows = [(g, a) for g in ("kvinna", "man") for a in ("16-24", "25-34", "35-44", "45-54")
            for _ in range(2 if (g, a) == ("man", "45-54") else 6)]
    rows += [("annan", "16-24"), ("annan", "35-44")]
    return pd.DataFrame(rows, columns=["gender", "age_group"])


def test_uncovered_collapsed_and_tiny_cell_findings_carry_their_data():
    respondents = _respondents()
    cross = pd.Series([100, 100, 100, 100, 110, 110, 110, 110],
                      index=pd.MultiIndex.from_product([["kvinna", "man"], ["16-24", "25-34", "35-44", "45-54"]],
                                                       names=["gender", "age_group"]))
    result = weight(respondents, {("gender", "age_group"): cross}, "poststratify",
                    uncovered={"gender": ["annan"]}, min_cell_size=5)
    by_kind = {issue.kind: issue for issue in result.report.issues}
    uncovered = by_kind["uncovered"]
    assert uncovered.variable == "gender" and uncovered.count == 2
    assert uncovered.params == {"counts": {"annan": 2}}
    tiny = by_kind["tiny_cell"]
    assert tiny.params["min_cell_size"] == 5
    assert tiny.params["variables"] == ("gender", "age_group")
    assert tiny.params["sizes"] == {("man", "45-54"): 2}

    collapsed = weight(respondents[respondents.gender != "annan"],
                       {"age_group": pd.Series([200, 200, 200, 200], index=["16-24", "25-34", "35-44", "45-54"])},
                       "rake", collapse={"age_group": [["35-44", "45-54"]]})
    issue = next(i for i in collapsed.report.issues if i.kind == "collapsed")
    assert repr(issue.params["label"]) in issue.message
    assert set(issue.categories) == {"35-44", "45-54"}
