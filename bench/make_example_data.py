"""Write the small example files used by the README's worked example and by tests/analysis/test_cli.py.

* ``tests/analysis/data/example_respondents.csv``: 600 synthetic respondents of a
  Gotland panel survey (seeded random draws, no real person): ``id``, ``gender``
  (kvinna, man and a few annan), ``age_group`` (the default bands), ``district``
  (Gotland's 12 RegSO codes), ``design_weight``, a single-choice question ``q1``
  (ja / nej / vet ej, some missing), a 1-5 rating ``q2`` and a multiple-choice
  question ``q3`` as 0/1 columns ``q3_bus``, ``q3_bike``, ``q3_car``.
* ``tests/analysis/data/example_districts.csv``: **invented** population counts for
  the 12 districts by gender (long CSV ``district,gender,population``), made to add
  up exactly to SCB's Gotland population aged 16+ on 2020-12-31 (kvinna 25 362,
  man 24 852), so that they can be combined with the real SCB file.

Run: ``.venv/bin/python bench/make_example_data.py`` (the output is committed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "analysis" / "data"
KEY = ROOT / "panel" / "demo_data" / "gotland_0980_deso2018_regso2020.csv"
BANDS = ("16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")
# SCB, BE0101N1, Gotland 2020-12-31, aged 16+ (the shipped excerpt, default bands)
WOMEN, MEN = 25362, 24852
AGE_POPULATION = np.array([5531, 6876, 6280, 7629, 8206, 8283, 7409], dtype=float)


def main() -> None:
    """Write both files."""
    rng = np.random.default_rng(20260522)
    districts = sorted(pd.read_csv(KEY, dtype=str)["regso_2020_code"].unique())
    # Invented district sizes: one large town district, the rest rural.
    share = rng.gamma(4.0, 1.0, len(districts))
    share[0] *= 4.0
    share /= share.sum()
    total = WOMEN + MEN
    sizes = np.floor(share * total).astype(int)
    sizes[np.argmax(sizes)] += total - sizes.sum()
    women = np.floor(sizes * WOMEN / total).astype(int)
    women[np.argmax(women)] += WOMEN - women.sum()
    men = sizes - women
    rows = [(d, "kvinna", int(w)) for d, w in zip(districts, women, strict=True)]
    rows += [(d, "man", int(m)) for d, m in zip(districts, men, strict=True)]
    OUT.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["district", "gender", "population"]).to_csv(
        OUT / "example_districts.csv", index=False, lineterminator="\n")

    # Respondents: the population, distorted the way panels are (older, more women, town-heavy).
    n = 600
    age_p = AGE_POPULATION * np.array([0.45, 0.7, 0.9, 1.0, 1.25, 1.5, 1.1])
    age = rng.choice(len(BANDS), size=n, p=age_p / age_p.sum())
    gender = np.where(rng.random(n) < 0.57, "kvinna", "man").astype(object)
    gender[rng.choice(n, size=4, replace=False)] = "annan"
    district_p = share * np.where(np.arange(len(districts)) == 0, 1.4, 1.0)
    district = rng.choice(len(districts), size=n, p=district_p / district_p.sum())
    design_weight = np.where(district == 0, 1.0, 1.5)
    # Answers depend on age and district, so weighting moves them.
    p_yes = 0.35 + 0.05 * age - 0.1 * (district == 0)
    u = rng.random(n)
    q1 = np.where(u < p_yes, "ja", np.where(u < p_yes + 0.25, "vet ej", "nej")).astype(object)
    q1[rng.random(n) < 0.04] = None
    q2 = np.clip(np.round(2.2 + 0.3 * age + rng.normal(0, 1.0, n)), 1, 5).astype(object)
    q2[rng.random(n) < 0.06] = None
    bus = (rng.random(n) < 0.2 + 0.25 * (district == 0)).astype(object)
    bike = (rng.random(n) < 0.45 - 0.05 * age).astype(object)
    car = (rng.random(n) < 0.5 + 0.2 * (district != 0)).astype(object)
    skipped = rng.random(n) < 0.05
    for column in (bus, bike, car):
        column[skipped] = None
    frame = pd.DataFrame({
        "id": [f"r{i:04d}" for i in range(1, n + 1)],
        "gender": gender,
        "age_group": [BANDS[a] for a in age],
        "district": [districts[d] for d in district],
        "design_weight": design_weight,
        "q1": q1,
        "q2": pd.array(q2, dtype="Int64"),
        "q3_bus": pd.array(bus, dtype="Int64"),
        "q3_bike": pd.array(bike, dtype="Int64"),
        "q3_car": pd.array(car, dtype="Int64"),
    })
    frame.to_csv(OUT / "example_respondents.csv", index=False, lineterminator="\n")
    print(f"wrote {OUT / 'example_respondents.csv'} and {OUT / 'example_districts.csv'}")


if __name__ == "__main__":
    main()
