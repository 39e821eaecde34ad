"""Small-cell suppression of a report document before it is published.

The input is the JSON data of a ``surveys.results.document.ReportDocument``; the
output is the same structure (it still loads with ``ReportDocument.from_dict``) with
every value that could expose a small group set to ``None``:

* **Question results**: for every question, the whole-sample rows and the rows of
  the fixed breakdowns (district, gender, age band) go through
  :func:`analysis.suppression.suppress_report` on their *unweighted* counts: a cell
  with 0 < count < k, a domain whose base is below k, and whatever would let a hidden
  value be recovered from the totals (secondary suppression) are hidden. The same
  pattern is applied to the weighted and the unweighted rows (the unweighted share
  is count / n, so showing it would give the hidden count back). A hidden cell keeps
  its category and domain, loses ``estimate``, ``se``, the interval, ``deff``,
  ``count`` and ``weighted_n``, and gets ``flag = "suppressed"`` and a reason code
  with the threshold (``"primary:5"``, ``"secondary:5"``; versions published before
  the codes hold a Swedish sentence, which readers still get explained); a hidden
  base also loses ``n``.
* **Other breakdowns** (anything not in :data:`FIXED_BREAKDOWNS`) are dropped: the
  committee gets the fixed breakdowns only.
* **Cross-tabs are dropped.** Their margins count the respondents who answered both
  questions, which differ from each question's own published base, so subtracting
  across tables could uncover cells that each table's suppression lets through.
  They stay on the analyst's report.
* **"Vet ej" rows** (whole sample) are hidden when 0 < count < k or the base is below k.
* **Response rates** per gender, age band and district: the respondents per category
  are suppressed as a one-column table with :func:`analysis.suppression.suppress_table`
  (a count below k, and a second category where the total would give it back), and so
  are the invited per category, each as a one-column table; a group's rate is hidden
  with either count. Those who did not answer are not protected: the rate of a group
  where only a few did not answer is shown (the question tables publish that group's n
  beside the invited count anyway). Crosses are dropped.
* **Weighting margins**: a cell's respondent count below k is hidden.
* **Free text** is emptied here; publication puts back only approved answers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.suppression import suppress_report, suppress_table
from surveys.results.document import OVERALL

FIXED_BREAKDOWNS: tuple[str, ...] = ("district", "gender", "age_group")
SUPPRESSED = "suppressed"
# Why a cell is hidden (stored as "<code>:<k>" in the row's ``reason``): its own base or
# count is below k, or it would let a hidden value be computed from the totals.
PRIMARY = "primary"
SECONDARY = "secondary"
_ESTIMATE_FIELDS = ("estimate", "se", "ci_low", "ci_high", "deff", "df", "count", "weighted_n")


@dataclass(frozen=True)
class SuppressedDocument:
    document: dict[str, Any]
    hidden: int  # how many values (estimates and bases) were hidden


def reason_code(reason: str, k: int) -> str:
    """What a hidden cell stores as its ``reason``: a code and the threshold, e.g. ``"primary:5"``.

    The text readers see is made from it when a page, the PDF or an email is rendered, in
    the reader's language (:func:`surveys.publication.presentation.suppression_reason`).
    """
    return f"{SECONDARY if reason.startswith('secondary') else PRIMARY}:{k}"


def _question_rows(question: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for row in question.get("unweighted", [])
            if row["domain_variable"] == OVERALL or row["domain_variable"] in FIXED_BREAKDOWNS]


def _hide(row: dict[str, Any], *, cell: bool, base: bool, reason: str) -> None:
    if cell:
        for name in _ESTIMATE_FIELDS:
            row[name] = None
    if base:
        row["n"] = None
        row["weighted_n"] = None
    if cell or base:
        row["flag"] = SUPPRESSED
        row["reason"] = reason


def _suppress_questions(questions: list[dict[str, Any]], k: int) -> int:
    frames = []
    for number, question in enumerate(questions):
        for row in _question_rows(question):
            frames.append({"question": number, "kind": question["kind"], "category": row["category"],
                           "domain_variable": row["domain_variable"], "domain_value": row["domain_value"],
                           "n": int(row["n"] or 0), "count": int(row["count"] or 0)})
    pattern: dict[tuple, tuple[bool, bool, str]] = {}
    if frames:
        out = suppress_report(pd.DataFrame(frames), k=k)
        for rec in out.itertuples(index=False):
            pattern[(rec.question, rec.category, rec.domain_variable, rec.domain_value)] = (
                bool(rec.suppressed), bool(rec.base_suppressed), str(rec.suppression_reason))
    hidden = 0
    for number, question in enumerate(questions):
        for series in ("weighted", "unweighted"):
            kept = []
            for row in question.get(series, []):
                if row["domain_variable"] != OVERALL and row["domain_variable"] not in FIXED_BREAKDOWNS:
                    continue
                cell, base, why = pattern.get((number, row["category"], row["domain_variable"], row["domain_value"]),
                                              (False, False, ""))
                _hide(row, cell=cell, base=base, reason=reason_code(why, k))
                hidden += (cell + base) if series == "weighted" else 0
                kept.append(row)
            question[series] = kept
        for row in question.get("dont_know", []):
            n, count = int(row.get("n") or 0), int(row.get("count") or 0)
            if n < k or 0 < count < k:
                _hide(row, cell=True, base=n < k, reason=reason_code(PRIMARY, k))
                hidden += 1
        for name in ("answered", "shown"):
            if 0 < int(question.get(name) or 0) < k:
                question[name] = None
    return hidden


def _suppress_rates(representativeness: dict[str, Any], k: int) -> int:
    rows = [r for r in representativeness.get("response_rates", [])
            if r["variable"] == "total" or r["variable"] in FIXED_BREAKDOWNS]
    hidden = 0
    for variable in FIXED_BREAKDOWNS:
        group = [r for r in rows if r["variable"] == variable]
        if not group:
            continue
        # Respondents are protected as in the question tables; those who did not answer are
        # not (the question tables publish each group's n beside the invited count anyway).
        # The invited are a table of their own: a group of panel members this small is not
        # shown either. Each is one column whose total the "total" row publishes.
        categories = [r["category"] for r in group]
        hide = {column: suppress_table(pd.DataFrame({column: [int(r[column]) for r in group]}, index=categories),
                                       k=k, column_percentages=False, publish_row_totals=False).hidden[column]
                for column in ("completed", "invited")}
        for row, category in zip(group, categories, strict=True):
            if hide["completed"][category] or hide["invited"][category]:
                # completed = rate x invited: hiding either hides the rate
                row.update(completed=None, rate=None, ci_low=None, ci_high=None)
                hidden += 1
            if hide["invited"][category]:
                row["invited"] = None
                hidden += 1
    representativeness["response_rates"] = rows
    return hidden


def _suppress_margins(weighting: dict[str, Any], k: int) -> int:
    hidden = 0
    for margin in weighting.get("margins", []) or []:
        for cell in margin.get("cells", []):
            if 0 < int(cell.get("respondents") or 0) < k:
                cell["respondents"] = None
                hidden += 1
    return hidden


def suppress_document(document: dict[str, Any], *, k: int) -> SuppressedDocument:
    """A suppressed deep copy of a report document's JSON data (see the module docstring)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive whole number, not {k!r}")
    data = copy.deepcopy(document)
    hidden = _suppress_questions(data.get("questions", []), k)
    hidden += _suppress_rates(data.setdefault("representativeness", {}), k)
    hidden += _suppress_margins(data.get("weighting") or {}, k)
    data["crosstabs"] = []
    data["free_text"] = []
    data["breakdowns"] = [b for b in data.get("breakdowns", FIXED_BREAKDOWNS) if b in FIXED_BREAKDOWNS]
    data["domain_labels"] = {name: labels for name, labels in (data.get("domain_labels") or {}).items()
                             if name in FIXED_BREAKDOWNS}
    return SuppressedDocument(data, hidden)
