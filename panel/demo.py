"""``medborgarpanel demo``: a running demo municipality in one command.

SQLite in the instance folder, a local SMTP catcher writing to a Maildir, the mail
dispatcher in a background thread, and the web server. The captured mail is shown
at /dev/mail, so a newcomer can click the confirmation link of a sign-up.

The seed (:mod:`panel.demo_seed` for the panel, :func:`seed_survey` here, since only the
demo may reach into ``surveys`` from ``panel``) also fields the example survey to a
stratified sample, answers it and publishes its report, all through the product's services,
so the report, publication, committee, public results and export pages have data.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
from werkzeug.serving import run_simple

from panel import config, migrations

if TYPE_CHECKING:
    import numpy as np
    from sqlalchemy.orm import Session

DEMO_MEMBERS = 3000


def _paths() -> tuple[Path, Path, Path]:
    instance = Path(config.instance_path())
    return instance, instance / "demo.sqlite", instance / "demo-mail"


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web server listens on.")
@click.option("--port", default=5000, show_default=True, help="Port of the web server.")
@click.option("--smtp-port", default=0, help="Port of the local SMTP catcher (default: a free one).")
@click.option("--members", default=DEMO_MEMBERS, show_default=True, help="Synthetic members to create.")
@click.option("--fresh", is_flag=True, help="Delete the demo database and mailbox and start over.")
@click.option("--seed-only", is_flag=True, help="Create and seed the demo database, then stop.")
def demo_command(host: str, port: int, smtp_port: int, members: int, fresh: bool, seed_only: bool) -> None:
    """Seed a demo municipality (Gotland) and run the web server, SMTP catcher and dispatcher."""
    from panel.app import create_app
    from panel.mail.devserver import DevSMTPServer
    from panel.mail.dispatcher import run as run_dispatcher
    from panel.mail.smtp import MailSettings

    instance, database, mailbox = _paths()
    if fresh:
        for path in (database, database.with_suffix(".sqlite-wal"), database.with_suffix(".sqlite-shm")):
            path.unlink(missing_ok=True)
        shutil.rmtree(mailbox, ignore_errors=True)
    instance.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{database}"
    base_url = f"http://{host}:{port}"
    smtp = DevSMTPServer(mailbox, port=smtp_port)
    app = create_app({"DATABASE_URL": url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port,
                      "MAIL_USE_TLS": False, "MAIL_USE_SSL": False, "MAIL_USERNAME": None, "MAIL_PASSWORD": None,
                      "PANEL_DEV_MAILBOX": str(mailbox), "PANEL_BASE_URL": base_url,
                      "PANEL_MUNICIPALITY": os.environ.get("PANEL_MUNICIPALITY", "Region Gotland")})
    with app.app_context():
        click.echo("Creating the database schema ...")
        migrations.upgrade(url)
        _seed(members)
        survey_id = _published_survey()
    if seed_only:
        return

    smtp.start()
    stop = threading.Event()
    dispatcher = threading.Thread(
        target=run_dispatcher, name="mail-dispatcher", daemon=True,
        args=(app.extensions["database"], MailSettings.from_config(app.config)),
        kwargs={"interval": 2.0, "stop": stop, "worker_id": "demo"},
    )
    dispatcher.start()
    _banner(base_url, smtp.port, url, survey_id)
    try:
        # Not app.run(): Flask refuses it inside its own CLI.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()
        dispatcher.join(timeout=5)
        smtp.stop()


def _seed(members: int) -> None:
    from panel import demo_seed
    from panel.extensions import db

    session = db.session
    if demo_seed.is_seeded(session):
        click.echo("The demo database is already seeded (use --fresh to start over).")
        return
    click.echo("Seeding districts, staff and the SCB population figures for Gotland ...")
    demo_seed.seed_districts(session)
    demo_seed.seed_staff(session)
    population = demo_seed.seed_population(session)
    click.echo("Drawing a recruitment wave of 1,500 letters ...")
    joined = demo_seed.seed_wave(session, population)
    click.echo(f"Creating {max(members - joined, 0)} synthetic members who signed up themselves ...")
    demo_seed.seed_members(session, population, max(members - joined, 0))
    session.flush()
    if members < 60:  # too few for a sample with any respondents in it
        session.commit()
        click.echo(f"Seeded {members} members ({joined} from the wave); too few for the demo survey.")
        return
    click.echo("Fielding a survey to a stratified sample, answering and publishing it ...")
    fielded = seed_survey(session, sample_size=min(SURVEY_SAMPLE, members // 3))
    session.commit()
    click.echo(f"Seeded {members} members ({joined} from the wave); survey {fielded.survey_id}: "
               f"{fielded.invited} invited, {fielded.responses} responses, report published "
               f"({fielded.feedback_emails} feedback emails queued).")


def _published_survey() -> int | None:
    """The demo survey with a published report (None in a database seeded before there was one)."""
    from sqlalchemy import func, select

    from panel.extensions import db
    from surveys.publication.models import PublishedReport

    return db.session.scalar(select(func.min(PublishedReport.survey_id)))


def _banner(base_url: str, smtp_port: int, url: str, survey_id: int | None = None) -> None:
    from panel.demo_seed import DEMO_PASSWORD, DEMO_STAFF

    lines = [
        "",
        "Medborgarpanelen demo is running.",
        f"  Open:          {base_url}/",
        f"  Caught mail:   {base_url}/dev/mail   (SMTP catcher on 127.0.0.1:{smtp_port})",
        f"  Staff login:   {base_url}/staff/login   password for all: {DEMO_PASSWORD}",
    ]
    lines += [f"    {role:<10} {email}" for email, _name, role in DEMO_STAFF]
    if survey_id is not None:
        lines += [
            "  Demo survey (sent to a stratified sample, answered by about half, closed and published):",
            f"    analyst    {base_url}/staff/surveys/{survey_id}/report   (weighted figures; exports,"
            " publication beside it)",
            f"    committee  {base_url}/committee/reports",
            f"    public     {base_url}/resultat/{survey_id}",
            "    Its invitations were never emailed (the demo answered them; closing the survey dropped the",
            "    unsent ones, as it always does); the respondents' feedback emails arrive in the caught mail.",
        ]
    lines += [f"  Database:      {url}", "  Stop with Ctrl+C.", ""]
    click.echo("\n".join(lines))


# ---------------------------------------------------------------- a fielded, answered, published survey

EXAMPLE_SURVEY = Path(__file__).resolve().parent.parent / "surveys" / "examples" / "medborgarpanel_exempel.yaml"
SURVEY_SAMPLE = 400
SURVEY_SEED = 20261101  # the sample's seed, recorded in the fielding settings
ANSWER_SEED = 4711
FIELDED_DAYS_AGO = 24  # sent 24 days ago, open for 14 days, published 8 days ago
OPEN_DAYS = 14

# Free texts a few respondents write (approved by nobody: they stay with the analyst).
BUS_WISHES = ("Fler turer på kvällen", "Bussar som går i tid", "Billigare månadskort", "Tätare trafik till Slite",
              "Väderskydd vid hållplatsen")
COMMENTS = ("Mer belysning längs gång- och cykelvägarna.", "Bra att ni frågar oss!",
            "Biblioteket i Hemse borde ha öppet på lördagar.", "Satsa på skolan.",
            "Snöröjningen på landsbygden fungerar dåligt.", "Fler platser i äldreboendet i Visby.")


@dataclass(frozen=True)
class SurveySeed:
    survey_id: int
    invited: int
    responses: int
    feedback_emails: int


def response_propensity(gender: str, age: int) -> float:
    """Chance that an invited member answers: older members and women answer more often
    (so the respondents are even more skewed than the panel and weighting moves the figures)."""
    by_age = 0.28 if age < 25 else 0.38 if age < 45 else 0.55 if age < 65 else 0.68
    return min(by_age * (1.15 if gender == "kvinna" else 0.85), 0.95)


def demo_answers(rng: np.random.Generator, gender: str, age: int) -> dict[str, dict[str, str | list[str]]]:
    """One respondent's answers to the example survey, page by page, as the form fields
    a browser would post. Opinions differ by age and gender, as they tend to."""
    import numpy as np

    from surveys.definition import other_key

    woman, young, old = gender == "kvinna", age < 35, age >= 65
    transport_p = np.array([0.45 if young else 0.7 if old else 0.62, 0.25 if young else 0.14, 0.15 if young else 0.06,
                            0.12, 0.03])
    transport = str(rng.choice(["bil", "buss", "cykel", "till_fots", "other"], p=transport_p / transport_p.sum()))
    vardag: dict[str, str | list[str]] = {"transport": transport}
    if transport == "other":
        vardag[other_key("transport")] = str(rng.choice(["Moped", "Båt", "Samåkning", "Elsparkcykel"]))
    if rng.random() < 0.03:
        vardag["trygghet_kvall"] = "dont_know"
    else:
        mean = (3.0 if woman else 3.9) + (0.3 if old else 0.0)
        vardag["trygghet_kvall"] = str(int(np.clip(round(rng.normal(mean, 0.9)), 1, 5)))
    library = rng.random() < (0.62 if woman else 0.42) + (0.1 if old else 0.0)
    vardag["bibliotek"] = "yes" if library else "no"
    pages: dict[str, dict[str, str | list[str]]] = {"vardag": vardag}
    if library:
        biblioteken: dict[str, str | list[str]] = {}
        for item, mean in (("oppettider", 3.1), ("utbud", 3.9), ("personal", 4.3)):
            if rng.random() < 0.9:
                value = "dont_know" if rng.random() < 0.05 else str(int(np.clip(round(rng.normal(mean, 0.9)), 1, 5)))
                biblioteken[f"bibliotek_nojdhet-{item}"] = value
        if rng.random() < 0.8:
            biblioteken["bibliotek_besok"] = str(int(np.clip(rng.geometric(0.08), 1, 365)))
        pages["biblioteken"] = biblioteken
    areas = ["skola", "aldreomsorg", "kollektivtrafik", "trygghet", "miljo", "kultur"]
    interest = np.array([1.6 if 30 <= age < 50 else 0.9, 2.2 if old else 0.9 + age / 80, 1.2 if young else 0.8,
                         1.4 if woman else 0.9, 1.5 if young else 0.8, 0.7])
    count = int(rng.choice([1, 2, 3], p=[0.2, 0.35, 0.45]))
    chosen = set(rng.choice(areas, size=count, replace=False, p=interest / interest.sum()).tolist())
    prioriteringar: dict[str, str | list[str]] = {"prioriteringar": [a for a in areas if a in chosen]}
    if transport == "buss" and rng.random() < 0.35:
        prioriteringar["buss_forbattring"] = str(rng.choice(BUS_WISHES))
    if rng.random() < 0.92:
        prioriteringar["rekommendera"] = str(int(np.clip(round(rng.normal(7.4 if old else 6.3, 2.0)), 0, 10)))
    if rng.random() < 0.08:
        prioriteringar["synpunkter"] = str(rng.choice(COMMENTS))
    pages["prioriteringar"] = prioriteringar
    return pages


def _answer(session: Session, invitation, defn, answers: dict[str, dict], *, anonymous: bool, now) -> None:
    """Answer through the same services and page forms as /s/<token>: start, each page
    validated by its form and saved, then the one response is stored."""
    from werkzeug.datastructures import MultiDict

    from surveys.answering import services as answering
    from surveys.forms import build_page_form, clean_answers

    answering.check_answerable(invitation, now)
    answering.mark_opened(session, invitation, now)
    draft = answering.start(session, invitation, language=answering.language_for(defn, invitation.language), now=now)
    page = answering.resume_page(defn, draft)
    while page is not None:
        posted = MultiDict()
        for name, value in answers.get(page.key, {}).items():
            for one in value if isinstance(value, list) else [value]:
                posted.add(name, one)
        form = build_page_form(defn, page, draft.language, draft.answers, posted, meta={"csrf": False})
        if not form.validate():
            raise ValueError(f"demo answers to page {page.key} are invalid: {form.errors}")
        page = answering.save_page(draft, defn, page, clean_answers(form), now=now)
    answering.complete(session, invitation, draft, defn, anonymous=anonymous, now=now)


def seed_survey(session: Session, *, sample_size: int = SURVEY_SAMPLE, seed: int = ANSWER_SEED,
                now: datetime | None = None) -> SurveySeed:
    """The example survey, sent 24 days ago to a stratified sample of the panel (recorded
    seed), answered by about half of those invited, closed after 14 days and published.

    Everything goes through the product's services: import, fielding settings, sending
    (invitations and their emails in the outbox), answering page by page, the closing
    tick (which drops invitation emails still unsent, as it does for any closed survey:
    the demo never mailed them) and publication (which queues the feedback email to the
    respondents; the demo's dispatcher sends those to its mailbox).
    """
    import numpy as np
    from sqlalchemy import select

    from panel.db import utcnow
    from panel.models import Member, StaffUser
    from surveys.authoring.services import definition_of, import_survey
    from surveys.fielding import services as fielding
    from surveys.fielding.models import Invitation
    from surveys.fielding.sampling import Target
    from surveys.publication.services import publish

    now = now or utcnow()
    sent = now - timedelta(days=FIELDED_DAYS_AGO)
    analyst = session.scalars(select(StaffUser).where(StaffUser.role == "analyst").order_by(StaffUser.id)).first()
    survey = import_survey(session, text=EXAMPLE_SURVEY.read_text(encoding="utf-8"), format="yaml",
                           title="Trygghet och service i kommunen, hösten 2026", created_by=analyst)
    fielding.save_settings(session, survey, target=Target(age_min=16), mode="sample", sample_size=sample_size,
                           allocation="proportional", seed=SURVEY_SEED, contact_limit=None, contact_window_days=30,
                           reminder_after_days=7, max_reminders=1, opens_at=None,
                           closes_at=sent + timedelta(days=OPEN_DAYS), now=sent)
    result = fielding.send_invitations(session, survey, now=sent, sent_by=analyst)
    defn = definition_of(survey)
    rng = np.random.default_rng(seed)
    invitations = session.scalars(select(Invitation).where(Invitation.survey_id == survey.id)
                                  .order_by(Invitation.id)).all()
    members = {m.id: m for m in session.scalars(select(Member).where(
        Member.id.in_([i.member_id for i in invitations])))}
    responses = 0
    for invitation in invitations:
        member = members[invitation.member_id]
        age = sent.year - member.birth_year
        if rng.random() >= response_propensity(member.gender, age):
            continue
        answered = sent + timedelta(hours=float(rng.exponential(60.0)) % (OPEN_DAYS * 24 - 1))
        _answer(session, invitation, defn, demo_answers(rng, member.gender, age), anonymous=survey.anonymous,
                now=answered)
        responses += 1
    session.flush()
    fielding.open_and_close_due(session, now=sent + timedelta(days=OPEN_DAYS, minutes=1))
    session.refresh(survey)
    published = publish(session, survey, by=analyst, expected_version=1, now=now - timedelta(days=8))
    session.flush()
    return SurveySeed(survey_id=survey.id, invited=result.invited, responses=responses,
                      feedback_emails=published.emails)
