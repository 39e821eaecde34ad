"""Estimates against R's survey package (4.1.1), case by case.

Each tests/analysis/reference/estimates_<case>.json was written by the R script
of the same name (run it from the repository root; CI has no R). A case holds
the data, the design (final weights and what ``svyrecvar`` needs to form the
calibration residuals) and one record per reference number:

* ``mean``: ``svymean(~y, d, na.rm = TRUE, deff = TRUE)`` (and ``deff =
  "replace"``), ``confint()``, ``degf(d)``, and for 0/1 variables
  ``svyciprop(~y, d, method = "logit" | "beta", na.rm = TRUE)``; ``d`` is the
  design or ``design[domain, ]`` exactly as ``svyby`` forms it;
* ``proportion``: ``svymean(~factor, d, ...)`` per level and
  ``svyciprop(~I(factor == level), d, ...)``;
* ``total``: ``svytotal(~y, d, na.rm = TRUE, deff = TRUE)``;
* ``chisq``: ``svychisq(~a + b, design, statistic = "F" | "Chisq")``;
* ``difference``: ``svyby(..., covmat = TRUE)`` + ``svycontrast`` (or the same
  joint-influence covariance through ``svyrecvar`` where survey 4.1.1's
  ``svyby(covmat = TRUE)`` stops with an error) and
  ``svyttest(y ~ group, design[two domains, ])``.
* ``boundary`` (estimates_boundary.R): a share of exactly 0 or 1, where
  ``svyciprop(method = "beta")`` gives (NaN, NaN) because its effective sample
  size ``p (1 - p) / var`` is 0/0; the reference is svyciprop's own formula
  with the Kish effective sample size ``(sum w)^2 / sum w^2`` of the domain's
  answers (for the unweighted design checked against ``binom.test``).

The adjustments below are test doubles of what analysis/weighting.py provides:
they reproduce ``svyrecvar``'s residuals for ``postStratify``, ``rake`` and
``calibrate`` from the arrays R stored in the design.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.crosstab import weighted_crosstab
from analysis.design import SurveyDesign
from analysis.estimates import (
    Question,
    domain_difference,
    estimate_report,
    survey_mean,
    survey_proportions,
    survey_total,
)

REFERENCE = Path(__file__).parent / "reference"
CASES = ["api_srs", "api_strat", "api_poststrat", "api_rake", "api_calibrate", "panel_weights", "panel_rake",
         "boundary_srs", "boundary_weights", "boundary_rake"]
BOUNDARY_CASES = ["boundary_srs", "boundary_weights", "boundary_rake"]
RTOL = 1e-8
# svyciprop's logit interval comes from svyglm, whose IRLS stops when the
# deviance changes by less than 1e-8 (relative): its limits sit ~1e-8 from the
# exact expit(logit(p) -/+ t se / (p (1 - p))) that we compute.
LOGIT_RTOL = 1e-6
# R reports rounding noise (se ~ 1e-14 on api99, F ~ 1e32) for estimates that
# the calibration fixes; below this design effect we expect the "calibrated" flag.
NOISE_DEFF = 1e-12


# ----------------------------------------------------------------- test doubles of weighting


def _group_sums(codes: np.ndarray, x: np.ndarray, ngroups: int) -> np.ndarray:
    onehot = np.zeros((codes.size, ngroups))
    onehot[np.arange(codes.size), codes] = 1.0
    return onehot.T @ x


@dataclass(frozen=True, eq=False)
class PostStratResidual:
    """svyrecvar for a postStratify step: x - psw * rowsum(x oldw / psw) / sum(oldw)."""

    codes: np.ndarray
    weights: np.ndarray
    oldweights: np.ndarray

    def residualize(self, x: np.ndarray) -> np.ndarray:
        psw = self.weights.copy()
        psw[(psw == 0) & (self.oldweights == 0)] = 1.0
        k = int(self.codes.max()) + 1
        sums = _group_sums(self.codes, x * (self.oldweights / psw)[:, None], k)
        denom = _group_sums(self.codes, self.oldweights[:, None], k)
        return x - (sums / denom)[self.codes] * psw[:, None]


@dataclass(frozen=True, eq=False)
class RakeResidual:
    """svyrecvar for a rake design: 10 sweeps of x - psw * ave(x / psw, margin)."""

    margins: tuple[tuple[np.ndarray, np.ndarray], ...]

    def residualize(self, x: np.ndarray) -> np.ndarray:
        for _ in range(10):
            for codes, psw in self.margins:
                k = int(codes.max()) + 1
                sums = _group_sums(codes, x / psw[:, None], k)
                counts = np.bincount(codes, minlength=k)[:, None]
                x = x - psw[:, None] * (sums / counts)[codes]
        return x


@dataclass(frozen=True, eq=False)
class CalibrationResidual:
    """svyrecvar for a calibrate design: qr.resid(qr, x / w) * w."""

    q: np.ndarray
    w: np.ndarray

    def residualize(self, x: np.ndarray) -> np.ndarray:
        y = x / self.w[:, None]
        return (y - self.q @ (self.q.T @ y)) * self.w[:, None]


def _codes(values: list[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float).astype(np.int64)
    _, codes = np.unique(arr, return_inverse=True)
    return codes


def build_design(spec: dict[str, Any]) -> SurveyDesign:
    steps = []
    for step in spec["steps"]:
        if step["kind"] == "poststratify":
            steps.append(
                PostStratResidual(
                    _codes(step["index"]), np.asarray(step["weights"], float), np.asarray(step["oldweights"], float)
                )
            )
        elif step["kind"] == "rake":
            steps.append(
                RakeResidual(
                    tuple((_codes(m["index"]), np.asarray(m["weights"], float)) for m in step["margins"])
                )
            )
        else:
            q, _ = np.linalg.qr(np.column_stack([np.asarray(c, float) for c in step["qr_matrix"]]))
            steps.append(CalibrationResidual(q, np.asarray(step["w"], float)))
    return SurveyDesign(np.asarray(spec["weights"], dtype=float), tuple(steps))


@cache
def load(case: str) -> tuple[pd.DataFrame, SurveyDesign, list[dict[str, Any]]]:
    raw = json.loads((REFERENCE / f"estimates_{case}.json").read_text(encoding="utf-8"))
    columns = {}
    for name, values in raw["data"].items():
        if any(isinstance(v, str) for v in values):
            columns[name] = pd.Series(values, dtype=object)
        else:
            columns[name] = pd.Series([np.nan if v is None else v for v in values], dtype=float)
    return pd.DataFrame(columns), build_design(raw["design"]), raw["records"]


def close(actual: float, expected: float | None, what: str, rtol: float = RTOL) -> None:
    if expected is None:
        assert not math.isfinite(actual), f"{what}: R has NA/NaN/Inf, we have {actual}"
        return
    assert actual == pytest.approx(expected, rel=rtol, abs=1e-300), f"{what}: {actual!r} != R {expected!r}"


def calibrated_in_r(rec: dict[str, Any]) -> bool:
    return rec.get("deff_replace") is not None and abs(rec["deff_replace"]) < NOISE_DEFF


def records(case: str, stat: str) -> list[dict[str, Any]]:
    return [r for r in load(case)[2] if r["stat"] == stat]


def domain_of(data: pd.DataFrame, rec: dict[str, Any]) -> np.ndarray | None:
    if rec["domain_variable"] == "(all)":
        return None
    return (data[rec["domain_variable"]] == rec["domain_value"]).to_numpy(dtype=bool)


def label(rec: dict[str, Any]) -> str:
    return f"{rec['variable']}{'=' + rec['level'] if 'level' in rec else ''} [{rec['domain_value']}]"


# ----------------------------------------------------------------- the tests


@pytest.mark.parametrize("case", CASES)
def test_design_weights_match_the_json(case: str) -> None:
    data, design, _ = load(case)
    assert design.n == len(data)


@pytest.mark.parametrize("case", CASES)
def test_means_match_svymean_and_svyciprop(case: str) -> None:
    data, design, _ = load(case)
    for rec in records(case, "mean"):
        dom, what = domain_of(data, rec), label(rec)
        est = survey_mean(data[rec["variable"]], design, domain=dom)
        if rec.get("no_answers"):
            assert "no_answers" in est.flag and math.isnan(est.estimate), what
            continue
        close(est.estimate, rec["estimate"], f"{what} estimate")
        assert est.df == rec["df"], what
        if calibrated_in_r(rec):
            assert est.flag == "calibrated" and est.se == 0.0 and est.ci_low == est.estimate, what
            continue
        assert "calibrated" not in est.flag, what
        if rec["se"] == 0.0:  # every answer equal: R's interval is [p, p]
            assert "zero_variance" in est.flag and est.se == 0.0, what
            assert math.isnan(est.ci_low) and math.isnan(est.deff), what  # a mean: no interval
            if est.estimate in (0.0, 1.0):  # asked as a share: Korn-Graubard (test_zero_and_full_shares_...)
                share = survey_mean(data[rec["variable"]], design, domain=dom, ci_method="logit")
                assert share.flag == "boundary_share" and share.ci_method == "beta", what
                assert share.ci_low < share.ci_high and share.ci_low <= est.estimate <= share.ci_high, what
            continue
        close(est.se, rec["se"], f"{what} se")
        close(est.deff, rec["deff"], f"{what} deff")
        close(est.ci_low, rec["wald_low"], f"{what} wald low")
        close(est.ci_high, rec["wald_high"], f"{what} wald high")
        rep = survey_mean(data[rec["variable"]], design, domain=dom, deff_method="replace")
        close(rep.deff, rec["deff_replace"], f"{what} deff replace")
        if "logit_low" in rec:
            lg = survey_mean(data[rec["variable"]], design, domain=dom, ci_method="logit")
            close(lg.ci_low, rec["logit_low"], f"{what} logit low", LOGIT_RTOL)
            close(lg.ci_high, rec["logit_high"], f"{what} logit high", LOGIT_RTOL)
            bt = survey_mean(data[rec["variable"]], design, domain=dom, ci_method="beta")
            close(bt.ci_low, rec["beta_low"], f"{what} beta low")
            close(bt.ci_high, rec["beta_high"], f"{what} beta high")


@pytest.mark.parametrize("case", CASES)
def test_proportions_match_svymean_of_a_factor(case: str) -> None:
    data, design, _ = load(case)
    cache_: dict[tuple[str, str, str, str], pd.DataFrame] = {}
    for rec in records(case, "proportion"):
        dom, what = domain_of(data, rec), label(rec)
        out = {}
        for method in ("logit", "beta"):
            key = (rec["variable"], rec["domain_variable"], rec["domain_value"], method)
            if key not in cache_:
                cache_[key] = survey_proportions(data[rec["variable"]], design, domain=dom, ci_method=method)
            out[method] = cache_[key].set_index("category").loc[rec["level"]]
        row = out["logit"]
        if rec.get("no_answers"):
            assert "no_answers" in row["flag"], what
            continue
        close(row["estimate"], rec["estimate"], f"{what} estimate")
        assert row["df"] == rec["df"], what
        if calibrated_in_r(rec):
            assert row["flag"] == "calibrated" and row["se"] == 0.0, what
            continue
        assert "calibrated" not in row["flag"], what
        close(row["se"], rec["se"], f"{what} se")
        close(row["deff"], rec["deff"], f"{what} deff")
        if "logit_low" in rec:
            close(row["ci_low"], rec["logit_low"], f"{what} logit low", LOGIT_RTOL)
            close(row["ci_high"], rec["logit_high"], f"{what} logit high", LOGIT_RTOL)
            close(out["beta"]["ci_low"], rec["beta_low"], f"{what} beta low")
            close(out["beta"]["ci_high"], rec["beta_high"], f"{what} beta high")
        else:  # a 0 % or 100 % share: svyciprop gives NaN; see test_zero_and_full_shares_...
            assert row["se"] == 0.0 and row["flag"] == "boundary_share", what
            assert row["ci_method"] == out["beta"]["ci_method"] == "beta", what
            assert row["ci_low"] == out["beta"]["ci_low"] and row["ci_high"] == out["beta"]["ci_high"], what
            assert row["ci_low"] < row["ci_high"] and row["ci_low"] <= row["estimate"] <= row["ci_high"], what


@pytest.mark.parametrize("case", CASES)
def test_totals_match_svytotal(case: str) -> None:
    data, design, _ = load(case)
    for rec in records(case, "total"):
        dom, what = domain_of(data, rec), label(rec)
        est = survey_total(data[rec["variable"]], design, domain=dom)
        if rec.get("no_answers"):
            assert "no_answers" in est.flag, what
            continue
        close(est.estimate, rec["estimate"], f"{what} total")
        if calibrated_in_r(rec):
            assert est.flag == "calibrated" and est.se == 0.0, what
            continue
        close(est.se, rec["se"], f"{what} se")
        close(est.deff, rec["deff"], f"{what} deff")
        rep = survey_total(data[rec["variable"]], design, domain=dom, deff_method="replace")
        close(rep.deff, rec["deff_replace"], f"{what} deff replace")


@pytest.mark.parametrize("case", CASES)
def test_crosstab_matches_svychisq(case: str) -> None:
    data, design, _ = load(case)
    for rec in records(case, "chisq"):
        what = f"{rec['rows']} x {rec['columns']} {rec['statistic_type']}"
        table = weighted_crosstab(data[rec["rows"]], data[rec["columns"]], design, statistic=rec["statistic_type"])
        if rec["statistic_type"] == "F" and rec["statistic"] > 1e15:  # R divided by rounding noise
            assert table.test.statistic == math.inf and table.test.p_value == 0.0, what
            assert "fixes every cell" in table.test.reason, what
            continue
        close(table.test.statistic, rec["statistic"], f"{what} statistic")
        close(table.test.ndf, rec["ndf"], f"{what} ndf")
        if rec["statistic_type"] == "F":
            assert table.test.ddf is not None
            close(table.test.ddf, rec["ddf"], f"{what} ddf")
        else:
            assert table.test.ddf is None
        close(table.test.p_value, rec["p_value"], f"{what} p", rtol=1e-7)


@pytest.mark.parametrize("case", CASES)
def test_domain_differences_match_svycontrast_and_svyttest(case: str) -> None:
    data, design, _ = load(case)
    for rec in records(case, "difference"):
        what = f"{rec['variable']} {rec['first']}-{rec['second']}"
        diff = domain_difference(
            data[rec["variable"]], data[rec["by"]], design, rec["first"], rec["second"], category=rec["category"]
        )
        close(diff.estimate_first, rec["estimate_first"], f"{what} first")
        close(diff.estimate_second, rec["estimate_second"], f"{what} second")
        close(diff.difference, rec["difference"], f"{what} difference")
        close(diff.difference, rec["t_difference"], f"{what} svyttest difference")
        if rec["se"] < 1e-10 * max(1.0, abs(rec["estimate_first"])):  # R's rounding noise
            assert diff.flag == "calibrated" and diff.se == 0.0, what
            continue
        close(diff.se, rec["se"], f"{what} se")
        if rec.get("se_svyby") is not None:
            close(diff.se, rec["se_svyby"], f"{what} se (svyby)")
        close(diff.se, rec["se_ttest"], f"{what} se (svyttest)")
        close(diff.statistic, rec["statistic"], f"{what} t")
        assert diff.df == rec["df"], what
        close(diff.p_value, rec["p_value"], f"{what} p", rtol=1e-7)
        close(diff.ci_low, rec["ci_low"], f"{what} ci low")
        close(diff.ci_high, rec["ci_high"], f"{what} ci high")


# ----------------------------------------------------------------- the report path


PANEL_QUESTIONS = [
    Question.single_choice("q_trygg"),
    Question.single_choice("q_ja"),
    Question.multiple_choice(
        "q_fritid",
        {"opt_park": "opt_park", "opt_bibliotek": "opt_bibliotek", "opt_gym": "opt_gym", "opt_ingen": "opt_ingen"},
    ),
    Question.numeric("q_betyg"),
]


def _report_rows(case: str, design: SurveyDesign | None = None) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    data, reference_design, recs = load(case)
    report = estimate_report(
        data, design or reference_design, PANEL_QUESTIONS, by=["district", "gender", "age_band"]
    )
    return report.set_index(["question", "category", "domain_variable", "domain_value"]), recs


def _report_key(rec: dict[str, Any]) -> tuple[str, str, str, str]:
    if rec["stat"] == "proportion":
        return (rec["variable"], rec["level"], rec["domain_variable"], rec["domain_value"])
    if rec["variable"] == "q_betyg":
        return ("q_betyg", "(mean)", rec["domain_variable"], rec["domain_value"])
    return ("q_fritid", rec["variable"], rec["domain_variable"], rec["domain_value"])


def _compare_report(report: pd.DataFrame, recs: list[dict[str, Any]], rtol: float) -> int:
    checked = 0
    for rec in recs:
        if rec["stat"] not in ("mean", "proportion") or rec.get("no_answers"):
            continue
        row = report.loc[_report_key(rec)]
        what = f"report {_report_key(rec)}"
        close(row["estimate"], rec["estimate"], f"{what} estimate", rtol)
        assert row["df"] == rec["df"], what
        if rec["se"] == 0.0 or calibrated_in_r(rec):
            assert row["se"] == 0.0, what
            if row["estimate"] in (0.0, 1.0) and row["kind"] != "numeric":
                assert row["flag"] == "boundary_share" and row["ci_low"] < row["ci_high"], what
            continue
        close(row["se"], rec["se"], f"{what} se", rtol)
        close(row["deff"], rec["deff"], f"{what} deff", rtol)
        if row["ci_method"] == "logit" and "logit_low" in rec:
            close(row["ci_low"], rec["logit_low"], f"{what} logit low", LOGIT_RTOL)
            close(row["ci_high"], rec["logit_high"], f"{what} logit high", LOGIT_RTOL)
        if row["ci_method"] == "wald":
            close(row["ci_low"], rec["wald_low"], f"{what} wald low", rtol)
        checked += 1
    return checked


@pytest.mark.parametrize("case", ["panel_weights", "panel_rake"])
def test_report_matches_svyby_for_every_question_and_domain(case: str) -> None:
    report, recs = _report_rows(case)
    assert _compare_report(report, recs, RTOL) >= 120


def test_report_with_analysis_weighting_rake_matches_r_rake() -> None:
    """End to end: our rake's design gives R's raked SEs (both converged to ~1e-10)."""
    from analysis.weighting import rake

    data, r_design, recs = load("panel_rake")
    targets = {
        "gender": pd.Series({"K": 35500.0, "M": 34500.0}),
        "age_band": pd.Series({"18-29": 13000.0, "30-49": 22000.0, "50-64": 19000.0, "65+": 16000.0}),
        "district": pd.Series({"Centrum": 18000.0, "Norr": 17000.0, "Skog": 1000.0, "Soder": 19000.0,
                               "Vaster": 15000.0}),
    }
    result = rake(data, targets, weights="base_weight", tolerance=1e-13, min_cell_size=0)
    np.testing.assert_allclose(result.weights, r_design.weights, rtol=1e-9)
    report, _ = _report_rows("panel_rake", result.design)
    assert _compare_report(report, recs, 1e-9) >= 120


def test_poststratify_from_analysis_weighting_matches_r_poststratify() -> None:
    from analysis.weighting import poststratify

    data, r_design, recs = load("api_poststrat")
    pop = {("stype", "sch.wide"): pd.Series(
        {("E", "No"): 472.0, ("E", "Yes"): 3949.0, ("H", "No"): 334.0, ("H", "Yes"): 421.0,
         ("M", "No"): 266.0, ("M", "Yes"): 752.0})}
    result = poststratify(data, pop, weights="pw", min_cell_size=0)
    np.testing.assert_allclose(result.weights, r_design.weights, rtol=1e-12)
    for rec in records("api_poststrat", "mean"):
        if rec.get("no_answers") or calibrated_in_r(rec):
            continue
        est = survey_mean(data[rec["variable"]], result.design, domain=domain_of(data, rec))
        close(est.se, rec["se"], f"{label(rec)} se")


# ----------------------------------------------------------------- shares of 0 % and 100 %


BOUNDARY_LEVELS = ["bil", "buss", "cykel", "annat"]
BOUNDARY_QUESTIONS = [
    Question.single_choice("q_resa", categories=BOUNDARY_LEVELS),
    Question.multiple_choice("q_tid", {"opt_natt": "opt_natt", "opt_dag": "opt_dag"}),
]


def _check_boundary(row: Any, rec: dict[str, Any], what: str, rtol: float = RTOL) -> None:
    """One 0 % / 100 % share against the R reference: Korn-Graubard with the Kish n_eff."""
    assert rec["svyciprop_beta_low"] is None and rec["svyciprop_beta_high"] is None  # R itself: NaN
    assert row.estimate == rec["estimate"] and row.se == 0.0, what
    assert row.flag == "boundary_share" and row.ci_method == "beta", what
    assert math.isnan(row.deff) and row.n == rec["n"] and row.df == rec["df"], what
    close(row.ci_low, rec["ci_low"], f"{what} low", rtol)
    close(row.ci_high, rec["ci_high"], f"{what} high", rtol)
    if "binom_low" in rec:  # unweighted: exactly binom.test's Clopper-Pearson interval
        close(row.ci_low, rec["binom_low"], f"{what} binom.test low", rtol)
        close(row.ci_high, rec["binom_high"], f"{what} binom.test high", rtol)


def _boundary_report_key(rec: dict[str, Any]) -> tuple[str, str, str, str]:
    if rec["variable"] == "q_resa":
        return ("q_resa", rec["level"], rec["domain_variable"], rec["domain_value"])
    return ("q_tid", rec["variable"], rec["domain_variable"], rec["domain_value"])


@pytest.mark.parametrize("case", BOUNDARY_CASES)
def test_zero_and_full_shares_get_the_korn_graubard_interval(case: str) -> None:
    """A share of 0 % or 100 % has se = 0, so svyciprop(method = "beta") has no
    effective sample size (NaN); we use Kish's (sum w)^2 / sum w^2 in its formula."""
    data, design, _ = load(case)
    recs = records(case, "boundary")
    assert {r["estimate"] for r in recs} == {0, 1} and len(recs) >= 10
    report = estimate_report(data, design, BOUNDARY_QUESTIONS, by=["district", "gender"]).set_index(
        ["question", "category", "domain_variable", "domain_value"])
    for rec in recs:
        dom, what = domain_of(data, rec), f"{case} {label(rec)}"
        for method in ("logit", "beta", "wald"):
            if rec["variable"] == "q_resa":
                table = survey_proportions(data["q_resa"], design, categories=BOUNDARY_LEVELS, domain=dom,
                                           ci_method=method)  # type: ignore[arg-type]
                row = table.set_index("category").loc[rec["level"]]
                _check_boundary(row, rec, f"{what} {method}")
            elif method != "wald":  # a 0/1 variable's mean asked as a share
                _check_boundary(survey_mean(data[rec["variable"]], design, domain=dom, ci_method=method),
                                rec, f"{what} {method}")
        _check_boundary(report.loc[_boundary_report_key(rec)], rec, f"{what} report")


def test_zero_and_full_shares_with_analysis_weighting_rake_match_r() -> None:
    """The production path: a design from analysis.weighting (cell form), R's raked weights."""
    from analysis.weighting import rake

    data, r_design, _ = load("boundary_rake")
    targets = {"district": pd.Series({"Bingeby": 900.0, "Centrum": 6100.0, "Norr": 4000.0}),
               "gender": pd.Series({"K": 5600.0, "M": 5400.0})}
    result = rake(data, targets, weights="base_weight", tolerance=1e-13, min_cell_size=0)
    np.testing.assert_allclose(result.weights, r_design.weights, rtol=1e-9)
    weighted = estimate_report(data, result.design, BOUNDARY_QUESTIONS, by=["district", "gender"]).set_index(
        ["question", "category", "domain_variable", "domain_value"])
    for rec in records("boundary_rake", "boundary"):
        _check_boundary(weighted.loc[_boundary_report_key(rec)], rec, f"rake {label(rec)}", rtol=1e-8)


def test_a_mean_without_variation_keeps_no_interval() -> None:
    """Only shares get the 0 %/100 % interval: a numeric mean whose answers all agree
    (or a 0/1 variable's mean asked with the Wald interval) still has none."""
    data, design, _ = load("boundary_weights")
    bingeby = (data["district"] == "Bingeby").to_numpy()
    mean = survey_mean(data["opt_dag"], design, domain=bingeby)
    assert mean.estimate == 1.0 and mean.flag == "zero_variance" and math.isnan(mean.ci_low)
    scale = data.assign(q_scale=np.where(bingeby, 4.0, 2.0 + (np.arange(len(data)) % 3)))
    report = estimate_report(scale, design, [Question.numeric("q_scale")], by=["district"]).set_index("domain_value")
    row = report.loc["Bingeby"]
    assert row["estimate"] == 4.0 and row["flag"] == "zero_variance" and math.isnan(row["ci_low"])
    assert row["ci_method"] == "wald"
