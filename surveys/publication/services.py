"""Publishing a survey's report: frozen versions, free-text approval, decisions, feedback mail.

Services take a Session first, never touch the request and never commit: the view or
CLI command that called them owns the transaction.

Publishing (:func:`publish`) builds the report (``surveys.results.services.build_report``),
suppresses small cells in it (:mod:`surveys.publication.suppression`), keeps only the
fixed breakdowns and the approved free-text answers, stores the result as version n+1,
and queues the feedback email (återkoppling) to the respondents - and, if the analyst
chose so, to every active member - in the same transaction. A second press of the
button is refused (the form names the version it expects to create, and the database
has one row per survey and version), and each email is queued at most once per
(survey, member, kind): :class:`FeedbackDelivery` is checked and written with it.

Respondents are members whose invitation has a ``survey_completion`` row: in anonymous
mode responses are not linked to members, but completions are linked to invitations.
Only members who may be contacted today get mail (active, or paused with the pause
over): unsubscribed, pending and paused members get none, and members who left have
no row at all. The emails say nothing about any person: they carry the published
(suppressed) overall figures and a link to the public results page.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from panel.db import utcnow
from panel.charts import format_number
from panel.i18n import resident_languages
from panel.mail.outbox import (
    PRIORITY_BULK, UNSUBSCRIBE_PLACEHOLDER, add_shared_body, email_url, list_unsubscribe_headers, render_email,
)
from panel.members.services import contactable
from panel.models import Member, OutboxMessage, StaffUser
from panel.models.outbox import OutboxStatus
from surveys.answering.models import Completion, SurveyResponse
from surveys.answering.services import Phase, phase
from surveys.definition import OTHER_SUFFIX, TEXT_TYPES, SurveyDefinition, parse_definition, text_in
from surveys.fielding import bulk
from surveys.fielding.links import UnsubscribeLinks
from surveys.fielding.models import Invitation
from surveys.fielding.services import local_today
from surveys.markdown import render_markdown
from surveys.models import Survey
from surveys.publication.models import (
    FeedbackDelivery,
    FeedbackKind,
    FreeTextApproval,
    PublishedReport,
    ReportDecision,
)
from surveys.publication.presentation import key_results, present
from surveys.publication.suppression import FIXED_BREAKDOWNS, suppress_document

MAX_DECISION = 10_000
_UNSUBSCRIBE = UNSUBSCRIBE_PLACEHOLDER  # the outbox's URL-safe placeholder, replaced per member
PUBLIC_ENDPOINT = "publication.public_report"


class PublicationError(ValueError):
    """Bad publication input; ``field`` names the form field (or None for the whole form)."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class SurveyNotClosedError(PublicationError):
    """The survey is not closed yet: invitees can still answer, so no result is final."""


# ---------------------------------------------------------------- versions


def versions(session: Session, survey: Survey) -> list[PublishedReport]:
    """Every published version of the survey's report, newest first."""
    return list(session.scalars(select(PublishedReport).where(PublishedReport.survey_id == survey.id)
                                .order_by(PublishedReport.version.desc())))


def latest_version(session: Session, survey_id: int) -> PublishedReport | None:
    return session.scalar(select(PublishedReport).where(PublishedReport.survey_id == survey_id)
                          .order_by(PublishedReport.version.desc()).limit(1))


def version_of(session: Session, survey_id: int, version: int) -> PublishedReport | None:
    return session.scalar(select(PublishedReport).where(PublishedReport.survey_id == survey_id,
                                                        PublishedReport.version == version))


def published_reports(session: Session) -> list[PublishedReport]:
    """The latest version of every survey that has one, newest first."""
    latest = (select(PublishedReport.survey_id, func.max(PublishedReport.version).label("version"))
              .group_by(PublishedReport.survey_id).subquery())
    return list(session.scalars(
        select(PublishedReport)
        .join(latest, (PublishedReport.survey_id == latest.c.survey_id) & (PublishedReport.version == latest.c.version))
        .order_by(PublishedReport.published_at.desc(), PublishedReport.id.desc())))


def code_version() -> str:
    """The code that published: package version and git commit (``0.1.0+g<commit>``),
    as the results package records it for the document."""
    from surveys.results.services import code_version as results_code_version

    version = results_code_version()
    return f"{version.version}+g{version.git_commit[:12]}" if version.git_commit else version.version


# ---------------------------------------------------------------- free text


@dataclass(frozen=True)
class FreeTextAnswer:
    response_id: uuid.UUID
    question_key: str  # key in the answers mapping: "q" or "q-other"
    question_text: dict[str, str]  # the question's texts by language
    text: str
    approved: bool

    @property
    def ref(self) -> str:
        """Form value naming this answer: "<response uuid>:<question key>"."""
        return f"{self.response_id}:{self.question_key}"


def _free_text_questions(defn: SurveyDefinition) -> list[tuple[str, dict[str, str]]]:
    """(answers key, question texts) of every free-text field, in survey order ("q-other" for "annat")."""
    keys = []
    for page in defn.pages:
        for question in page.questions:
            if question.type in TEXT_TYPES:
                keys.append((question.key, dict(question.text)))
            elif question.other is not None:
                keys.append((question.key + OTHER_SUFFIX, dict(question.text)))
    return keys


def free_text_answers(session: Session, survey: Survey) -> list[FreeTextAnswer]:
    """Every non-empty free-text answer of the survey with its approval, question by question."""
    questions = _free_text_questions(parse_definition(survey.definition))
    approved = set(session.execute(select(FreeTextApproval.response_id, FreeTextApproval.question_key)
                                   .where(FreeTextApproval.survey_id == survey.id)))
    by_question: dict[str, list[FreeTextAnswer]] = {key: [] for key, _ in questions}
    texts = dict(questions)
    rows = session.execute(select(SurveyResponse.id, SurveyResponse.answers)
                           .where(SurveyResponse.survey_id == survey.id).order_by(SurveyResponse.id))
    for response_id, answers in rows:
        for key in by_question:
            value = (answers or {}).get(key)
            if isinstance(value, str) and value.strip():
                by_question[key].append(FreeTextAnswer(response_id, key, texts[key], value.strip(),
                                                       (response_id, key) in approved))
    return [answer for key, _ in questions for answer in by_question[key]]


def set_approvals(session: Session, survey: Survey, refs: Iterable[str], *, by: StaffUser | None,
                  now: datetime | None = None) -> tuple[int, int]:
    """Make exactly the answers named by ``refs`` approved; return (approved, withdrawn) counts.

    Unknown or malformed references raise PublicationError (nothing is changed).
    """
    now = now or utcnow()
    known = {answer.ref: answer for answer in free_text_answers(session, survey)}
    wanted = set(refs)
    unknown = wanted - known.keys()
    if unknown:
        raise PublicationError(_l("Några av de markerade svaren finns inte i den här enkäten. Ladda om sidan."))
    added = withdrawn = 0
    for ref, answer in known.items():
        if ref in wanted and not answer.approved:
            session.add(FreeTextApproval(survey_id=survey.id, response_id=answer.response_id,
                                         question_key=answer.question_key, approved_at=now,
                                         approved_by_id=by.id if by else None))
            added += 1
        elif ref not in wanted and answer.approved:
            session.execute(FreeTextApproval.__table__.delete().where(
                FreeTextApproval.response_id == answer.response_id,
                FreeTextApproval.question_key == answer.question_key))
            withdrawn += 1
    session.flush()
    return added, withdrawn


def approved_free_text(session: Session, survey: Survey) -> list[dict[str, Any]]:
    """The approved answers grouped by question, as the document's ``free_text`` (FreeTextAnswers).

    No response ids, no order of arrival (answers are sorted by text): nothing that
    could lead back to a respondent beyond what the analyst read and approved.
    """
    groups: dict[str, dict[str, Any]] = {}
    for answer in free_text_answers(session, survey):
        if answer.approved:
            other = answer.question_key.endswith(OTHER_SUFFIX)
            key = answer.question_key.removesuffix(OTHER_SUFFIX) if other else answer.question_key
            group = groups.setdefault(answer.question_key, {
                "question_key": key, "source": "other" if other else "text", "text": answer.question_text,
                "answers": []})
            group["answers"].append(answer.text)
    for group in groups.values():
        group["answers"].sort()
    return list(groups.values())


# ---------------------------------------------------------------- publishing


@dataclass(frozen=True)
class PublishResult:
    report: PublishedReport
    emails: int


def next_version(session: Session, survey: Survey) -> int:
    latest = latest_version(session, survey.id)
    return (latest.version if latest else 0) + 1


def build_document(session: Session, survey: Survey, *, now: datetime) -> dict[str, Any]:
    """The full (unsuppressed) report document as JSON data, from the results package."""
    from surveys.results.services import build_report  # the results package computes every figure

    return build_report(session, survey, now=now).to_dict()


def not_publishable_reason(survey: Survey, now: datetime) -> Any | None:
    """Why ``survey`` cannot be published at ``now`` (None when it can): only a closed survey, or
    one past its closing time (the minute job that marks it closed may lag), is published."""
    if phase(survey, now) == Phase.CLOSED:
        return None
    return _l("Enkäten är inte stängd, så de inbjudna kan fortfarande svara och resultatet är inte slutligt. "
              "Stäng enkäten under Utskick (”Stäng enkäten nu”) eller vänta tills den stänger, och publicera sedan.")


def publish(session: Session, survey: Survey, *, by: StaffUser | None, expected_version: int,
            notify_all_members: bool = False, now: datetime | None = None,
            document: dict[str, Any] | None = None) -> PublishResult:
    """Freeze the survey's report as version ``expected_version`` and queue the feedback email.

    ``expected_version`` must be the next version: a second press of the same button
    (or a colleague publishing in between) raises PublicationError instead of
    publishing twice. ``document`` (JSON data of a report document) is built from the
    survey's responses when not given. Only a closed survey is published
    (SurveyNotClosedError otherwise): while it is open, invitees can still answer and
    the figures, response rate included, would be presented as final when they are not.
    """
    now = now or utcnow()
    current = next_version(session, survey)
    if expected_version != current:
        raise PublicationError(_l("Rapporten är redan publicerad som version %(n)s. Ladda om sidan om du vill "
                                  "publicera en ny version.", n=current - 1))
    reason = not_publishable_reason(survey, now)
    if reason is not None:
        raise SurveyNotClosedError(reason)
    data = document if document is not None else build_document(session, survey, now=now)
    if not (data.get("fielding") or {}).get("responses"):
        raise PublicationError(_l("Enkäten har inga svar än, så det finns inget resultat att publicera."))
    k = int(current_app.config["PANEL_SUPPRESSION_MIN_N"])
    suppressed = suppress_document(data, k=k)
    suppressed.document["free_text"] = approved_free_text(session, survey)
    settings = {
        "suppression": {"k": k, "rule": "unweighted base below k, with secondary suppression",
                        "hidden_values": suppressed.hidden, "breakdowns": list(FIXED_BREAKDOWNS)},
        # The suppressed copy: the unsuppressed margins would keep cells below k in the frozen version.
        "weighting": suppressed.document.get("weighting"),
        "settings": data.get("settings"),
        "document_code_version": data.get("code_version"),
    }
    report = PublishedReport(survey_id=survey.id, version=current, document=suppressed.document,
                             settings=settings, suppression_min_n=k, code_version=code_version(),
                             notify_all_members=notify_all_members, published_at=now,
                             published_by_id=by.id if by else None, published_by_name=by.name if by else "")
    session.add(report)
    session.flush()
    emails = queue_feedback(session, report, kind=FeedbackKind.PUBLISHED, all_members=notify_all_members, now=now)
    return PublishResult(report, emails)


# ---------------------------------------------------------------- decisions


def decisions(session: Session, survey_id: int) -> list[ReportDecision]:
    """The decisions added to the survey's report, oldest first."""
    return list(session.scalars(select(ReportDecision).where(ReportDecision.survey_id == survey_id)
                                .order_by(ReportDecision.created_at, ReportDecision.id)))


def add_decision(session: Session, survey: Survey, *, text: str, by: StaffUser | None,
                 now: datetime | None = None) -> tuple[ReportDecision, int]:
    """Add a decision to the survey's published report and queue the follow-up email.

    The follow-up goes to everyone the publication email was queued for who may still
    be contacted. Returns the decision and how many emails were queued.
    """
    now = now or utcnow()
    text = (text or "").strip()
    if not text:
        raise PublicationError(_l("Skriv vad som beslutades."), "text")
    if len(text) > MAX_DECISION:
        raise PublicationError(_l("Texten får vara högst %(n)s tecken.", n=MAX_DECISION), "text")
    report = latest_version(session, survey.id)
    if report is None:
        raise PublicationError(_l("Rapporten är inte publicerad än. Publicera den innan du lägger till ett beslut."))
    decision = ReportDecision(survey_id=survey.id, published_report_id=report.id, text=text, created_at=now,
                              created_by_id=by.id if by else None, created_by_name=by.name if by else "")
    session.add(decision)
    session.flush()
    emails = queue_feedback(session, report, kind=FeedbackKind.DECISION, decision=decision, now=now)
    return decision, emails


# ---------------------------------------------------------------- feedback email


def _recipients(session: Session, report: PublishedReport, *, kind: str, decision: ReportDecision | None,
                all_members: bool, now: datetime) -> list[tuple[int, str, str, datetime]]:
    """(member id, email, language, created_at) of members to mail now, none already mailed."""
    today = local_today(now)
    decision_id = decision.id if decision else 0
    already = exists().where(FeedbackDelivery.survey_id == report.survey_id, FeedbackDelivery.member_id == Member.id,
                             FeedbackDelivery.kind == kind, FeedbackDelivery.decision_id == decision_id)
    query = select(Member.id, Member.email, Member.language, Member.created_at).where(contactable(today), ~already)
    if kind == FeedbackKind.DECISION:
        told = exists().where(FeedbackDelivery.survey_id == report.survey_id, FeedbackDelivery.member_id == Member.id,
                              FeedbackDelivery.kind == FeedbackKind.PUBLISHED)
        query = query.where(told)
    elif not all_members:
        answered = (select(Invitation.member_id)
                    .join(Completion, Completion.invitation_id == Invitation.id)
                    .where(Invitation.survey_id == report.survey_id, Invitation.member_id.is_not(None)))
        query = query.where(Member.id.in_(answered))
    return list(session.execute(query.order_by(Member.id)))


def _email_language(language: str | None) -> str:
    """The member's language when the panel offers it to residents (Arabic too), else the default."""
    return language if language in resident_languages() else current_app.config["BABEL_DEFAULT_LOCALE"]


def decision_language() -> str:
    """The language decisions are written in: staff write them in the panel's own language (Swedish)."""
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def feedback_context(report: PublishedReport, language: str, decision: ReportDecision | None) -> dict[str, Any]:
    """What the feedback emails say: title, key results, the public link, the decision."""
    with force_locale(language):
        shown = present(report, language)
        results = key_results(shown)
        respondents = format_number(shown.respondents, 0) if shown.respondents else None
    context: dict[str, Any] = {
        "survey_title": shown.title,
        "results": results,
        "respondents": respondents,
        "link": email_url(PUBLIC_ENDPOINT, survey_id=report.survey_id, lang=language),
        "unsubscribe_link": _UNSUBSCRIBE,
    }
    if decision is not None:
        context["decision_text"] = decision.text
        context["decision_html"] = render_markdown(decision.text)
        context["decision_language"] = decision_language()
    return context


def queue_feedback(session: Session, report: PublishedReport, *, kind: str, all_members: bool = False,
                   decision: ReportDecision | None = None, now: datetime | None = None) -> int:
    """Queue the feedback email of ``kind`` to every recipient not yet mailed; return how many.

    Each email is rendered once per language with a placeholder for the member's
    unsubscribe link and stored once as a shared body with the List-Unsubscribe headers
    (``panel.mail.outbox.add_shared_body``, as invitations are); each member's row holds
    the address, the subject, the body's id and the member's own unsubscribe link, which
    the dispatcher puts in (body and headers) when it sends. The rows go
    to the outbox in bulk (:mod:`surveys.fielding.bulk`: COPY on PostgreSQL) together with
    a :class:`FeedbackDelivery` row per member that keeps it from being queued again.
    The caller's transaction must already have written (the version or the decision),
    as :func:`surveys.fielding.bulk.next_ids` requires on SQLite.
    """
    now = now or utcnow()
    recipients = _recipients(session, report, kind=kind, decision=decision, all_members=all_members, now=now)
    if not recipients:
        return 0
    template = "report_published" if kind == FeedbackKind.PUBLISHED else "report_decision"
    letters: dict[str, tuple[str, int]] = {}  # language -> (subject, shared body id)
    unsubscribe_headers = list_unsubscribe_headers(_UNSUBSCRIBE)  # filled per row by the dispatcher
    decision_id = decision.id if decision else 0
    for language in sorted({_email_language(lang) for _, _, lang, _ in recipients}):
        subject, text, html = render_email(template, language, feedback_context(report, language, decision))
        letters[language] = (subject, add_shared_body(session, text, html, headers=unsubscribe_headers,
                                                      send_out=f"{kind}:{report.id}:{decision_id}"))
    links = UnsubscribeLinks()
    ids = bulk.next_ids(session, OutboxMessage.__table__, len(recipients))

    def emails():
        for message_id, (member_id, email, language, created_at) in zip(ids, recipients, strict=True):
            subject, body_id = letters[_email_language(language)]
            yield (message_id, email, subject, body_id, links.url(member_id, created_at))

    bulk.insert_rows(session, OutboxMessage.__table__,
                     ("id", "to_address", "subject", "body_id", "unsubscribe_link"), emails(),
                     {"kind": kind, "status": OutboxStatus.QUEUED.value, "priority": PRIORITY_BULK, "attempts": 0,
                      "next_attempt_at": now, "created_at": now, "body_text": "", "body_html": "", "headers": ""})
    bulk.insert_rows(session, FeedbackDelivery.__table__, ("member_id", "outbox_message_id"),
                     ((member_id, message_id) for message_id, (member_id, *_rest) in zip(ids, recipients, strict=True)),
                     {"survey_id": report.survey_id, "kind": kind, "decision_id": decision.id if decision else 0,
                      "created_at": now})
    return len(recipients)


def feedback_counts(session: Session, survey_id: int) -> dict[tuple[str, int], int]:
    """How many feedback emails were queued per (kind, decision id)."""
    rows = session.execute(select(FeedbackDelivery.kind, FeedbackDelivery.decision_id, func.count())
                           .where(FeedbackDelivery.survey_id == survey_id)
                           .group_by(FeedbackDelivery.kind, FeedbackDelivery.decision_id))
    return {(kind, decision_id): count for kind, decision_id, count in rows}
