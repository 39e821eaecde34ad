"""Ids in paths beyond what the database's INTEGER holds are addresses that cannot exist.

Flask's ``<int:…>`` takes any number of digits; used as a key, 2**63 made SQLite's driver
raise OverflowError and 2**31 made PostgreSQL refuse the parameter: a 500 on every page
with an id. panel.web bounds the converter, so they are 404 like any unknown id.
"""

from __future__ import annotations

import re

import pytest


_INT = re.compile(r"<int:(\w+)>")


@pytest.mark.parametrize("number", [2**31, 2**63 + 5])
def test_every_path_with_a_too_large_id_is_not_found(app, clients, number):
    rules = [rule for rule in app.url_map.iter_rules() if _INT.search(rule.rule)]
    assert len(rules) > 20  # surveys, publication, population, districts, waves, outbox
    for rule in rules:
        path = _INT.sub(str(number), rule.rule)
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "x", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for role in ("admin", "anonymous"):
                response = clients[role].open(path, method=method)
                assert response.status_code < 500, (role, method, path, response.status_code)
                if method == "GET" and role == "admin":
                    assert response.status_code == 404, (path, response.status_code)


def test_an_id_inside_the_range_still_reaches_the_page(app, clients):
    assert clients["admin"].get(f"/resultat/{2**31 - 1}").status_code == 404  # unknown, not refused by the route
    assert app.url_map.bind("x").match(f"/resultat/{2**31 - 1}")[1] == {"survey_id": 2**31 - 1}
