"""`medborgarpanel demo --seed-only` builds the demo municipality through the migrations:
Gotland's districts and population, a biased panel, and a survey that was fielded to a
stratified sample, answered by about half of those invited and published."""

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from panel.app import create_app
from panel.demo import FIELDED_DAYS_AGO, SURVEY_SEED, demo_command, seed_survey
from panel.demo_seed import (DEMO_PASSWORD, DEMO_STAFF, seed_districts, seed_members, seed_population,
                             seed_staff)
from panel.models import District, Member, OutboxMessage, PopulationDataset, RecruitmentInvite, StaffUser
from panel.models.outbox import OutboxStatus
from surveys.answering.models import Completion, SurveyResponse
from surveys.fielding.models import Invitation, SurveyFielding
from surveys.models import Survey, SurveyStatus
from surveys.publication.models import PublishedReport
from tests.conftest import csrf_token


def _log_in(client, role: str) -> None:
    email = next(e for e, _name, r in DEMO_STAFF if r == role)
    response = client.post("/staff/login", data={"csrf_token": csrf_token(client, "/staff/login"), "email": email,
                                                 "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def _overall(question: dict, key: str) -> dict[str, float]:
    return {r["category"]: r["estimate"] for r in question[key] if r.get("domain_variable") == "(all)"}


def _check_report(client, survey_id: int) -> dict:
    """The analyst's report renders with weighted figures that differ from the unweighted ones."""
    _log_in(client, "analyst")
    page = client.get(f"/staff/surveys/{survey_id}/report")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Trygghet och service" in html and "Viktat" in html and "Resultaten är oviktade" not in html
    document = client.get(f"/staff/surveys/{survey_id}/report/report.json").get_json()
    assert document["weighting"]["status"] == "weighted"
    library = next(q for q in document["questions"] if q["key"] == "bibliotek")
    weighted, unweighted = _overall(library, "weighted"), _overall(library, "unweighted")
    # The respondents are older and more often women than Gotland, who visit libraries more.
    assert weighted["yes"] < unweighted["yes"] - 0.005, (weighted, unweighted)
    return document


def test_demo_seeds_gotland_with_a_biased_panel_and_a_published_survey(tmp_path, monkeypatch):
    monkeypatch.setenv("PANEL_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)  # the demo is SQLite, even in the PostgreSQL run
    result = CliRunner().invoke(demo_command, ["--seed-only", "--members", "600"])
    assert result.exit_code == 0, result.output
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    engine = create_engine(url)
    with Session(engine) as session:
        assert session.scalar(select(func.count(District.id))) == 12  # Gotland's RegSO areas
        population = session.scalars(select(PopulationDataset)).one()
        assert population.total == 60124  # SCB, Gotland 2020-12-31
        assert session.scalar(select(func.count(Member.id))) == 600
        assert session.scalar(select(func.count(RecruitmentInvite.id))) == 1500
        wave_members = session.scalar(select(func.count(Member.id)).where(Member.source == "wave"))
        assert 0 < wave_members < 600
        women = session.scalar(select(func.count(Member.id)).where(Member.gender == "kvinna"))
        men = session.scalar(select(func.count(Member.id)).where(Member.gender == "man"))
        assert women > 1.05 * men  # the bias the demo is meant to show (population: 50.1 % women)
        assert {u.role for u in session.scalars(select(StaffUser))} == {"admin", "analyst", "committee"}

        # The survey: a stratified sample with its seed recorded, closed, answered by about half.
        survey = session.scalars(select(Survey)).one()
        assert survey.status == SurveyStatus.CLOSED and survey.anonymous
        fielding = session.get(SurveyFielding, survey.id)
        assert fielding.mode == "sample" and fielding.seed == SURVEY_SEED and fielding.sample_size == 200
        invited = session.scalar(select(func.count(Invitation.id)).where(Invitation.survey_id == survey.id))
        assert invited == 200
        responses = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)).all()
        assert 0.35 * invited < len(responses) < 0.7 * invited
        completed = session.scalar(select(func.count(Invitation.id)).where(Invitation.completed_at.is_not(None)))
        assert completed == len(responses) == session.scalar(select(func.count(Completion.invitation_id)))
        assert all(r.member_id is None and r.invitation_id is None for r in responses)  # anonymous snapshot
        assert {r.gender for r in responses} >= {"kvinna", "man"} and all(r.age_group for r in responses)
        assert f"{invited} invited, {len(responses)} responses" in result.output
        # Response propensity differs by age: the respondents are older than those invited.
        invited_old = session.scalar(select(func.count(Invitation.id)).where(
            Invitation.age_group.in_(("65-74", "75-84", "85+", "65+", "75+"))))
        answered_old = sum(r.age_group in ("65-74", "75-84", "85+", "65+", "75+") for r in responses)
        assert answered_old / len(responses) > invited_old / invited
        # The demo mailed no invitations: closing dropped those still queued; the feedback is queued.
        kinds = dict(session.execute(select(OutboxMessage.kind, func.count()).where(
            OutboxMessage.status == OutboxStatus.QUEUED).group_by(OutboxMessage.kind)).all())
        assert "survey_invitation" not in kinds
        report = session.scalars(select(PublishedReport)).one()
        assert report.version == 1 and sum(kinds.values()) == kinds["report_published"] > 0
        # Sent FIELDED_DAYS_AGO days ago, open for two weeks, published after closing.
        assert (survey.closes_at - fielding.sent_at).days == 14
        assert fielding.sent_at < report.published_at - timedelta(days=FIELDED_DAYS_AGO - 14)
        survey_id = survey.id
    engine.dispose()

    app = create_app({"TESTING": True, "SECRET_KEY": "demo-test", "DATABASE_URL": url,
                      "PANEL_BASE_URL": "http://panel.test"})
    analyst = app.test_client()
    _check_report(analyst, survey_id)
    export = f"/staff/surveys/{survey_id}/export"
    exported = analyst.post(export, data={"csrf_token": csrf_token(analyst, export), "format": "csv",
                                          "separator": "semicolon", "values": "codes", "language": "sv"})
    assert exported.status_code == 200
    rows = [line.split(";") for line in exported.data.decode("utf-8-sig").splitlines()]
    assert len(rows) == len(responses) + 1  # the header and one row per response
    weight = rows[0].index("vikt")
    assert all(float(row[weight].replace(",", ".")) > 0 for row in rows[1:])
    committee = app.test_client()
    _log_in(committee, "committee")
    assert "Trygghet och service" in committee.get("/committee/reports").get_data(as_text=True)
    assert committee.get(f"/committee/reports/{survey_id}").status_code == 200
    assert "Trygghet och service" in app.test_client().get(f"/resultat/{survey_id}").get_data(as_text=True)
    app.extensions["database"].kw["bind"].dispose()

    again = CliRunner().invoke(demo_command, ["--seed-only"])
    assert again.exit_code == 0 and "already seeded" in again.output


def test_the_demo_survey_seeds_on_the_test_database(app, session):
    """The same survey seeding on the suite's database (PostgreSQL in CI: bulk COPY paths)."""
    with app.app_context():
        seed_districts(session)
        seed_staff(session)
        population = seed_population(session)
        seed_members(session, population, 700, seed=5)
        session.flush()
        seeded = seed_survey(session, sample_size=250)
        session.commit()
    assert seeded.invited == 250
    assert 0.35 * 250 < seeded.responses < 0.7 * 250
    assert seeded.feedback_emails == seeded.responses  # every respondent in the demo panel may be mailed
    count = session.scalar(select(func.count(SurveyResponse.id)).where(SurveyResponse.survey_id == seeded.survey_id))
    assert count == seeded.responses
    _check_report(app.test_client(), seeded.survey_id)
