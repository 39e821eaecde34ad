"""Published shares of 0 % and 100 % carry their interval to the public page and the PDF.

analysis.estimates gives such a share Korn and Graubard's Clopper-Pearson interval
(``boundary_share``); the publication shows it as it shows every other interval
(or hides the cell, as small-cell suppression decides).
"""

from __future__ import annotations

import re

from surveys.publication import services
from tests.surveys.publication.conftest import field_survey
from tests.surveys.publication.pdftext import pdf_text
from tests.surveys.publication.support import document_from_answers, park_answers

ANSWERS = [{"park": "ja", "visits": 3, "comment": None}] * 20 + [{"park": "nej", "visits": 1, "comment": None}] * 9


def _percent(value: float) -> str:
    return f"{value * 100:.1f}".replace(".", ",")


def _rows(document, category: str, domain: str):
    return next(r for q in document.questions if q.key == "park" for r in q.weighted
                if r.category == category and r.domain_value == domain)


def test_zero_and_hundred_percent_shares_are_published_with_their_interval(app, session, committee, client):
    fielded = field_survey(session, ANSWERS)
    session.commit()
    frame = park_answers()
    frame.loc[frame["district"] == "0980002", "park"] = "ja"  # 27 respondents, all "ja"
    frame.loc[frame["park"] == "vet_ej", "park"] = "nej"  # nobody answers "vet ej": 0 % of 60
    document = document_from_answers(frame, survey_id=fielded.survey.id, title="Parken")
    full = _rows(document, "ja", "0980002")
    assert full.estimate == 1.0 and full.flag == "boundary_share" and full.ci_high == 1.0
    assert abs(full.ci_low - 0.025 ** (1 / 27)) < 1e-12  # equal weights: Clopper-Pearson, binom.test(27, 27)
    zero = _rows(document, "vet_ej", "(all)")
    assert zero.estimate == 0.0 and zero.ci_low == 0.0 and zero.ci_high is not None
    assert abs(zero.ci_high - (1 - 0.025 ** (1 / 60))) < 1e-12  # binom.test(0, 60): 0-5.96 %
    with app.app_context():
        services.publish(session, session.merge(fielded.survey), by=None, expected_version=1,
                         notify_all_members=False, document=document.to_dict())
        session.commit()

    public = client.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True).replace("\u00a0", " ")
    row = re.search(r'<th scope="row">Vet ej</th><td>([^<]*)</td>\s*<td>([^<]*)</td>', public)
    assert row, "no overall row for Vet ej"
    assert row.group(1) == "0,0 %" and row.group(2) == f"0,0 %–{_percent(zero.ci_high)} %", row.groups()
    pdf = client.get(f"/committee/reports/{fielded.survey.id}/versions/1/report.pdf")
    assert pdf.status_code == 200
    text = pdf_text(pdf.data).replace("\u00a0", " ")
    assert f"0,0 %–{_percent(zero.ci_high)} %" in text, "the PDF lacks the 0 % share's interval"
