"""Fielding a survey: settings, preview, invitations, reminders, opening and closing, progress.

Services take a Session first, never touch the request and never commit: the view or
CLI command that called them owns the transaction.

Sending (:func:`send_invitations`) is one transaction: the send is claimed with a
conditional UPDATE (so two clicks cannot send twice), the sample is drawn, and the
invitations and their outbox rows are inserted in bulk. Each email template is
rendered ONCE per language with placeholders for the personal links, which are then
substituted per member; the token of a link (see :mod:`surveys.fielding.links`)
goes only into the email, the invitation keeps its SHA-256 digest. A survey that opens
later gets its outbox rows due at the opening time, so the emails go out then.

Reminders (:func:`remind_batch`) select and mark in ONE conditional UPDATE
(``... WHERE completed_at IS NULL ... RETURNING id``) and queue the emails in the same
transaction. A completion committed before that statement keeps the invitation out of
the batch; on PostgreSQL a completion that comes while the statement runs waits for the
row lock and the UPDATE re-checks ``completed_at`` on the newest row version, so the
member who answered is not reminded. Batches are small and committed one by one, so a
member who answers while a long reminder run is in progress is left out of every later
batch.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from panel.db import utcnow
from panel.mail.outbox import (
    LINK_PLACEHOLDER, PRIORITY_BULK, UNSUBSCRIBE_PLACEHOLDER, add_shared_body, list_unsubscribe_headers, render_email,
    send_out_rows,
)
from panel.members.services import contactable
from panel.models import District, Member, OutboxMessage, StaffUser
from panel.models.outbox import OutboxStatus
from surveys.authoring.services import definition_of, freeze_structure, readiness_problems
from surveys.definition import SurveyDefinition, text_in
from surveys.fielding import bulk, sampling
from surveys.fielding.links import SurveyLinks, UnsubscribeLinks, random_secrets, token_digest
from surveys.fielding.models import Allocation, Invitation, SurveyFielding, TargetMode
from surveys.fielding.sampling import Candidate, Reason, Selection, Target
from surveys.models import Survey, SurveyStatus

INVITATION_KIND = "survey_invitation"
REMINDER_KIND = "survey_reminder"
CHUNK = 5_000  # progress is reported every CHUNK invitations
REMINDER_BATCH = 1_000
SWEDEN = "Europe/Stockholm"
# Placeholders in the once-rendered emails, filled per row by the dispatcher (see
# panel.models.outbox.OutboxBody); URL-safe, so escaping leaves them alone.
_LINK = LINK_PLACEHOLDER
_UNSUBSCRIBE = UNSUBSCRIBE_PLACEHOLDER

ProgressCallback = Callable[[int, int], None]  # (done, total)


class FieldingError(ValueError):
    """Bad fielding input; ``field`` names the form field (or None for the whole form)."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class AlreadySent(FieldingError):
    def __init__(self) -> None:
        super().__init__(_l("Inbjudningarna till den här enkäten är redan skickade."))


# ---------------------------------------------------------------- settings


def fielding_of(session: Session, survey: Survey) -> SurveyFielding:
    """The survey's fielding settings (a new, unsaved row with the defaults if there are none)."""
    settings = session.get(SurveyFielding, survey.id)
    if settings is None:
        settings = SurveyFielding(survey_id=survey.id, target={}, mode=TargetMode.ALL,
                                  allocation=Allocation.PROPORTIONAL, contact_window_days=30,
                                  reminder_after_days=7, max_reminders=1, excluded={})
    return settings


def is_sent(session: Session, survey: Survey) -> bool:
    return session.scalar(select(SurveyFielding.sent_at).where(SurveyFielding.survey_id == survey.id)) is not None


def save_settings(session: Session, survey: Survey, *, target: Target, mode: str, sample_size: int | None,
                  allocation: str, seed: int | None, contact_limit: int | None, contact_window_days: int,
                  reminder_after_days: int, max_reminders: int, opens_at: datetime | None,
                  closes_at: datetime | None, now: datetime | None = None) -> SurveyFielding:
    """Store who gets the survey and when it is open; checks that the target is possible.

    Raises FieldingError (with the field to blame) for impossible settings: a sample
    larger than the eligible members, nobody eligible, closing before opening, closing
    in the past. A missing seed gets a new random one, recorded so the draw can be
    repeated.
    """
    now = now or utcnow()
    if is_sent(session, survey):
        raise AlreadySent()
    if mode not in tuple(TargetMode) or allocation not in tuple(Allocation):
        raise FieldingError(_l("Välj ett av alternativen."), "mode")
    if target.age_min is not None and target.age_max is not None and target.age_min > target.age_max:
        raise FieldingError(_l("Den lägsta åldern är högre än den högsta."), "age_min")
    if mode == TargetMode.SAMPLE and not sample_size:
        raise FieldingError(_l("Skriv hur många som ska ingå i urvalet."), "sample_size")
    check_schedule(opens_at, closes_at, now=now)
    settings = fielding_of(session, survey)
    settings.target = target.to_json()
    settings.mode = mode
    settings.sample_size = sample_size if mode == TargetMode.SAMPLE else None
    settings.allocation = allocation
    settings.seed = seed if seed is not None else secrets.randbelow(2**31)
    settings.contact_limit = contact_limit
    settings.contact_window_days = contact_window_days
    settings.reminder_after_days = reminder_after_days
    settings.max_reminders = max_reminders
    selection = select_members(session, settings, now=now)  # raises when impossible
    if not selection.invited:
        raise FieldingError(_l("Ingen i panelen passar in på urvalet. Ändra villkoren."), None)
    survey.opens_at = opens_at
    survey.closes_at = closes_at
    session.add(settings)
    session.flush()
    return settings


def check_schedule(opens_at: datetime | None, closes_at: datetime | None, *, now: datetime) -> None:
    if closes_at is None:
        raise FieldingError(_l("Skriv när enkäten stänger."), "closes_at")
    if closes_at <= now:
        raise FieldingError(_l("Stängningstiden har redan passerat. Välj en tid framåt."), "closes_at")
    if opens_at is not None and closes_at <= opens_at:
        raise FieldingError(_l("Enkäten måste stänga efter att den öppnar."), "closes_at")


def update_schedule(session: Session, survey: Survey, *, closes_at: datetime, reminder_after_days: int,
                    max_reminders: int, now: datetime | None = None) -> None:
    """After sending: move the closing time, change the reminder rule."""
    now = now or utcnow()
    check_schedule(survey.opens_at, closes_at, now=now)
    if survey.status == SurveyStatus.CLOSED:
        raise FieldingError(_l("Enkäten är stängd."), None)
    settings = fielding_of(session, survey)
    settings.reminder_after_days = reminder_after_days
    settings.max_reminders = max_reminders
    survey.closes_at = closes_at
    session.add(settings)


# ---------------------------------------------------------------- who gets it


@dataclass
class _Panel:
    """Every member of the panel as candidates, and how to reach the ones that are invited."""

    candidates: list[Candidate]
    contacts: dict[int, tuple[str, str, Any]]  # id -> (email, language, created_at as the driver gives it)
    created_at: Callable[[Any], datetime]  # the driver's created_at -> an aware datetime


def _load_panel(session: Session, settings: SurveyFielding, now: datetime) -> _Panel:
    recent: dict[int, int] = {}
    if settings.contact_limit is not None:
        since = now - timedelta(days=settings.contact_window_days or 30)
        recent = dict(session.execute(
            select(Invitation.member_id, func.count(Invitation.id))
            .where(Invitation.created_at >= since, Invitation.member_id.is_not(None))
            .group_by(Invitation.member_id)).all())
    # The whole panel (tens of thousands of rows), read without SQLAlchemy's per-row work;
    # the few values that need converting are converted where they are used.
    rows = bulk.fetch_rows(session, select(
        Member.id, Member.birth_year, Member.gender, District.code, Member.source, Member.status,
        Member.paused_until, Member.email, Member.language, Member.created_at)
        .join(District, District.id == Member.district_id))
    to_date = bulk.result_value(session, Member.__table__.c.paused_until)
    candidates, contacts = [], {}
    for (member_id, birth_year, gender, code, source, status, paused_until, email, language,
         created_at) in rows:
        if paused_until is not None and not isinstance(paused_until, date):
            paused_until = to_date(paused_until)
        candidates.append(Candidate(member_id, birth_year, gender, code, source, status, paused_until,
                                    recent.get(member_id, 0)))
        contacts[member_id] = (email, language, created_at)
    return _Panel(candidates, contacts, bulk.result_value(session, Member.__table__.c.created_at))


def select_members(session: Session, settings: SurveyFielding, *, now: datetime,
                   panel: _Panel | None = None) -> Selection:
    """Apply the settings to the panel as it is now (the same draw every time for the same seed)."""
    panel = panel or _load_panel(session, settings, now)
    today = local_today(now)
    sample_size = settings.sample_size if settings.mode == TargetMode.SAMPLE else None
    try:
        return sampling.select(panel.candidates, Target.from_json(settings.target), today=today,
                               contact_limit=settings.contact_limit, sample_size=sample_size,
                               allocation=settings.allocation, seed=settings.seed or 0)
    except ValueError:
        eligible = len(sampling.select(panel.candidates, Target.from_json(settings.target), today=today,
                                       contact_limit=settings.contact_limit).eligible)
        raise FieldingError(_l("Urvalet kan inte vara större än de %(n)s som kan få enkäten. "
                               "Välj ett mindre antal eller vidga villkoren.", n=eligible),
                            "sample_size") from None


def local_today(now: datetime) -> date:
    """The date in Sweden at ``now`` (pauses end and ages count by the Swedish calendar)."""
    zone = current_app.config.get("BABEL_DEFAULT_TIMEZONE", SWEDEN) if has_app_context() else SWEDEN
    return now.astimezone(ZoneInfo(zone)).date()


@dataclass
class StratumRow:
    gender: str
    age_group: str
    district_code: str
    eligible: int
    invited: int


@dataclass
class Preview:
    """What sending would do now: per stratum, and who is left out and why."""

    panel_size: int
    eligible: int
    invited: int
    excluded: dict[str, int]
    strata: list[StratumRow]
    problem: Any = None  # a message (lazy text) when sending is not possible


def preview(session: Session, survey: Survey, *, now: datetime | None = None) -> Preview:
    """Counts per stratum and per reason for leaving members out. Changes nothing."""
    now = now or utcnow()
    settings = fielding_of(session, survey)
    panel = _load_panel(session, settings, now)
    try:
        selection = select_members(session, settings, now=now, panel=panel)
    except FieldingError as error:
        selection = sampling.select(panel.candidates, Target.from_json(settings.target), today=local_today(now),
                                    contact_limit=settings.contact_limit)
        return _preview_of(panel, selection, problem=error.message, invited=0)
    problem = None if selection.invited else _l("Ingen i panelen passar in på urvalet. Ändra villkoren.")
    return _preview_of(panel, selection, problem=problem, invited=len(selection.invited))


def _preview_of(panel: _Panel, selection: Selection, *, problem: str | None, invited: int) -> Preview:
    strata = [StratumRow(*stratum, eligible=size, invited=selection.allocation.get(stratum, 0) if not problem else 0)
              for stratum, size in selection.population.items()]
    excluded = {reason.value: selection.excluded.get(reason, 0) for reason in Reason}
    return Preview(panel_size=len(panel.candidates), eligible=len(selection.eligible), invited=invited,
                   excluded=excluded, strata=strata, problem=problem)


# ---------------------------------------------------------------- sending


@dataclass
class SendResult:
    invited: int
    excluded: dict[str, int]
    status: str


def survey_language(member_language: str, defn: SurveyDefinition) -> str:
    """The member's language if the survey has it, else Swedish."""
    return member_language if member_language in defn.languages else "sv"


@dataclass
class _Letter:
    subject: str
    text: str
    html: str


def _letters(template: str, languages: Iterable[str], survey: Survey, defn: SurveyDefinition) -> dict[str, _Letter]:
    """Each email rendered once per language, with placeholders for the two personal links."""
    letters = {}
    for language in sorted(set(languages)):
        context = {"survey_title": text_in(defn.title, language), "link": _LINK, "unsubscribe_link": _UNSUBSCRIBE,
                   "closes_at": survey.closes_at, "anonymous": survey.anonymous}
        subject, text, html = render_email(template, language, context)
        letters[language] = _Letter(subject, text, html)
    return letters


class _OutboxBatch:
    """The outbox rows of one send-out (a survey's invitations, or a batch of its reminders),
    inserted in bulk (see :mod:`surveys.fielding.bulk`).

    Each letter (one per language) is stored once as a shared body
    (:class:`panel.models.outbox.OutboxBody`, made here, before any bulk insert uses the
    connection) together with the List-Unsubscribe headers and the send-out's label; a
    row holds only its address, subject, its two links and a pointer to the body, and the
    dispatcher puts the links in when it sends. The rows get their ids from the database
    as they are stored: they are found again through their bodies' label
    (:func:`panel.mail.outbox.send_out_rows`), so nothing has to know them in advance.
    """

    COLUMNS = ("to_address", "subject", "body_id", "link", "unsubscribe_link")

    def __init__(self, session: Session, *, kind: str, send_out: str, now: datetime, due: datetime,
                 letters: Iterable[_Letter]) -> None:
        self.session = session
        self.constants = {"kind": kind, "status": OutboxStatus.QUEUED.value, "priority": PRIORITY_BULK,
                          "attempts": 0, "next_attempt_at": due, "created_at": now, "body_text": "",
                          "body_html": "", "headers": ""}
        headers = list_unsubscribe_headers(_UNSUBSCRIBE)
        self.bodies = {id(letter): add_shared_body(session, letter.text, letter.html, headers=headers,
                                                   send_out=send_out) for letter in letters}

    def row(self, letter: _Letter, *, to: str, link: str, unsubscribe: str) -> tuple:
        """One email: ``letter`` (one of those given at creation) for ``to`` with its two personal links."""
        return (to, letter.subject, self.bodies[id(letter)], link, unsubscribe)

    def insert(self, rows: Iterable[tuple]) -> None:
        """Insert ``rows`` (from :meth:`row`; a generator is fine)."""
        bulk.insert_rows(self.session, OutboxMessage.__table__, self.COLUMNS, rows, self.constants)


def send_out_of(kind: str, survey_id: int) -> str:
    """The label of a survey's invitations or reminders on their shared bodies."""
    return f"{kind}:{survey_id}"


def _claim_send(session: Session, survey: Survey, now: datetime, sent_by: StaffUser | None) -> SurveyFielding:
    claimed = session.execute(
        update(SurveyFielding)
        .where(SurveyFielding.survey_id == survey.id, SurveyFielding.sent_at.is_(None))
        .values(sent_at=now, sent_by_id=sent_by.id if sent_by else None)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise AlreadySent()
    settings = session.get(SurveyFielding, survey.id)
    session.refresh(settings)
    return settings


def send_invitations(session: Session, survey: Survey, *, now: datetime | None = None,
                     sent_by: StaffUser | None = None, progress: ProgressCallback | None = None) -> SendResult:
    """Draw the members, create their invitations and queue the emails. The caller commits.

    The emails are due at the opening time (or now, if the survey opens at once). The
    survey's structure is frozen. ``progress(done, total)`` is called after each chunk.
    """
    now = now or utcnow()
    if survey.status not in (SurveyStatus.DRAFT,):
        raise AlreadySent()
    defn = definition_of(survey)
    problems = readiness_problems(defn)
    if problems:
        raise FieldingError(_l("Enkäten kan inte skickas ännu: %(problems)s.", problems="; ".join(problems)), None)
    if session.get(SurveyFielding, survey.id) is None:
        raise FieldingError(_l("Välj först vem som ska få enkäten."), None)
    check_schedule(survey.opens_at, survey.closes_at, now=now)
    settings = _claim_send(session, survey, now, sent_by)
    panel = _load_panel(session, settings, now)
    selection = select_members(session, settings, now=now, panel=panel)
    if not selection.invited:
        raise FieldingError(_l("Ingen i panelen passar in på urvalet. Ändra villkoren."), None)
    due = max(now, survey.opens_at or now)
    year = local_today(now).year
    language_of = {language: survey_language(language, defn)
                   for language in {panel.contacts[m.id][1] for m in selection.invited}}
    languages = {m.id: language_of[panel.contacts[m.id][1]] for m in selection.invited}
    letters = _letters("survey_invitation", languages.values(), survey, defn)
    unsubscribe, links = UnsubscribeLinks(), SurveyLinks()
    to_datetime = panel.created_at
    outbox = _OutboxBatch(session, kind=INVITATION_KIND, send_out=send_out_of(INVITATION_KIND, survey.id), now=now,
                          due=due, letters=letters.values())
    columns = ("member_id", "token_digest", "token_secret", "language", "gender", "age_group", "district_code")
    constants = {"survey_id": survey.id, "created_at": now, "sent_at": now, "reminders_sent": 0}
    age_groups: dict[int, str] = {}
    invited = sorted(selection.invited, key=attrgetter("id"))
    total = len(invited)
    personal: list[tuple[str, str, str]] = []  # (address, survey link, unsubscribe link) per invitation

    # Two streams, so the database stores rows while the next ones are made (PostgreSQL's
    # COPY): first the invitations with their new tokens, then the emails with the links.
    def invitation_rows():
        for member, raw in zip(invited, random_secrets(total)):
            email, _language, created_at = panel.contacts[member.id]
            secret, token, digest = links.new(raw)
            personal.append((email, links.url(token), unsubscribe.url(member.id, to_datetime(created_at))))
            age = age_groups.get(member.birth_year) or age_groups.setdefault(member.birth_year,
                                                                              member.age_group(year))
            yield (member.id, digest, secret, languages[member.id], member.gender, age, member.district_code)

    def emails():
        for number, (member, (email, link, unsubscribe_link)) in enumerate(zip(invited, personal), 1):
            yield outbox.row(letters[languages[member.id]], to=email, link=link, unsubscribe=unsubscribe_link)
            if progress and (number % CHUNK == 0 or number == total):
                progress(number, total)

    bulk.insert_rows(session, Invitation.__table__, columns, invitation_rows(), constants)
    outbox.insert(emails())
    excluded = {reason.value: count for reason, count in selection.excluded.items() if count}
    settings.excluded = excluded
    settings.design = sampling.design_record(
        selection, sample_size=settings.sample_size if settings.mode == TargetMode.SAMPLE else None,
        allocation=settings.allocation)
    freeze_structure(survey, now=now)
    survey.status = SurveyStatus.OPEN if due <= now else SurveyStatus.SCHEDULED
    session.flush()
    return SendResult(invited=total, excluded=excluded, status=survey.status)


# ---------------------------------------------------------------- reminders


def _reminder_due(survey: Survey, settings: SurveyFielding, now: datetime):
    """SQL condition: this survey's invitations that should get a reminder now."""
    cutoff = now - timedelta(days=settings.reminder_after_days)
    return and_(
        Invitation.survey_id == survey.id,
        Invitation.completed_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.member_id.is_not(None),
        Invitation.reminders_sent < settings.max_reminders,
        func.coalesce(Invitation.last_reminded_at, Invitation.sent_at) <= cutoff,
        Invitation.member_id.in_(select(Member.id).where(contactable(local_today(now)))),
    )


def reminders_due(session: Session, survey: Survey, *, now: datetime | None = None) -> int:
    """How many invitations would get a reminder now."""
    now = now or utcnow()
    settings = session.get(SurveyFielding, survey.id)
    if settings is None or settings.sent_at is None or survey.status != SurveyStatus.OPEN:
        return 0
    return session.scalar(select(func.count(Invitation.id)).where(_reminder_due(survey, settings, now))) or 0


def remind_batch(session: Session, survey: Survey, *, now: datetime | None = None,
                 limit: int = REMINDER_BATCH) -> int:
    """Mark up to ``limit`` due invitations reminded and queue their reminders; return how many.

    Selecting and marking is one conditional UPDATE (see the module doc), so an
    invitation completed before it runs is never reminded. Call repeatedly, committing
    after each batch, until it returns 0.
    """
    now = now or utcnow()
    settings = session.get(SurveyFielding, survey.id)
    if settings is None or settings.sent_at is None or survey.status != SurveyStatus.OPEN:
        return 0
    due = _reminder_due(survey, settings, now)
    batch = select(Invitation.id).where(due).order_by(Invitation.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Rows an answering transaction holds are skipped; the CTE is evaluated once (a
        # LIMIT ... FOR UPDATE subquery inside IN may be evaluated again per row).
        batch = batch.with_for_update(skip_locked=True)
    batch = batch.cte("reminder_batch")
    marked = session.execute(
        update(Invitation)
        .where(Invitation.id.in_(select(batch.c.id)), due)
        .values(reminders_sent=Invitation.reminders_sent + 1, last_reminded_at=now)
        .returning(Invitation.id, Invitation.member_id, Invitation.language, Invitation.token_secret,
                   Invitation.token_digest)
        .execution_options(synchronize_session=False)).all()
    if not marked:
        return 0
    defn = definition_of(survey)
    contacts = {row.id: (row.email, row.created_at) for row in session.execute(
        select(Member.id, Member.email, Member.created_at).where(Member.id.in_([m.member_id for m in marked])))}
    letters = _letters("survey_reminder", {m.language for m in marked}, survey, defn)
    unsubscribe, links = UnsubscribeLinks(), SurveyLinks()
    outbox = _OutboxBatch(session, kind=REMINDER_KIND, send_out=send_out_of(REMINDER_KIND, survey.id), now=now,
                          due=now, letters=letters.values())
    rows, changes = [], []
    for invitation_id, member_id, language, secret, digest in sorted(marked):
        email, created_at = contacts[member_id]
        token = links.token_for(secret) if secret else None
        if token is None or token_digest(token) != digest:
            # The link cannot be derived (no secret, or SECRET_KEY changed): a new one.
            secret, token, digest = links.new()
            changes.append({"id": invitation_id, "token_secret": secret, "token_digest": digest})
        rows.append(outbox.row(letters[language], to=email, link=links.url(token),
                               unsubscribe=unsubscribe.url(member_id, created_at)))
    outbox.insert(rows)
    if changes:
        session.execute(update(Invitation), changes)
    return len(marked)


# ---------------------------------------------------------------- opening and closing


def open_and_close_due(session: Session, *, now: datetime | None = None) -> tuple[int, int]:
    """Open scheduled surveys whose time has come and close those past closing time.

    Returns (opened, closed). Run every minute by ``medborgarpanel fielding tick``.
    """
    now = now or utcnow()
    opened = session.execute(
        update(Survey).where(Survey.status == SurveyStatus.SCHEDULED, Survey.opens_at <= now,
                             or_(Survey.closes_at.is_(None), Survey.closes_at > now))
        .values(status=SurveyStatus.OPEN).execution_options(synchronize_session=False)).rowcount
    closing = list(session.scalars(select(Survey.id).where(
        Survey.status.in_((SurveyStatus.OPEN, SurveyStatus.SCHEDULED)), Survey.closes_at <= now)))
    if closing:
        session.execute(update(Survey).where(Survey.id.in_(closing))
                        .values(status=SurveyStatus.CLOSED).execution_options(synchronize_session=False))
        _drop_unsent_mail(session, closing)
    return opened, len(closing)


def close_now(session: Session, survey: Survey, *, now: datetime | None = None) -> None:
    """Close an open or scheduled survey at once (answers are no longer taken)."""
    now = now or utcnow()
    if survey.status not in (SurveyStatus.OPEN, SurveyStatus.SCHEDULED):
        raise FieldingError(_l("Enkäten är inte öppen."), None)
    survey.status = SurveyStatus.CLOSED
    survey.closes_at = now
    _drop_unsent_mail(session, [survey.id])


def _drop_unsent_mail(session: Session, survey_ids: list[int]) -> int:
    """Delete the invitations and reminders of closed surveys that are still waiting in the
    outbox: they would invite to a survey that no longer takes answers. (Deleted rather than
    marked failed, so nobody sends them again from the failed-mail page.)"""
    send_outs = [send_out_of(kind, survey_id) for survey_id in survey_ids for kind in (INVITATION_KIND, REMINDER_KIND)]
    return session.execute(
        delete(OutboxMessage).where(OutboxMessage.status == OutboxStatus.QUEUED, send_out_rows(send_outs))
        .execution_options(synchronize_session=False)).rowcount


def open_surveys(session: Session) -> list[Survey]:
    return list(session.scalars(select(Survey).where(Survey.status == SurveyStatus.OPEN).order_by(Survey.id)))


# ---------------------------------------------------------------- progress and statistics


@dataclass
class MailProgress:
    """Outbox status of a send-out's emails."""

    queued: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.sending + self.sent + self.failed


def mail_progress(session: Session, survey: Survey, kind: str = INVITATION_KIND) -> MailProgress:
    """Queued / sending / sent / failed of the survey's invitation emails (or, with
    ``kind=REMINDER_KIND``, of all its reminder emails). Sent rows purged from the outbox
    are no longer counted."""
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(send_out_rows([send_out_of(kind, survey.id)]))
        .group_by(OutboxMessage.status))
    progress = MailProgress()
    for status, count in rows:
        if status in ("queued", "sending", "sent", "failed"):
            setattr(progress, status, count)
    return progress


@dataclass
class Tally:
    invited: int = 0
    opened: int = 0
    started: int = 0
    completed: int = 0
    reminded: int = 0

    def add(self, other: Tally) -> None:
        self.invited += other.invited
        self.opened += other.opened
        self.started += other.started
        self.completed += other.completed
        self.reminded += other.reminded

    @property
    def response_rate(self) -> float | None:
        return self.completed / self.invited if self.invited else None


@dataclass
class FieldingStats:
    """Invited / opened / started / completed per stratum and per margin (stratum at invitation time)."""

    total: Tally = field(default_factory=Tally)
    strata: list[tuple[tuple[str, str, str], Tally]] = field(default_factory=list)
    by_gender: list[tuple[str, Tally]] = field(default_factory=list)
    by_age_group: list[tuple[str, Tally]] = field(default_factory=list)
    by_district: list[tuple[str, Tally]] = field(default_factory=list)


def _age_order(label: str) -> tuple[int, str]:
    digits = "".join(ch for ch in label.split("-")[0] if ch.isdigit())
    return (int(digits) if digits else 999, label)


def fielding_stats(session: Session, survey: Survey) -> FieldingStats:
    """Counts as they are now (a reload of the page shows current numbers)."""
    rows = session.execute(
        select(Invitation.gender, Invitation.age_group, Invitation.district_code,
               func.count(Invitation.id), func.count(Invitation.opened_at), func.count(Invitation.started_at),
               func.count(Invitation.completed_at),
               func.sum(case((Invitation.reminders_sent > 0, 1), else_=0)))
        .where(Invitation.survey_id == survey.id, Invitation.revoked_at.is_(None))
        .group_by(Invitation.gender, Invitation.age_group, Invitation.district_code))
    stats = FieldingStats()
    margins: list[dict[str, Tally]] = [{}, {}, {}]
    for gender, age, district, invited, opened, started, completed, reminded in rows:
        tally = Tally(invited, opened, started, completed, int(reminded or 0))
        stats.strata.append(((gender, age, district), tally))
        stats.total.add(tally)
        for margin, key in zip(margins, (gender, age, district)):
            margin.setdefault(key, Tally()).add(tally)
    gender_order = {g: i for i, g in enumerate(("kvinna", "man", "annan", "uppger_ej"))}
    stats.strata.sort(key=lambda item: (gender_order.get(item[0][0], 9), _age_order(item[0][1]), item[0][2]))
    stats.by_gender = sorted(margins[0].items(), key=lambda item: gender_order.get(item[0], 9))
    stats.by_age_group = sorted(margins[1].items(), key=lambda item: _age_order(item[0]))
    stats.by_district = sorted(margins[2].items())
    return stats


def district_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(District.code, District.name)).all())


def list_districts(session: Session) -> list[District]:
    return list(session.scalars(select(District).order_by(District.name)))
