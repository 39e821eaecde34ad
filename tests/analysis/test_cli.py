"""``python -m analysis``: every subcommand's outputs and exit codes, bad input included.

Most tests call :func:`analysis.cli.main` in-process (fast); a few run the real
``python -m analysis`` in a subprocess to check the exit status and that no
traceback reaches the user. The README's worked example is run as written.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.estimates import Question, estimate_report
from analysis.targets import DEFAULT_AGE_BANDS, read_population
from analysis.weighting import Trim, weight

ROOT = Path(__file__).resolve().parents[2]
SCB = ROOT / "panel" / "demo_data" / "BE0101N1_20210513-223812_SE214-excerpt.csv"
DATA = Path(__file__).resolve().parent / "data"
RESPONDENTS = DATA / "example_respondents.csv"
DISTRICTS = DATA / "example_districts.csv"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``main(argv)`` → (status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def respondents() -> pd.DataFrame:
    return pd.read_csv(RESPONDENTS, dtype=str, keep_default_na=False, na_values=[""])


def scb_targets() -> dict:
    table = read_population(SCB).with_age_bands(DEFAULT_AGE_BANDS)
    return {"gender": table.margin("gender").astype(float), "age_group": table.margin("age_group").astype(float)}


def full_targets() -> dict:
    table = read_population(SCB).with_age_bands(DEFAULT_AGE_BANDS)
    districts = read_population(DISTRICTS)
    return {
        ("district", "gender"): districts.margin(("district", "gender")).astype(float),
        "age_group": table.margin("age_group").astype(float),
    }


def assert_clean_error(status: int, err: str, *fragments: str) -> None:
    assert status == 2
    assert "Traceback" not in err
    assert ": error: " in err
    for fragment in fragments:
        assert fragment in err, err


# --------------------------------------------------------------------------- targets


def test_targets_prints_margins_notes_and_reference_date(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "targets", SCB)
    assert status == 0, err
    assert "reference date: 2020-12-31" in out
    assert "total: 50214" in out
    assert re.search(r"kvinna\s+25362", out) and re.search(r"man\s+24852", out)
    assert re.search(r"75\+\s+7409", out)
    assert "summed over civilstånd" in out and "left out 9910 persons" in out


def test_targets_json_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "targets", SCB, "--margins", "gender*age_group,gender", "--format", "json",
                         "--out", tmp_path / "t.json")
    assert status == 0, err
    data = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert data["total"] == 50214 and data["reference_date"] == "2020-12-31"
    cross = data["margins"]["gender × age_group"]
    assert len(cross) == 14 and cross[0] == {"gender": "kvinna", "age_group": "16-24", "population": 2550}
    assert sum(c["population"] for c in data["margins"]["gender"]) == 50214

    status, out, err = run(capsys, "targets", SCB, "--age-bands", "16-64,65+", "--margins", "age_group",
                           "--format", "csv")
    assert status == 0, err
    frame = pd.read_csv(pd.io.common.StringIO(out), dtype=str)
    assert frame["age_group"].tolist() == ["16-64", "65+"]
    assert frame["population"].astype(int).sum() == 50214


def test_targets_several_periods_need_period(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two_years.csv"
    path.write_text("period,gender,population\n2024,kvinna,10\n2024,man,12\n2025,kvinna,11\n2025,man,12\n",
                    encoding="utf-8")
    status, _, err = run(capsys, "targets", path)
    assert_clean_error(status, err, "2 periods", "--period")
    status, out, err = run(capsys, "targets", path, "--period", "2025", "--format", "json")
    assert status == 0, err
    assert json.loads(out)["total"] == 23
    status, _, err = run(capsys, "targets", path, "--period", "2030")
    assert_clean_error(status, err, "2030", "two_years.csv")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("district,population\nNorra,12\nNorra,5\n", "line"),
        ("district,population\nNorra,-3\n", "negative"),
        ("district,population\nNorra,tolv\n", "tolv"),
        ("just one column\n", "only one column"),
    ],
)
def test_targets_bad_files_name_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            content: str, fragment: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    status, out, err = run(capsys, "targets", path)
    assert_clean_error(status, err, "bad.csv", fragment)
    assert out == ""


def test_targets_missing_file_and_bad_age_bands(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "targets", "no/such/file.csv")
    assert_clean_error(status, err, "no/such/file.csv", "no such population file")
    status, _, err = run(capsys, "targets", SCB, "--age-bands", "16-24,20-30")
    assert_clean_error(status, err, "--age-bands")


# --------------------------------------------------------------------------- weight


def test_weight_rake_matches_the_library_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "weights.csv", tmp_path / "report.json"
    status, stdout, err = run(capsys, "weight", RESPONDENTS, SCB, DISTRICTS, "--vars", "gender,age_group,district",
                              "--margins", "district*gender", "--out", out, "--report", report)
    assert status == 0, err
    assert stdout == ""
    assert "rake converged" in err and "effective n" in err
    weights = pd.read_csv(out, dtype={"id": str})
    assert weights.columns.tolist() == ["id", "weight"]
    frame = respondents()
    assert weights["id"].tolist() == frame["id"].tolist()
    expected = weight(frame, full_targets(), "rake", summary_by="district").weights
    np.testing.assert_allclose(weights["weight"].to_numpy(), expected, rtol=1e-12)
    assert weights["weight"].sum() == pytest.approx(50214, rel=1e-10)

    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["converged"] is True and data["method"] == "rake"
    assert data["max_relative_error"] <= 1e-10
    assert [m["margin"] for m in data["margins"]] == ["district × gender", "age_group"]
    age = {c["age_group"]: c for c in data["margins"][1]["cells"]}
    assert age["75+"]["target"] == 7409 and age["75+"]["achieved"] == pytest.approx(7409, rel=1e-9)
    assert data["margins"][1]["source"]["reference_date"] == "2020-12-31"
    assert data["uncovered_counts"] == {"gender": {"annan": 4}}
    assert {"all", "0980R001"} <= set(data["weights"])
    assert data["weights"]["all"]["deff"] == pytest.approx(data["design_effect"])
    assert any(v["kind"] == "tiny_cell" for v in data["validation"])
    assert "warning: margin 'district × gender'" in err


@pytest.mark.parametrize(
    ("method", "extra"),
    [("poststratify", []), ("linear", []), ("raking_ratio", []), ("logit", ["--bounds", "0.2,5"]),
     ("truncated_linear", ["--bounds", "0.2,5"])],
)
def test_weight_methods_match_the_library(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          method: str, extra: list[str]) -> None:
    out = tmp_path / "w.json"
    status, _, err = run(capsys, "weight", RESPONDENTS, SCB, "--vars", "gender,age_group", "--method", method,
                         *extra, "--out", out)
    assert status == 0, err
    records = json.loads(out.read_text(encoding="utf-8"))
    assert records[0].keys() == {"id", "weight"}
    targets = scb_targets()
    if method == "poststratify":
        table = read_population(SCB).with_age_bands(DEFAULT_AGE_BANDS)
        targets = {("gender", "age_group"): table.margin(("gender", "age_group")).astype(float)}
    bounds = (0.2, 5.0) if extra else None
    expected = weight(respondents(), targets, method, bounds=bounds).weights
    np.testing.assert_allclose([r["weight"] for r in records], expected, rtol=1e-12)


def test_weight_design_weights_trimming_and_sample_scale(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "w.csv", tmp_path / "r.json"
    status, _, err = run(capsys, "weight", RESPONDENTS, SCB, "--vars", "gender,age_group",
                         "--design-weight", "design_weight", "--trim-upper", "3.5", "--trim-relative-to", "mean",
                         "--reweight", "--scale", "sample", "--out", out, "--report", report)
    assert status == 0, err
    got = pd.read_csv(out)["weight"].to_numpy()
    frame = respondents()
    expected = weight(frame, scb_targets(), "rake", weights=frame["design_weight"].astype(float).to_numpy(),
                      trim=Trim(upper=3.5, relative_to="mean", reweight=True), scale="sample").weights
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got.sum() == pytest.approx(len(frame))
    assert got.max() <= 3.5 * got.mean() * (1 + 1e-6)
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["trimming"]["reweight"] is True and data["trimming"]["within_bounds"] is True
    assert data["options"]["design_weight"] == "column"


def test_weight_derives_age_bands_from_age(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "resp.csv"
    path.write_text("id;gender;age\n1;kvinna;17\n2;man;40\n3;kvinna;70\n4;man;80\n5;man;20\n6;kvinna;50\n",
                    encoding="utf-8")
    out = tmp_path / "w.csv"
    status, _, err = run(capsys, "weight", path, SCB, "--vars", "gender,age_group", "--age-bands", "16-44,45+",
                         "--out", out)
    assert status == 0, err
    assert pd.read_csv(out)["weight"].sum() == pytest.approx(50214)


def test_weight_drop_unmatched_gives_zero_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "w.csv", tmp_path / "r.json"
    status, _, err = run(capsys, "weight", RESPONDENTS, SCB, "--vars", "gender,age_group", "--uncovered", "none",
                         "--drop-unmatched", "--out", out, "--report", report)
    assert status == 0, err
    weights = pd.read_csv(out, dtype={"id": str})
    annan = respondents()["gender"].eq("annan").to_numpy()
    assert (weights["weight"].to_numpy()[annan] == 0).all() and (weights["weight"].to_numpy()[~annan] > 0).all()
    assert sorted(json.loads(report.read_text())["dropped_ids"]) == sorted(weights["id"][annan])
    assert "4 respondents were dropped" in err


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--vars", "gender,age_group,district"], ["no population file has the margin 'district'",
                                                   "--regions-as-districts"]),
        (["--vars", "gender,age_group", "--uncovered", "none"], ["'annan'", "--drop-unmatched", "--uncovered"]),
        (["--vars", "gender,agegroup"], ["no column 'agegroup'"]),
        (["--vars", "gender", "--method", "logit"], ["--bounds L,U"]),
        (["--vars", "gender", "--method", "linear", "--bounds", "0.5,2"], ["takes no bounds", "--trim-upper"]),
        (["--vars", "gender", "--method", "logit", "--bounds", "0.5"], ["--bounds: give two numbers"]),
        (["--vars", "gender,age_group", "--method", "logit", "--bounds", "0.9,1.1"], ["cannot reach",
                                                                                     "widen the bounds"]),
        (["--vars", "gender", "--design-weight", "q1"], ["'q1' must be numbers", "id r0001"]),
        (["--vars", "gender", "--design-weight", "nope"], ["--design-weight names 'nope'"]),
        (["--vars", "gender", "--reweight"], ["--reweight and --trim-strict need --trim-upper"]),
        (["--vars", "gender", "--collapse", "age_group"], ["--collapse: 'age_group' is not VARIABLE=CATEGORY|"]),
        (["--vars", "gender", "--margins", "district**gender"], ["--margins: 'district**gender'"]),
        (["--vars", "gender,,age_group"], ["--vars", "empty name"]),
        (["--vars", "gender", "--tolerance", "2"], ["tolerance must be"]),
        (["--vars", "gender,age_group", "--max-iterations", "1", "--tolerance", "1e-14"],
         ["did not converge", "--on-nonconvergence warn", "--max-iterations"]),
        ([], ["name the weighting variables with --vars"]),
    ],
)
def test_weight_bad_input_exits_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 argv: list[str], fragments: list[str]) -> None:
    out = tmp_path / "w.csv"
    status, _, err = run(capsys, "weight", RESPONDENTS, SCB, *argv, "--out", out)
    assert_clean_error(status, err, *fragments)
    assert not out.exists()


def test_weight_nonconvergence_can_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w.csv"
    status, _, err = run(capsys, "weight", RESPONDENTS, SCB, DISTRICTS, "--vars", "gender,age_group,district",
                         "--max-iterations", "1", "--on-nonconvergence", "warn", "--out", out)
    assert status == 0
    assert "warning: rake did not converge" in err and "did NOT converge" in err
    assert out.exists()


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("", ["the file is empty"]),
        ("gender,age_group\nkvinna,16-24\n", ["no 'id' column", "header"]),
        ("id,gender,age_group\n", ["no respondents"]),
        ("id,gender,age_group\n1,kvinna,16-24\n1,man,25-34\n", ["the ids 1 appear more than once"]),
        ("id,gender,age_group\n1,kvinna,16-24\n,man,25-34\n", ["line 3", "empty"]),
        ("id,gender,gender\n1,kvinna,man\n", ["more than once"]),
        ("id,gender,age_group\n1,kvinna,16-24\n2,man,25-34\n", ["no respondents in", "--partial"]),
    ],
)
def test_weight_bad_respondents_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                     fragments: list[str]) -> None:
    path = tmp_path / "resp.csv"
    path.write_text(content, encoding="utf-8")
    status, _, err = run(capsys, "weight", path, SCB, "--vars", "gender,age_group", "--out", tmp_path / "w.csv")
    assert_clean_error(status, err, *fragments)


def test_weight_missing_files_and_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "weight", tmp_path / "none.csv", SCB, "--vars", "gender", "--out", tmp_path / "w")
    assert_clean_error(status, err, "none.csv", "no such respondents file")
    status, _, err = run(capsys, "weight", RESPONDENTS, tmp_path / "pop.csv", "--vars", "gender",
                         "--out", tmp_path / "w")
    assert_clean_error(status, err, "pop.csv", "no such population file")
    status, _, err = run(capsys, "weight", RESPONDENTS, SCB, "--vars", "gender,age_group",
                         "--out", tmp_path / "missing" / "w.csv")
    assert_clean_error(status, err, "does not exist")


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "weight", RESPONDENTS, SCB, "--vars", "gender", "--out", "w.csv",
                         "--method", "magic")
    assert status == 2 and "invalid choice: 'magic'" in err
    status, _, err = run(capsys, "weight", RESPONDENTS, SCB, "--vars", "gender")
    assert status == 2 and "--out" in err
    status, _, err = run(capsys)
    assert status == 2 and "usage:" in err
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "representativeness" in out


# --------------------------------------------------------------------------- estimate


def test_estimate_inline_weighting_gives_calibration_aware_estimates(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "estimates.csv"
    status, _, err = run(capsys, "estimate", RESPONDENTS, "--targets", SCB, DISTRICTS,
                         "--vars", "gender,age_group,district", "--margins", "district*gender",
                         "--questions", "q1", "--numeric", "q2", "--multiple", "q3=q3_bus,q3_bike,q3_car",
                         "--by", "district,gender", "--ci", "beta", "--out", out)
    assert status == 0, err
    got = pd.read_csv(out, dtype={"domain_value": str, "category": str}, keep_default_na=False,
                      na_values=[""])
    frame = respondents()
    result = weight(frame, full_targets(), "rake", summary_by="district")
    data = frame.copy()
    for column in ("q2", "q3_bus", "q3_bike", "q3_car"):
        data[column] = pd.to_numeric(data[column])
    expected = estimate_report(
        data, result.design,
        [Question.single_choice("q1", categories=["ja", "nej", "vet ej"]), Question.numeric("q2"),
         Question.multiple_choice("q3", ["q3_bus", "q3_bike", "q3_car"])],
        by=["district", "gender"], proportion_ci="beta")
    assert list(got.columns) == list(expected.columns)
    assert got[["question", "category", "domain_value"]].astype(str).values.tolist() == \
        expected[["question", "category", "domain_value"]].astype(str).values.tolist()
    for column in ("estimate", "se", "ci_low", "ci_high", "deff", "weighted_n"):
        np.testing.assert_allclose(got[column].to_numpy(dtype=float), expected[column].to_numpy(dtype=float),
                                   rtol=1e-12, equal_nan=True)
    overall = got[(got["question"] == "q2") & (got["domain_value"] == "(all)")].iloc[0]
    assert 1 <= overall["estimate"] <= 5 and overall["se"] > 0


def test_estimate_from_a_weights_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "w.csv"
    assert run(capsys, "weight", RESPONDENTS, SCB, "--vars", "gender,age_group", "--out", weights)[0] == 0
    status, out, err = run(capsys, "estimate", RESPONDENTS, "--weights", weights, "--questions", "q1",
                           "--format", "json")
    assert status == 0, err
    assert "carry no calibration information" in err
    rows = json.loads(out)
    ja = next(r for r in rows if r["category"] == "ja" and r["domain_value"] == "(all)")
    w = pd.read_csv(weights)["weight"].to_numpy()
    answers = respondents()["q1"]
    answered = answers.notna().to_numpy()
    assert ja["estimate"] == pytest.approx(w[(answers == "ja").to_numpy()].sum() / w[answered].sum(), rel=1e-12)
    assert ja["ci_method"] == "logit" and ja["ci_low"] < ja["estimate"] < ja["ci_high"]


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--questions", "q1"], ["give either --weights FILE"]),
        (["--weights", "W", "--targets", str(SCB), "--questions", "q1"], ["give either --weights FILE"]),
        (["--weights", "W", "--questions", "q9"], ["--questions names 'q9'"]),
        (["--weights", "W", "--numeric", "q1"], ["answer column 'q1' must be numbers", "id r0001"]),
        (["--weights", "W"], ["name the questions"]),
        (["--weights", "W", "--multiple", "q3"], ["--multiple: 'q3' is not NAME=COLUMN"]),
        (["--weights", "W", "--questions", "q1", "--by", "kommun"], ["no column 'kommun'"]),
        (["--weights", "W", "--questions", "q1", "--alpha", "1.5"], ["alpha must be between 0 and 1"]),
        (["--weights", "W", "--questions", "q1", "--vars", "gender"], ["need --targets, not --weights"]),
    ],
)
def test_estimate_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
                            fragments: list[str]) -> None:
    weights = tmp_path / "w.csv"
    assert run(capsys, "weight", RESPONDENTS, SCB, "--vars", "gender,age_group", "--out", weights)[0] == 0
    argv = [str(weights) if a == "W" else a for a in argv]
    status, _, err = run(capsys, "estimate", RESPONDENTS, *argv)
    assert_clean_error(status, err, *fragments)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("id,weight\nr0001,1\n", "no weight for 599 respondents"),
        ("id,vikt\nr0001,1\n", "no 'weight' column"),
    ],
)
def test_estimate_bad_weights_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                   fragment: str) -> None:
    path = tmp_path / "w.csv"
    path.write_text(content, encoding="utf-8")
    status, _, err = run(capsys, "estimate", RESPONDENTS, "--weights", path, "--questions", "q1")
    assert_clean_error(status, err, "w.csv", fragment)


def test_estimate_weights_file_with_extra_or_bad_weights(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    ids = respondents()["id"].tolist()
    path = tmp_path / "w.csv"
    path.write_text("id,weight\n" + "".join(f"{i},1\n" for i in ids) + "x9999,1\n", encoding="utf-8")
    status, _, err = run(capsys, "estimate", RESPONDENTS, "--weights", path, "--questions", "q1")
    assert_clean_error(status, err, "not among the respondents")
    path.write_text("id,weight\n" + "".join(f"{i},{'-1' if i == ids[0] else '1'}\n" for i in ids), encoding="utf-8")
    status, _, err = run(capsys, "estimate", RESPONDENTS, "--weights", path, "--questions", "q1")
    assert_clean_error(status, err, "must not be negative")


# --------------------------------------------------------------------------- representativeness


def test_representativeness_summary_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "w.csv"
    assert run(capsys, "weight", RESPONDENTS, SCB, DISTRICTS, "--vars", "gender,age_group,district",
               "--out", weights)[0] == 0
    out = tmp_path / "rep.json"
    status, stdout, err = run(capsys, "representativeness", RESPONDENTS, SCB, DISTRICTS,
                              "--vars", "gender,age_group,district", "--margins", "gender*age_group",
                              "--weights", weights, "--out", out)
    assert status == 0, err
    assert "dissimilarity" in stdout and "gender × age_group" in stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    summary = {s["variable"]: s for s in data["summary"]}
    assert summary["gender"]["n_excluded"] == 4  # annan has no population figure
    assert summary["age_group"]["dof"] == 6 and 0 <= summary["age_group"]["p_value"] < 0.05
    assert summary["age_group"]["weighted_dissimilarity"] == pytest.approx(0, abs=1e-9)
    age = [r for r in data["table"] if r["variable"] == "age_group"]
    assert sum(r["count"] for r in age) == 600
    assert sum(r["expected"] for r in age) == pytest.approx(600)

    status, stdout, err = run(capsys, "representativeness", RESPONDENTS, SCB, "--vars", "age_group",
                              "--out", tmp_path / "rep.csv")
    assert status == 0, err
    table = pd.read_csv(tmp_path / "rep.csv")
    assert table["difference_pp"].abs().max() > 1 and "weighted_dissimilarity" not in stdout


def test_representativeness_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "representativeness", RESPONDENTS, SCB)
    assert_clean_error(status, err, "--vars")
    status, _, err = run(capsys, "representativeness", RESPONDENTS, SCB, "--vars", "district")
    assert_clean_error(status, err, "no population file has the margin 'district'")


# --------------------------------------------------------------------------- the real command


def test_python_m_analysis_exit_codes() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bad = subprocess.run([sys.executable, "-m", "analysis", "weight", str(RESPONDENTS), str(SCB),
                          "--vars", "gender,kommun", "--out", os.devnull],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert bad.returncode == 2
    assert "python -m analysis weight: error:" in bad.stderr and "'kommun'" in bad.stderr
    assert "Traceback" not in bad.stderr
    good = subprocess.run([sys.executable, "-m", "analysis", "targets", str(SCB), "--format", "json"],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["total"] == 50214


def readme_example() -> list[str]:
    """The commands of the README's worked example (the ```sh block marked as the example)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("<!-- analysis:start -->", 1)[1].split("<!-- analysis:end -->", 1)[0]
    block = section.split("<!-- example:start -->", 1)[1].split("<!-- example:end -->", 1)[0]
    code = block.split("```sh", 1)[1].split("```", 1)[0]
    commands, current = [], ""
    for line in code.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            commands.append(current)
            current = ""
    return commands


def test_readme_worked_example_runs_from_a_fresh_clone(tmp_path: Path) -> None:
    """Copy only the files a fresh clone has (no ../shared) and run the README's commands."""
    for source in (SCB, RESPONDENTS, DISTRICTS):
        target = tmp_path / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands = readme_example()
    assert len(commands) >= 4
    for command in commands:
        argv = shlex.split(command)
        assert argv[:3] == [".venv/bin/python", "-m", "analysis"], command
        done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True, env=env,
                              cwd=tmp_path, check=False)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
    assert (tmp_path / "weights.csv").exists() and (tmp_path / "estimates.csv").exists()
