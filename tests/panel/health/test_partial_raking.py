"""A panel with no members in some age bands is still raked (R's partial=TRUE).

Leaving out the empty bands' population shrinks the age margin only, so its total no
longer matches the gender and district margins; raking refused that, and the health
page showed the weighting library's English error instead of the weighted comparison.
The partial pass scales every margin to the first one's total (align_totals).
"""

from __future__ import annotations

import numpy as np
import pytest

from panel.health.services import panel_health
from tests.panel.health.test_health import BANDS, MEMBERS, NOW, POPULATION, ipf, save_figures, seed

# Nobody aged 16–24 in the panel.
NO_YOUTH = {key: n for key, n in MEMBERS.items() if key[2] != 20}


def test_a_panel_without_members_in_an_age_band_is_raked_over_the_others(session):
    seed(session, NO_YOUTH)
    save_figures(session)
    session.commit()
    health = panel_health(session, now=NOW)
    assert health.weighting_problem is None
    assert health.weighting is not None and health.weighting.partial

    rows = [(g, BANDS[a], d) for (d, g, a), n in NO_YOUTH.items() for _ in range(n)]
    adults = {k: v for k, v in POPULATION.items() if k[2] >= 16}
    gender, age, district = {}, {}, {}
    for (d, g, a), n in adults.items():
        gender[g] = gender.get(g, 0) + n
        district[d] = district.get(d, 0) + n
        if a != 20:
            age[BANDS[a]] = age.get(BANDS[a], 0) + n
    scale = sum(gender.values()) / sum(age.values())  # the age margin, without 16-24, scaled to the same total
    w = ipf(rows, {0: gender, 1: {k: v * scale for k, v in age.items()}, 2: district})
    assert health.weighting.design_effect == pytest.approx(len(w) * (w ** 2).sum() / w.sum() ** 2, rel=1e-6)
    men = np.array([r[0] == "man" for r in rows])
    row = next(r for r in health.comparison("gender").rows if r.keys == ("man",))
    assert row.weighted_share == pytest.approx(w[men].sum() / w.sum(), abs=1e-9)
