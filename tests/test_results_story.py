"""Issue 5, "Done when": the whole results story on the demo data, through real pages and real SMTP.

Gotland's SCB figures are uploaded (preview, confirm) → the panel health page shows the
panel's biases (the demo panel has too many women) → a survey is sent to a stratified
sample and answered through the survey links that arrived by email → the report's
weighted figures equal what the analysis package gives for the same responses and
figures (and so R's, see tests/analysis) → the analyst publishes → a committee member
logs in, sees the suppressed version and downloads the PDF → the respondents receive
the feedback email over SMTP → a decision is added → they receive the follow-up.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from analysis import Question, estimate_report, weight
from analysis.targets import DEFAULT_AGE_BANDS
from panel.db import utcnow
from panel.demo_seed import DEMO_PASSWORD, DEMO_STAFF, SCB_EXPORT, seed_districts, seed_members, seed_staff
from panel.mail.dispatcher import dispatch_due
from panel.models import Member, PopulationDataset
from panel.models.member import MemberStatus
from panel.population.services import load_population
from surveys.answering.models import SurveyResponse
from surveys.publication.models import PublishedReport
from tests.conftest import csrf_token
from tests.panel.population.conftest import cells
from tests.surveys.answering.builders import start, submit
from tests.surveys.publication.pdftext import pdf_text

SURVEY = """
format: 1
languages: [sv, en]
title: {sv: Parken vid hamnen, en: The harbour park}
pages:
  - key: parken
    questions:
      - key: park
        type: single_choice
        required: true
        text: {sv: 'Vill du att kommunen bygger en park vid hamnen?', en: 'Do you want a park by the harbour?'}
        options:
          - {value: ja, label: {sv: Ja, en: 'Yes'}}
          - {value: nej, label: {sv: Nej, en: 'No'}}
          - {value: vet_ej, label: {sv: Vet inte, en: Not sure}}
      - key: besok
        type: number
        text: {sv: 'Hur många gånger i månaden är du vid hamnen?', en: 'How many times a month are you at the harbour?'}
        min: 0
        max: 100
      - key: synpunkt
        type: long_text
        text: {sv: 'Något mer du vill säga?', en: 'Anything else?'}
"""
LINK = re.compile(r"http://panel\.test(/s/[A-Za-z0-9_-]+)")
SAMPLE = 160


def _log_in(client, email: str) -> None:
    response = client.post("/staff/login", data={"csrf_token": csrf_token(client, "/staff/login"), "email": email,
                                                 "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def _percent(text: str) -> float:
    return float(text.replace("\xa0", " ").replace("%", "").replace(",", ".").replace("−", "-").strip())


def _answer(rng: np.random.Generator, member: Member, year: int) -> dict[str, str] | None:
    """Who answers and what: older members answer more; women favour the park more than men."""
    age = year - member.birth_year
    if rng.random() > (0.55 if age < 45 else 0.8):
        return None
    yes = 0.75 if member.gender == "kvinna" else 0.4
    choice = rng.choice(["ja", "nej", "vet_ej"], p=[yes, 0.9 - yes, 0.1])
    answers = {"park": str(choice), "besok": str(int(rng.integers(0, 12)))}
    if rng.random() < 0.1:
        answers["synpunkt"] = "Fler bänkar och mer belysning"
    return answers


def test_the_results_story(app, session, smtp_server):
    rng = np.random.default_rng(2026)
    seed_districts(session)
    seed_staff(session)
    session.commit()
    analyst_email = next(email for email, _, role in DEMO_STAFF if role == "analyst")
    committee_email = next(email for email, _, role in DEMO_STAFF if role == "committee")
    analyst = app.test_client()
    _log_in(analyst, analyst_email)

    # 1. Gotland's figures: upload, preview, confirm.
    token = csrf_token(analyst, "/staff/population/")
    uploaded = analyst.post("/staff/population/", content_type="multipart/form-data", data={
        "csrf_token": token, "name": "Gotland 2020", "period": "", "region": "",
        "population": (io.BytesIO(SCB_EXPORT.read_bytes()), SCB_EXPORT.name)})
    assert uploaded.status_code == 302, uploaded.get_data(as_text=True)
    preview = uploaded.headers["Location"]
    assert "60" in analyst.get(preview).get_data(as_text=True)
    assert analyst.post(preview, data={"csrf_token": csrf_token(analyst, preview)}).status_code == 302
    dataset = session.scalars(select(PopulationDataset)).one()
    assert dataset.total == 60124

    # The panel: the demo's synthetic members (more women and older people than Gotland has).
    seed_members(session, dataset, 420, seed=11)
    session.commit()

    # 2. Panel health shows the bias.
    health = analyst.get("/staff/health/").get_data(as_text=True)
    by_gender = cells(health, "Aktiva medlemmar och befolkningen efter kön")
    panel_share, population_share = _percent(by_gender["Kvinna"][1]), _percent(by_gender["Kvinna"][3])
    assert panel_share > population_share + 3, by_gender

    # 3. A survey is imported, sent to a stratified sample and answered through the emailed links.
    created = analyst.post("/staff/surveys/new", data={"csrf_token": csrf_token(analyst, "/staff/surveys/new"),
                                                       "title": "Hamnparken", "text": SURVEY})
    assert created.status_code == 302, created.get_data(as_text=True)
    survey_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    base = f"/staff/surveys/{survey_id}/fielding"
    closes = (utcnow() + timedelta(days=14)).astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%dT%H:%M")
    targeted = analyst.post(f"{base}/target", data={
        "csrf_token": csrf_token(analyst, f"{base}/target"), "mode": "sample", "sample_size": str(SAMPLE),
        "allocation": "proportional", "seed": "7", "contact_window_days": "30", "closes_at": closes,
        "reminder_after_days": "7", "max_reminders": "1"})
    assert targeted.status_code == 302, targeted.get_data(as_text=True)
    assert analyst.post(f"{base}/send", data={"csrf_token": csrf_token(analyst, f"{base}/preview")}).status_code == 302
    assert dispatch_due(app).sent == SAMPLE
    links = {}
    for message in smtp_server.messages:
        links[str(message["To"])] = LINK.search(message.get_body(("plain",)).get_content()).group(1)
    members = {m.email: m for m in session.scalars(select(Member).where(Member.email.in_(links)))}
    year = utcnow().year
    respondents = []
    for email in sorted(links):
        answers = _answer(rng, members[email], year)
        if answers is None:
            continue
        resident = app.test_client()
        first = start(resident, links[email][3:])
        assert submit(resident, first, answers).headers["Location"] == "/s/thanks"
        respondents.append(email)
    assert len(respondents) > 80
    assert session.scalar(select(SurveyResponse.id).where(SurveyResponse.survey_id == survey_id).limit(1))

    # 4. The report's weighted figures equal the analysis package's for the same responses and figures.
    report = analyst.get(f"/staff/surveys/{survey_id}/report/report.json")
    assert report.status_code == 200
    document = report.get_json()
    assert document["weighting"]["status"] == "weighted"
    rows = session.execute(select(SurveyResponse.gender, SurveyResponse.age_group, SurveyResponse.answers)
                           .where(SurveyResponse.survey_id == survey_id)).all()
    frame = pd.DataFrame({"gender": [r[0] for r in rows], "age_group": [r[1] for r in rows],
                          "park": [r[2].get("park") for r in rows]})
    targets = load_population(dataset).with_age_bands(DEFAULT_AGE_BANDS).targets("gender", "age_group")
    result = weight(frame[["gender", "age_group"]], targets, "rake", drop_unmatched=True)
    expected = estimate_report(frame, result.design, [Question.single_choice("park", categories=["ja", "nej", "vet_ej"])])
    expected = expected[expected["domain_variable"] == "(all)"].set_index("category")
    park = next(q for q in document["questions"] if q["key"] == "park")
    got = {r["category"]: r for r in park["weighted"] if r["domain_variable"] == "(all)"}
    for category in ("ja", "nej"):
        for name in ("estimate", "se", "ci_low", "ci_high"):
            assert got[category][name] == pytest.approx(expected.loc[category, name], rel=1e-9), (category, name)
    unweighted_yes = float((frame["park"] == "ja").mean())
    assert abs(got["ja"]["estimate"] - unweighted_yes) > 0.005  # weighting corrects the panel's bias

    # 5. The analyst closes the survey (an open survey's results are not final) and publishes.
    fielding = f"/staff/surveys/{survey_id}/fielding"
    closed = analyst.post(fielding + "/close", data={"csrf_token": csrf_token(analyst, fielding + "/")})
    assert closed.status_code == 302
    smtp_server.clear()
    publication = f"/staff/surveys/{survey_id}/publication"
    published = analyst.post(publication + "/publish", data={"csrf_token": csrf_token(analyst, publication),
                                                             "version": "1"})
    assert published.status_code == 302
    stored = session.scalars(select(PublishedReport).where(PublishedReport.survey_id == survey_id)).one()
    stored_park = next(q for q in stored.document["questions"] if q["key"] == "park")
    yes_overall = next(r for r in stored_park["weighted"] if r["category"] == "ja" and r["domain_variable"] == "(all)")
    assert yes_overall["estimate"] == pytest.approx(got["ja"]["estimate"], rel=1e-12)
    assert any(r["flag"] == "suppressed" for r in stored_park["weighted"])  # 12 districts: some are small
    assert stored.document["free_text"] == [] and stored.document["crosstabs"] == []

    # 6. A committee member sees the suppressed version and downloads the PDF.
    committee = app.test_client()
    _log_in(committee, committee_email)
    assert "Parken vid hamnen" in committee.get("/committee/reports").get_data(as_text=True)
    page = committee.get(f"/committee/reports/{survey_id}").get_data(as_text=True)
    assert "dold" in page and "<svg" in page and "Fler bänkar" not in page
    assert committee.get(f"/staff/surveys/{survey_id}/report").status_code == 403  # the analyst's report
    pdf = committee.get(f"/committee/reports/{survey_id}/versions/1/report.pdf")
    assert pdf.status_code == 200
    text = pdf_text(pdf.data)
    assert "Vill du att kommunen bygger en park vid hamnen?" in text
    assert f"{yes_overall['estimate'] * 100:.1f} %".replace(".", ",") in text

    # 7. The respondents who may be mailed get the feedback email over SMTP.
    reachable = {email for email in respondents if members[email].status == MemberStatus.ACTIVE}
    assert dispatch_due(app).sent == len(reachable)
    feedback = {str(m["To"]): m for m in smtp_server.messages}
    assert set(feedback) == reachable
    body = feedback[sorted(reachable)[0]].get_body(("plain",)).get_content()
    assert f"http://panel.test/resultat/{survey_id}" in body and "Vill du att kommunen bygger en park" in body
    assert f"{yes_overall['estimate'] * 100:.1f}\xa0%".replace(".", ",") in body  # one decimal, as the pages
    public = app.test_client().get(f"/resultat/{survey_id}")
    assert public.status_code == 200 and "dold" in public.get_data(as_text=True)

    # 8. A decision is added, and the follow-up goes out.
    smtp_server.clear()
    decided = analyst.post(publication + "/decision", data={
        "csrf_token": csrf_token(analyst, publication),
        "text": "Kommunstyrelsen beslutade den 1 december att **bygga parken** under 2027."})
    assert decided.status_code == 302
    assert dispatch_due(app).sent == len(reachable)
    follow_up = smtp_server.to(sorted(reachable)[0])[0]
    assert "Beslut efter enkäten" in follow_up["Subject"]
    assert "bygga parken" in follow_up.get_body(("plain",)).get_content()
    assert "bygga parken" in app.test_client().get(f"/resultat/{survey_id}").get_data(as_text=True)
    assert "bygga parken" in pdf_text(committee.get(f"/committee/reports/{survey_id}/versions/1/report.pdf").data)
