"""Weights and calibration-aware standard errors against R's survey package.

The references are made by the R scripts next to their JSON files in
``tests/analysis/reference/`` (``weighting_*.R``, survey 4.1-1; CI has no R,
so the JSON is committed). Each case records the R call, R's weights and the
SEs of ``svymean``/``svytotal``. Here the same weighting is done in Python
and the SEs are computed from ``result.design`` with the one-stage
with-replacement formula that R's ``svyrecvar`` uses for ``ids=~1``::

    mean:  z_i = w_i (y_i - ybar) / sum(w)      total:  z_i = w_i y_i
    r = design.residualize(z)
    var = n / (n - 1) * sum((r_i - rbar)^2)

Weights must agree with R to 1e-8 relative, and so must the SEs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.design import SurveyDesign
from analysis.trimming import trim_weights
from analysis.weighting import Trim, weight

REFERENCE = Path(__file__).parent / "reference"
RTOL = 1e-8


def _load(name: str) -> dict[str, Any]:
    return json.loads((REFERENCE / f"weighting_{name}.json").read_text())


def _target(spec: dict[str, Any] | float) -> pd.Series | float:
    if not isinstance(spec, dict):
        return float(spec)
    if isinstance(spec["variables"], str):
        return pd.Series(spec["counts"], index=pd.Index(spec["labels"], dtype=object), dtype=float)
    return pd.Series(spec["counts"], index=pd.MultiIndex.from_tuples([tuple(x) for x in spec["labels"]]), dtype=float)


def _se(design: SurveyDesign, y: np.ndarray) -> tuple[float, float]:
    w = design.weights
    n = w.size

    def one(z: np.ndarray) -> float:
        r = design.residualize(z[:, None])[:, 0]
        return float(np.sqrt(n / (n - 1) * np.sum((r - r.mean()) ** 2)))

    return one(w * (y - (w @ y) / w.sum()) / w.sum()), one(w * y)


API_RAKE = _load("api_rake")
API_CAL = _load("api_calibrate")
TRIM = _load("trim")
MUNICIPALITY = _load("municipality")


def _api_targets(ref: dict[str, Any]) -> dict[str, Any]:
    return {name: _target(spec) for name, spec in ref["targets"].items()}


def _municipality_targets() -> dict[str, pd.Series]:
    cross = _target(MUNICIPALITY["targets"]["gender_age_district"])
    assert isinstance(cross, pd.Series)
    cross.index.names = ["gender", "age_group", "district"]
    return {
        "cross": cross,
        "gender": cross.groupby(level="gender").sum(),
        "age_group": cross.groupby(level="age_group").sum(),
        "district_gender": cross.groupby(level=["district", "gender"]).sum(),
    }


def _municipality_panel() -> pd.DataFrame:
    panel = pd.DataFrame(MUNICIPALITY["data"]["panel"])
    panel["age_group"] = pd.Categorical(
        panel["age_group"], categories=["16-29", "30-44", "45-64", "65-74", "75+"], ordered=True
    )
    return panel


R = _api_targets(API_RAKE)
C = _api_targets(API_CAL)
P = _api_targets(TRIM)
M = _municipality_targets()
AGE_65_PLUS = {"age_group": [("65-74", "75+")]}
PANEL_TARGETS = {"gender": P["gender"], "age_group": P["age_group"], ("district", "gender"): P["district_gender"]}

# (reference, case, data set, targets, method, options)
CASES: list[tuple[dict[str, Any], str, str, dict[Any, Any], str, dict[str, Any]]] = [
    (API_RAKE, "rake_stype_schwide", "apiclus1", {"stype": R["stype"], "sch.wide": R["sch.wide"]}, "rake", {}),
    (API_RAKE, "rake_twoway_imp", "apiclus1",
     {("stype", "sch.wide"): R["stype_sch.wide"], "comp.imp": R["comp.imp"]}, "rake", {}),
    (API_RAKE, "rake_two_twoways", "apiclus1",
     {("stype", "sch.wide"): R["stype_sch.wide"], ("stype", "comp.imp"): R["stype_comp.imp"]}, "rake", {}),
    (API_RAKE, "calibrate_raking_stype_schwide", "apiclus1",
     {"stype": R["stype"], "sch.wide": R["sch.wide"]}, "raking_ratio", {}),
    (API_RAKE, "strat_rake_schwide_imp", "apistrat",
     {"sch.wide": R["sch.wide_all"], "comp.imp": R["comp.imp_all"]}, "rake", {}),
    (API_CAL, "poststratify_stype", "apiclus1", {"stype": C["stype"]}, "poststratify", {}),
    (API_CAL, "poststratify_stype_schwide", "apiclus1", {("stype", "sch.wide"): C["stype_sch.wide"]},
     "poststratify", {}),
    (API_CAL, "strat_poststratify_schwide_imp", "apistrat", {("sch.wide", "comp.imp"): C["sch.wide_comp.imp"]},
     "poststratify", {}),
    (API_CAL, "linear_stype", "apiclus1", {"stype": C["stype"]}, "linear", {}),
    (API_CAL, "linear_stype_schwide", "apiclus1", {"stype": C["stype"], "sch.wide": C["sch.wide"]}, "linear", {}),
    (API_CAL, "linear_stype_api99", "apiclus1", {"stype": C["stype"], "api99": C["api99"]}, "linear", {}),
    (API_CAL, "truncated_linear_stype_api99", "apiclus1", {"stype": C["stype"], "api99": C["api99"]},
     "truncated_linear", {"bounds": (0.6, 1.6)}),
    (API_CAL, "raking_stype_api99", "apiclus1", {"stype": C["stype"], "api99": C["api99"]}, "raking_ratio", {}),
    (API_CAL, "logit_stype_api99", "apiclus1", {"stype": C["stype"], "api99": C["api99"]}, "logit",
     {"bounds": (0.5, 2.5)}),
    (API_CAL, "logit_stype_schwide", "apiclus1", {"stype": C["stype"], "sch.wide": C["sch.wide"]}, "logit",
     {"bounds": (0.7, 1.7)}),
    (API_CAL, "strat_logit_stype_schwide", "apistrat", {"stype": C["stype"], "sch.wide": C["sch.wide"]}, "logit",
     {"bounds": (0.8, 1.3)}),
    (TRIM, "api_linear_trim", "apiclus1", {"stype": P["stype"], "api99": P["api99"]}, "linear",
     {"trim": Trim(lower=20, upper=45)}),
    (TRIM, "api_linear_trim_strict", "apiclus1", {"stype": P["stype"], "api99": P["api99"]}, "linear",
     {"trim": Trim(lower=20, upper=45, strict=True)}),
    (TRIM, "api_rake_trim", "apiclus1", {"stype": P["stype"], "sch.wide": P["sch.wide"]}, "rake",
     {"trim": Trim(upper=40)}),
    (TRIM, "panel_rake", "panel", PANEL_TARGETS, "rake", {}),
    (TRIM, "panel_rake_trim", "panel", PANEL_TARGETS, "rake", {"trim": Trim(upper=400)}),
    (TRIM, "panel_trim_rerake", "panel", PANEL_TARGETS, "rake",
     {"trim": Trim(upper=400, strict=True, reweight=True)}),
    (MUNICIPALITY, "poststratify_partial", "panel", {("gender", "age_group", "district"): M["cross"]},
     "poststratify", {"partial": True}),
    (MUNICIPALITY, "poststratify_collapsed_partial", "panel", {("gender", "age_group", "district"): M["cross"]},
     "poststratify", {"partial": True, "collapse": AGE_65_PLUS}),
    (MUNICIPALITY, "rake_collapsed", "panel",
     {"gender": M["gender"], "age_group": M["age_group"], ("district", "gender"): M["district_gender"]},
     "rake", {"collapse": AGE_65_PLUS}),
]


def _frame(ref: dict[str, Any], name: str) -> pd.DataFrame:
    if ref is MUNICIPALITY:
        return _municipality_panel()
    return pd.DataFrame(ref["data"][name])


@pytest.mark.parametrize(
    ("ref", "case", "data", "targets", "method", "options"),
    CASES,
    ids=[f"{c[0] is API_RAKE and 'rake' or c[0] is API_CAL and 'cal' or c[0] is TRIM and 'trim' or 'mun'}-{c[1]}"
         for c in CASES],
)
def test_weights_and_standard_errors_match_r(
    ref: dict[str, Any], case: str, data: str, targets: dict[Any, Any], method: str, options: dict[str, Any]
) -> None:
    frame = _frame(ref, data)
    expected = ref["cases"][case]
    base = "pw" if "pw" in frame.columns else None
    result = weight(frame, targets, method, weights=base, tolerance=1e-13, **options)

    np.testing.assert_allclose(result.weights, expected["weights"], rtol=RTOL, atol=0)
    assert result.converged
    if "rounds" in expected:
        assert result.trimming is not None and result.trimming.rounds == expected["rounds"]
    for variable, numbers in expected["estimates"].items():
        y = frame[variable].to_numpy(dtype=float)
        mean_se, total_se = _se(result.design, y)
        w = result.weights
        assert (w @ y) / w.sum() == pytest.approx(numbers["mean"], rel=RTOL)
        assert w @ y == pytest.approx(numbers["total"], rel=RTOL)
        assert mean_se == pytest.approx(numbers["mean_se"], rel=RTOL), f"SE of mean of {variable} ({expected['r']})"
        assert total_se == pytest.approx(numbers["total_se"], rel=RTOL), f"SE of total of {variable}"


def test_trim_weights_matches_r_trimweights_on_weight_vectors() -> None:
    # weights of calibrate(d, ~stype + api99, pop.totals), R's trimWeights example.
    frame = pd.DataFrame(TRIM["data"]["apiclus1"])
    calibrated = weight(frame, {"stype": P["stype"], "api99": P["api99"]}, "linear", weights="pw").weights
    loose = trim_weights(calibrated, lower=20, upper=45)
    strict = trim_weights(calibrated, lower=20, upper=45, strict=True)
    np.testing.assert_allclose(loose.weights, TRIM["cases"]["api_linear_trim"]["weights"], rtol=RTOL)
    np.testing.assert_allclose(strict.weights, TRIM["cases"]["api_linear_trim_strict"]["weights"], rtol=RTOL)
    assert strict.passes > loose.passes == 1
    assert strict.weights.sum() == pytest.approx(calibrated.sum(), rel=1e-12)


def test_reference_scripts_are_committed_next_to_their_output() -> None:
    for ref in ("api_rake", "api_calibrate", "trim", "municipality"):
        assert (REFERENCE / f"weighting_{ref}.R").exists()
        assert _load(ref)["survey_version"] == "4.1.1"
