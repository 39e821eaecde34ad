"""Suppression of a report document before publication: primary, secondary, what is dropped."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.publication.suppression import FIXED_BREAKDOWNS, SUPPRESSED, suppress_document
from surveys.results.document import OVERALL, CrossTabResult, ReportDocument
from tests.surveys.publication.support import document_from_answers, park_answers

HIDDEN_FIELDS = ("estimate", "se", "ci_low", "ci_high", "count", "weighted_n", "deff")


def _rows(data, question="park", series="weighted"):
    q = next(q for q in data["questions"] if q["key"] == question)
    return q[series]


def _table(rows, variable):
    """{(category, domain): row} of one breakdown (or the whole sample)."""
    return {(r["category"], r["domain_value"]): r for r in rows if r["domain_variable"] == variable}


@pytest.fixture(scope="module")
def document():
    return document_from_answers(park_answers()).to_dict()


def test_a_district_below_k_is_hidden_entirely_weighted_and_unweighted(document):
    out = suppress_document(document, k=5).document
    for series in ("weighted", "unweighted"):
        tiny = [r for r in _rows(out, series=series) if r["domain_value"] == "0980003"]
        assert len(tiny) == 3  # the rows are kept, so the page can say "dold"
        for row in tiny:
            assert row["flag"] == SUPPRESSED and row["n"] is None
            assert all(row[name] is None for name in HIDDEN_FIELDS)
    # the same district in the input has 3 respondents: the rule, not chance, hid it
    before = [r for r in _rows(document) if r["domain_value"] == "0980003"]
    assert {r["n"] for r in before} == {3}


def test_secondary_suppression_leaves_no_line_with_a_single_hidden_value(document):
    out = suppress_document(document, k=5).document
    rows = _rows(out)
    overall = _table(rows, OVERALL)
    categories = ["ja", "nej", "vet_ej"]
    for variable in FIXED_BREAKDOWNS:
        table = _table(rows, variable)
        domains = sorted({d for _, d in table})
        # each domain column (its categories add up to its base): 0 or at least 2 hidden
        for domain in domains:
            hidden = [table[(c, domain)]["estimate"] is None for c in categories]
            assert sum(hidden) != 1, (variable, domain)
        # each category row across the domains (adds up to the overall count): 0 or at least 2 hidden
        for category in categories:
            hidden = [table[(category, d)]["count"] is None for d in domains]
            hidden.append(overall[(category, OVERALL)]["count"] is None)
            assert sum(hidden) != 1, (variable, category)
        # the domains' bases add up to the whole sample's: 0 or at least 2 hidden
        bases = [table[("ja", d)]["n"] is None for d in domains]
        assert sum(bases) != 1, variable


def test_no_published_count_is_between_zero_and_k(document):
    for k in (3, 5, 10):
        out = suppress_document(document, k=k).document
        for question in out["questions"]:
            for series in ("weighted", "unweighted"):
                for row in question[series]:
                    if row["count"] is not None:
                        assert row["count"] == 0 or row["count"] >= k, row
                    if row["n"] is not None:
                        assert row["n"] >= k, row


def test_weighted_and_unweighted_rows_hide_the_same_cells(document):
    out = suppress_document(document, k=5).document
    for question in out["questions"]:
        pattern = [[(r["category"], r["domain_variable"], r["domain_value"], r["estimate"] is None, r["n"] is None)
                    for r in question[series]] for series in ("weighted", "unweighted")]
        assert pattern[0] == pattern[1]


def test_k_one_hides_nothing_and_a_large_k_hides_everything(document):
    assert suppress_document(document, k=1).hidden == 0
    out = suppress_document(document, k=1000).document
    assert all(r["estimate"] is None and r["n"] is None for q in out["questions"] for r in q["weighted"])
    with pytest.raises(ValueError):
        suppress_document(document, k=0)


def test_free_text_crosstabs_and_other_breakdowns_are_not_published():
    doc = document_from_answers(park_answers(), free_text=("Anna på Storgatan 3 borde flytta",))
    park = doc.questions[0]
    extra = dataclasses.replace(park.weighted[0], domain_variable="gender × age_group", domain_value="kvinna × 65+")
    doc = dataclasses.replace(
        doc, questions=(dataclasses.replace(park, weighted=park.weighted + (extra,),
                                            unweighted=park.unweighted + (extra,)),) + doc.questions[1:],
        crosstabs=(CrossTabResult("park", "visits", {"sv": "a"}, {"sv": "b"}),))
    data = doc.to_dict()
    assert data["free_text"] and data["crosstabs"]
    out = suppress_document(data, k=5).document
    assert out["free_text"] == [] and out["crosstabs"] == []
    assert "Storgatan" not in str(out)
    assert {r["domain_variable"] for q in out["questions"] for r in q["weighted"]} <= {OVERALL, *FIXED_BREAKDOWNS}
    assert ReportDocument.from_dict(out).questions[0].weighted  # still a valid document
    assert data["crosstabs"], "the input is left as it was"


def test_response_rates_of_small_groups_are_hidden(document):
    out = suppress_document(document, k=5).document
    rates = {(r["variable"], r["category"]): r for r in out["representativeness"]["response_rates"]}
    tiny = rates[("district", "0980003")]  # 3 answered of 6
    assert tiny["completed"] is None and tiny["rate"] is None
    # and a second district, or 3 = total - the others would give it back
    assert sum(r["completed"] is None for (v, _), r in rates.items() if v == "district") >= 2
    assert rates[("total", "total")]["completed"] == 60


def _rates_document(rows):
    """A document whose district response rates are ``rows`` of (district, invited, completed)."""
    data = document_from_answers(park_answers()).to_dict()
    data["representativeness"]["response_rates"] = [
        {"variable": "total", "category": "total", "label": {"sv": "Alla"}, "invited": sum(r[1] for r in rows),
         "completed": sum(r[2] for r in rows), "rate": None, "ci_low": None, "ci_high": None},
        *({"variable": "district", "category": code, "label": {"sv": code}, "invited": invited,
           "completed": completed, "rate": completed / invited, "ci_low": None, "ci_high": None}
          for code, invited, completed in rows)]
    out = suppress_document(data, k=5).document
    return {r["category"]: r for r in out["representativeness"]["response_rates"]}


def test_a_group_where_only_a_few_did_not_answer_keeps_its_rate():
    """Those who did not answer are not protected: the question tables publish the group's
    n beside the invited count anyway, so hiding the rate protected nothing."""
    rates = _rates_document([("A", 30, 28), ("B", 40, 20), ("C", 35, 15)])
    assert rates["A"]["completed"] == 28 and rates["A"]["rate"] == pytest.approx(28 / 30)
    assert all(r["completed"] is not None and r["invited"] is not None for r in rates.values())


def test_few_respondents_or_few_invited_hide_the_group_and_one_more():
    few_answered = _rates_document([("A", 30, 3), ("B", 40, 20), ("C", 35, 15)])
    assert few_answered["A"]["completed"] is None and few_answered["A"]["rate"] is None
    assert few_answered["A"]["invited"] == 30  # the invited are not few
    assert few_answered["C"]["completed"] is None, "else 38 - 20 - 15 would give A's 3 back"
    assert few_answered["B"]["completed"] == 20 and few_answered["total"]["completed"] == 38
    few_invited = _rates_document([("A", 4, 4), ("B", 40, 20), ("C", 35, 15)])
    assert few_invited["A"]["invited"] is None and few_invited["A"]["rate"] is None
    assert few_invited["C"]["invited"] is None and few_invited["C"]["rate"] is None  # 79 - 40 - 35 = 4
    assert few_invited["B"]["invited"] == 40 and few_invited["B"]["rate"] == pytest.approx(0.5)


def test_suppressed_rows_store_a_reason_code_and_k_not_text():
    out = suppress_document(document_from_answers(park_answers()).to_dict(), k=5).document
    reasons = {r["reason"] for r in _rows(out) if r["flag"] == SUPPRESSED}
    assert reasons == {"primary:5", "secondary:5"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), size=st.integers(12, 80), k=st.integers(2, 8))
def test_no_additive_line_ever_has_exactly_one_hidden_value(seed, size, k):
    """Whatever the answers: every category's count across a breakdown's domains (plus the
    whole sample's) and every domain's categories hide 0 or at least 2 values."""
    rng = np.random.default_rng(seed)
    answers = pd.DataFrame({
        "park": rng.choice(["ja", "nej", "vet_ej"], size=size, p=[0.55, 0.3, 0.15]),
        "visits": rng.integers(0, 9, size=size).astype(float),
        "district": rng.choice(["A", "B", "C", "D"], size=size, p=[0.5, 0.3, 0.15, 0.05]),
        "gender": rng.choice(["kvinna", "man"], size=size),
        "age_group": rng.choice(["16-29", "30-64", "65+"], size=size, p=[0.2, 0.5, 0.3]),
    })
    out = suppress_document(document_from_answers(answers).to_dict(), k=k).document
    rows = _rows(out)
    overall = _table(rows, OVERALL)
    categories = sorted({c for c, _ in overall})
    for variable in FIXED_BREAKDOWNS:
        table = _table(rows, variable)
        domains = sorted({d for _, d in table})
        for domain in domains:
            assert sum(table[(c, domain)]["count"] is None for c in categories if (c, domain) in table) != 1
        for category in categories:
            hidden = [table[(category, d)]["count"] is None for d in domains if (category, d) in table]
            hidden.append(overall[(category, OVERALL)]["count"] is None)
            assert sum(hidden) != 1, (variable, category)
        for row in table.values():
            assert row["count"] is None or row["count"] == 0 or row["count"] >= k
