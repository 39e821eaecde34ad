"""A published equal-allocation report that could not be weighted to the population is
design-weighted (1/π alone), and every place a committee member or resident reads it says
so: the sentence under the figures, the methods text, the committee, print and public
pages and the PDF, with the same figures as the analyst's report."""

from __future__ import annotations

import re
from html import unescape

import numpy as np

from panel.charts import format_value
from surveys.results.services import response_frame
from tests.conftest import csrf_token
from tests.surveys.publication.conftest import staff_client
from tests.surveys.publication.pdftext import pdf_text
from tests.surveys.results.builders import make_equal_allocation, make_survey

SV_DESIGN = ("Andelarna är vägda med urvalets designvikter (varje svar väger som 1/sannolikheten att komma med i "
             "urvalet, eftersom urvalet tog lika många från varje grupp), men inte till befolkningen.")


def _text(html: str) -> str:
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", main))).replace("\xa0", " ")


def test_a_design_weighted_report_says_so_on_every_page_and_in_the_pdf(app, session, client):
    survey = make_survey(session, n_invited=400, seed=51)
    weight_of = make_equal_allocation(session, survey)
    session.commit()
    frame = response_frame(session, survey).data
    d = np.array([weight_of[k] for k in zip(frame["gender"], frame["age_group"], frame["district"])])
    yes, answered = (frame["trygg"] == "yes").to_numpy(), frame["trygg"].notna().to_numpy()
    design_only = float((d * yes).sum() / (d * answered).sum())
    plain = float(yes.sum() / answered.sum())
    assert format_value(design_only, "percent") != format_value(plain, "percent")

    staff_client(client, session, "analyst")
    path = f"/staff/surveys/{survey.id}/publication"
    assert client.post(path + "/publish", data={"csrf_token": csrf_token(client, path),
                                                "version": "1"}).status_code == 302
    staff_client(client, session, "committee")
    pages = {"committee": client.get(f"/committee/reports/{survey.id}").get_data(as_text=True),
             "print": client.get(f"/committee/reports/{survey.id}/versions/1/print").get_data(as_text=True),
             "public": client.get(f"/resultat/{survey.id}").get_data(as_text=True)}
    for name, html in pages.items():
        text = _text(html)
        assert SV_DESIGN in text, name
        assert "Andelarna är inte vägda." not in text and "motsvarar befolkningen" not in text, name
        assert "Resultaten är designviktade men inte viktade till befolkningen" in text, name
        assert "Det finns inga befolkningssiffror uppladdade" in text, name
        assert "eftersom svaren inte är viktade" not in text, name
        assert "eftersom svaren bara är designviktade" in text, name  # the self-recruitment caveat
        assert format_value(design_only, "percent").replace("\xa0", " ") in text, name  # the design-weighted figure
    response = client.get(f"/committee/reports/{survey.id}/versions/1/report.pdf")
    assert response.status_code == 200
    pdf = re.sub(r"\s+", " ", pdf_text(response.data).replace("\xa0", " "))
    assert SV_DESIGN in pdf and "Andelarna är inte vägda." not in pdf
    assert "Resultaten är designviktade men inte viktade till befolkningen" in pdf
    assert format_value(design_only, "percent").replace("\xa0", " ") in pdf
