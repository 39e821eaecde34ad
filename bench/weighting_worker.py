"""One benchmark measurement in a fresh process: ``python weighting_worker.py LIB DATA.npz MODE [N]``.

Run by :mod:`bench.weighting` with the interpreter of the library's own venv
(the project venv for ``analysis`` and ``numpy-cell``, ``bench/.venv-bench`` for
weightipy, ``bench/.venv-balance`` for balance). Prints one JSON line.

Modes:

``time``    raking at every size in the data file: the first call, then repeated
            calls until ~2 s or 15 repeats (at least 3) have run; min and median.
``memory``  one call at the largest size after a warm-up call on 1,000 rows: the
            peak resident set size (VmHWM, reset through /proc/self/clear_refs
            just before the call) minus the RSS before it, and the absolute peak.
``estimate``, ``report`` (analysis only): the weighted mean with its
            calibration-aware SE at the largest size, and the 40-question
            report on 100k rows; estimates are written for comparison with R.

The data file holds int8 codes ``gender`` (2), ``age`` (7), ``district`` (12)
for the largest n (smaller sizes use the first n rows), the population
``population`` (2 x 7 x 12) and, for the estimate modes, ``y`` and ``answers``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

GENDERS = ("kvinna", "man")
AGES = ("16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")
DISTRICTS = tuple(f"D{d:02d}" for d in range(1, 13))
TOLERANCE = 1e-6


def status_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS, VmHWM)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def max_margin_error(weights: np.ndarray, g: np.ndarray, a: np.ndarray, d: np.ndarray,
                     population: np.ndarray) -> float:
    """Largest relative error of the three one-way margins."""
    errors = []
    for codes, target in ((g, population.sum(axis=(1, 2))), (a, population.sum(axis=(0, 2))),
                          (d, population.sum(axis=(0, 1)))):
        got = np.bincount(codes, weights=weights, minlength=target.size)
        errors.append(np.max(np.abs(got - target) / target))
    return float(max(errors))


# --------------------------------------------------------------------------- the libraries


def numpy_cell(g: np.ndarray, a: np.ndarray, d: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Reference: IPF on the 2 x 7 x 12 cell table, weights mapped back with one gather."""
    cell = g.astype(np.int32)
    cell *= 7
    cell += a
    cell *= 12
    cell += d
    counts = np.bincount(cell, minlength=168).astype(float)
    table = counts.reshape(2, 7, 12).copy()
    tg, ta, td = population.sum(axis=(1, 2)), population.sum(axis=(0, 2)), population.sum(axis=(0, 1))
    for _ in range(1000):
        table *= (tg / table.sum(axis=(1, 2)))[:, None, None]
        table *= (ta / table.sum(axis=(0, 2)))[None, :, None]
        table *= (td / table.sum(axis=(0, 1)))[None, None, :]
        error = max(np.max(np.abs(table.sum(axis=(1, 2)) - tg) / tg),
                    np.max(np.abs(table.sum(axis=(0, 2)) - ta) / ta))  # district holds exactly
        if error <= TOLERANCE:
            break
    ratio = np.divide(table.ravel(), counts, out=np.zeros(168), where=counts > 0)
    return ratio[cell]


def setup(lib: str, g: np.ndarray, a: np.ndarray, d: np.ndarray,
          population: np.ndarray) -> Callable[[], np.ndarray]:
    """A no-argument function that rakes the given rows with ``lib`` and returns the weights."""
    if lib == "numpy-cell":
        return lambda: numpy_cell(g, a, d, population)
    if lib in ("analysis", "analysis-strings"):
        import pandas as pd

        from analysis import rake

        def column(codes: np.ndarray, labels: tuple[str, ...]) -> Any:
            cat = pd.Categorical.from_codes(codes, categories=list(labels))
            return cat if lib == "analysis" else np.asarray(labels, dtype=object)[codes]

        frame = pd.DataFrame({"gender": column(g, GENDERS), "age_group": column(a, AGES),
                              "district": column(d, DISTRICTS)})
        targets = {
            "gender": pd.Series(population.sum(axis=(1, 2)), index=list(GENDERS)),
            "age_group": pd.Series(population.sum(axis=(0, 2)), index=list(AGES)),
            "district": pd.Series(population.sum(axis=(0, 1)), index=list(DISTRICTS)),
        }
        return lambda: rake(frame, targets, tolerance=TOLERANCE, summary_by=None).weights
    if lib == "weightipy":
        import pandas as pd
        import weightipy as wp

        frame = pd.DataFrame({"gender": g.astype(np.int64), "age_group": a.astype(np.int64),
                              "district": d.astype(np.int64)})
        total = population.sum()
        scheme_dict = {
            "gender": {i: 100 * float(v) / total for i, v in enumerate(population.sum(axis=(1, 2)))},
            "age_group": {i: 100 * float(v) / total for i, v in enumerate(population.sum(axis=(0, 2)))},
            "district": {i: 100 * float(v) / total for i, v in enumerate(population.sum(axis=(0, 1)))},
        }
        scheme = wp.scheme_from_dict(scheme_dict)
        return lambda: wp.weight(frame, scheme).to_numpy(dtype=float) * total / len(frame)
    if lib == "balance":
        import pandas as pd
        from balance.weighting_methods.rake import rake as balance_rake

        sample = pd.DataFrame({"gender": np.asarray(GENDERS, dtype=object)[g],
                               "age_group": np.asarray(AGES, dtype=object)[a],
                               "district": np.asarray(DISTRICTS, dtype=object)[d]})
        gi, ai, di = np.meshgrid(np.arange(2), np.arange(7), np.arange(12), indexing="ij")
        target = pd.DataFrame({"gender": np.asarray(GENDERS, dtype=object)[gi.ravel()],
                               "age_group": np.asarray(AGES, dtype=object)[ai.ravel()],
                               "district": np.asarray(DISTRICTS, dtype=object)[di.ravel()]})
        target_weights = pd.Series(population.ravel().astype(float))
        sample_weights = pd.Series(np.ones(len(sample)))

        def run() -> np.ndarray:
            out = balance_rake(sample, sample_weights, target, target_weights,
                               variables=["gender", "age_group", "district"], transformations=None,
                               convergence_rate=TOLERANCE, max_iteration=1000)
            return out["weight"].to_numpy(dtype=float)

        return run
    raise SystemExit(f"unknown library {lib!r}")


def timed(function: Callable[[], Any], budget: float = 2.0, max_repeats: int = 15,
          min_repeats: int = 3) -> tuple[float, list[float], Any, list[float]]:
    """First-call wall time, repeated wall times, the last result, and the repeats' CPU times (s)."""
    start = time.perf_counter()
    result = function()
    first = time.perf_counter() - start
    times: list[float] = []
    cpu: list[float] = []
    spent = 0.0
    while len(times) < min_repeats or (spent < budget and len(times) < max_repeats):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        elapsed = time.perf_counter() - start
        cpu.append(time.process_time() - start_cpu)
        times.append(elapsed)
        spent += elapsed
    return first, times, result, cpu


def main() -> None:
    """Parse argv, measure, print one JSON line."""
    lib, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    data = np.load(path)
    g_all, a_all, d_all, population = data["gender"], data["age"], data["district"], data["population"]
    sizes = [int(n) for n in sys.argv[4].split(",")] if len(sys.argv) > 4 else [g_all.size]
    out: dict[str, Any] = {"lib": lib, "mode": mode, "results": []}
    if mode == "time":
        for n in sizes:
            g, a, d = g_all[:n], a_all[:n], d_all[:n]
            function = setup(lib, g, a, d, population)
            first, times, weights, cpu = timed(function)
            out["results"].append({
                "n": n, "first": first, "min": min(times), "median": float(np.median(times)),
                "min_cpu": min(cpu), "median_cpu": float(np.median(cpu)),
                "repeats": len(times), "max_margin_error": max_margin_error(weights, g, a, d, population),
                "weights_head": [float(w) for w in weights[:5]],
            })
    elif mode == "memory":
        n = sizes[-1]
        warm = setup(lib, g_all[:1000], a_all[:1000], d_all[:1000], population)
        warm()
        function = setup(lib, g_all[:n], a_all[:n], d_all[:n], population)
        del warm
        gc.collect()
        before = status_kb("VmRSS")
        can_reset = reset_peak()
        weights = function()
        peak = status_kb("VmHWM")
        out["results"].append({
            "n": n, "rss_before_mb": before / 1024, "peak_mb": peak / 1024,
            "increment_mb": (peak - before) / 1024 if can_reset else None, "reset_worked": can_reset,
            "weights": int(weights.size),
        })
    elif mode in ("estimate", "report"):
        out["results"].append(estimates(mode, data, sizes[-1]))
    print(json.dumps(out))


def estimates(mode: str, data: Any, n: int) -> dict[str, Any]:
    """Time this package's weighted mean (``estimate``) or 40-question report (``report``)."""
    import pandas as pd

    from analysis import rake
    from analysis.estimates import Question, estimate_report, survey_mean

    g, a, d, population = data["gender"][:n], data["age"][:n], data["district"][:n], data["population"]
    frame = pd.DataFrame({"gender": pd.Categorical.from_codes(g, list(GENDERS)),
                          "age_group": pd.Categorical.from_codes(a, list(AGES)),
                          "district": pd.Categorical.from_codes(d, list(DISTRICTS))})
    targets = {
        "gender": pd.Series(population.sum(axis=(1, 2)), index=list(GENDERS)),
        "age_group": pd.Series(population.sum(axis=(0, 2)), index=list(AGES)),
        "district": pd.Series(population.sum(axis=(0, 1)), index=list(DISTRICTS)),
    }
    result = rake(frame, targets, tolerance=1e-9, summary_by=None)
    if mode == "estimate":
        y = data["y"][:n].astype(float)
        first, times, estimate, cpu = timed(lambda: survey_mean(y, result.design))
        return {"n": n, "first": first, "min": min(times), "median": float(np.median(times)),
                "min_cpu": min(cpu), "median_cpu": float(np.median(cpu)),
                "repeats": len(times), "estimate": estimate.estimate, "se": estimate.se}
    answers = data["answers"][:n]  # the answers exist for the report's rows only
    labels = ["a", "b", "c", "d"]
    columns = {f"q{j + 1}": pd.Categorical.from_codes(answers[:, j], labels) for j in range(answers.shape[1])}
    report_frame = pd.concat([frame, pd.DataFrame(columns)], axis=1)
    questions = [Question.single_choice(name, categories=labels) for name in columns]
    by = ["district", "gender", "age_group"]
    first, times, report, cpu = timed(
        lambda: estimate_report(report_frame, result.design, questions, by=by, proportion_ci="wald"),
        budget=4.0, max_repeats=5)
    q1 = report[report["question"] == "q1"]
    return {"n": n, "questions": len(questions), "estimates": len(report), "first": first, "min": min(times),
            "median": float(np.median(times)), "repeats": len(times), "min_cpu": min(cpu),
            "median_cpu": float(np.median(cpu)),
            "q1": q1[["category", "domain_variable", "domain_value", "estimate", "se"]].to_dict("records")}


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
