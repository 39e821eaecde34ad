"""Shares of 0 % and 100 % in the analyst's report carry an interval, not '–'.

A district where every respondent travels by car has Bil 100 % and Buss/Cykel 0 %:
the standard error is 0, but the estimate is not known exactly. The report shows
Korn and Graubard's Clopper-Pearson interval with the weights' effective sample
size (analysis.estimates, ``boundary_share``), as it does for every other share.
"""

from __future__ import annotations

import html
import re

from surveys.answering.models import SurveyResponse
from tests.surveys.results.builders import make_population, make_survey

HEMSE = "0980R003"


def _everyone_in_hemse_travels_by_car(session, survey) -> int:
    responses = session.query(SurveyResponse).filter_by(survey_id=survey.id, district_code=HEMSE).all()
    for response in responses:
        answers = {key: value for key, value in response.answers.items() if key != "transport-other"}
        response.answers = {**answers, "transport": "bil"}
    session.flush()
    return len(responses)


def _breakdown_row(page: str, domain: str, answer: str) -> list[str]:
    """The cells after the answer of the first breakdown row for ``domain`` and ``answer``."""
    match = re.search(rf'<th scope="row">{domain}</th>\s*<td>{answer}</td>((?:\s*<td class="num">.*?</td>)+)',
                      page)
    assert match, f"no row for {domain} / {answer}"
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r'<td class="num">(.*?)</td>', match.group(1))]


def _percent(text: str) -> float:
    return float(text.replace("\u00a0", " ").replace("%", "").strip().replace(",", "."))


def test_hundred_and_zero_percent_shares_show_an_interval_in_the_report(analyst, session):
    survey = make_survey(session, n_invited=240, seed=3)
    n = _everyone_in_hemse_travels_by_car(session, survey)
    make_population(session)
    session.commit()
    assert n >= 10
    page = analyst.get(f"/staff/surveys/{survey.id}/report").get_data(as_text=True)
    assert "Resultaten är oviktade." not in page

    estimate, interval, *_ = _breakdown_row(page, "Hemse", "Bil")
    assert _percent(estimate) == 100.0 and interval != "–", "a 100 % share without an interval"
    low, high = (_percent(part) for part in interval.split("–"))
    # weighted: no narrower than Clopper-Pearson for n unweighted answers, 1 - 0.025^(1/n)
    assert high == 100.0 and 50.0 < low <= round(100 * 0.025 ** (1 / n), 1) < 100.0
    for answer in ("Buss", "Cykel"):
        estimate, interval, *_ = _breakdown_row(page, "Hemse", answer)
        assert _percent(estimate) == 0.0 and interval != "–", "a 0 % share without an interval"
        low, high = (_percent(part) for part in interval.split("–"))
        assert low == 0.0 and 0.0 < high < 50.0
