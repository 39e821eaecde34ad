"""Answering a survey: from the personal link to one stored response.

The flow (the views in :mod:`surveys.answering.views` call these in order):

1. :func:`find_invitation` turns the token of ``/s/<token>`` into an invitation, or
   raises :class:`LinkInvalid` -- the same for unknown, expired and revoked links and
   for members who have left. A malformed token is refused by :func:`is_well_formed`
   before the database is asked. Unknown tokens are recorded per address
   (:class:`~surveys.answering.models.LinkFailure`), and an address with too many of
   them gets :class:`TooManyGuesses` before anything is looked up.
2. :func:`check_answerable` says whether the survey can be answered now
   (:class:`NotYetOpen`, :class:`Closed`, :class:`AlreadyAnswered`).
3. :func:`mark_opened` notes that the link was fetched -- by the resident or by a mail
   scanner, which cannot be told apart: "opened" means "link fetched". It only fills
   an empty timestamp, so it changes nothing a resident could notice.
4. :func:`start` (the POST behind the start button) notes the start and creates the
   draft that holds answers in progress; the view then keeps the invitation in the
   signed session cookie, and the token leaves the URL.
5. :func:`save_page` stores one page's answers and says which page comes next;
   :func:`complete` stores the response when every page the resident sees is done.

Times are aware UTC datetimes; the caller passes ``now``. Nothing here commits: the view
owns the transaction.

Age bands follow SCB's population tables: the age attained during the current year
(year of answering minus birth year), banded with ``analysis.targets.DEFAULT_AGE_BANDS``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from panel.members.services import age_group
from panel.models import Member
from surveys.answering.models import AnswerDraft, Completion, LinkFailure, SurveyResponse
from surveys.authoring.services import definition_of
from surveys.definition import Page, QuestionType, SurveyDefinition
from surveys.fielding.models import Invitation
from surveys.forms import expected_pages, next_page, previous_page, prune_answers, visible_questions
from surveys.models import Survey, SurveyStatus

# secrets.token_urlsafe(32) gives 43 characters; allow some room, nothing else.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")
STOCKHOLM = ZoneInfo("Europe/Stockholm")


class Phase(StrEnum):
    NOT_YET_OPEN = "not_yet_open"
    OPEN = "open"
    CLOSED = "closed"


class AnsweringError(Exception):
    """Something that stops a resident from answering, shown as a page of its own."""


class LinkInvalid(AnsweringError):
    """Unknown, malformed, expired or revoked link, or the member has left: all look the same."""


class TooManyGuesses(AnsweringError):
    """Too many unknown links from one address within the window."""


class NotYetOpen(AnsweringError):
    def __init__(self, opens_at: datetime | None) -> None:
        super().__init__("survey not open yet")
        self.opens_at = opens_at


class Closed(AnsweringError):
    """The survey has closed."""


class AlreadyAnswered(AnsweringError):
    """The invitation's response is already stored (the caller must roll back)."""


class NoRespondent(AnsweringError):
    """No respondent session (cookie missing or for another survey): open the link again."""


@dataclass(frozen=True)
class Throttle:
    """At most ``max_failures`` unknown links per address within ``window``."""

    max_failures: int = 20
    window: timedelta = timedelta(minutes=10)


# --- the link ---------------------------------------------------------------------------


def is_well_formed(token: object) -> bool:
    """True if ``token`` could be a link token (checked before any database access)."""
    return isinstance(token, str) and TOKEN_SHAPE.fullmatch(token) is not None


def token_digest(token: str) -> str:
    """What Invitation.token_digest holds for ``token``: SHA-256, hex."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def find_invitation(session: Session, token: str, *, remote_addr: str, throttle: Throttle, now: datetime,
                    grace: timedelta) -> Invitation:
    """The invitation behind a well-formed ``token``.

    Raises TooManyGuesses when ``remote_addr`` has had too many unknown tokens recently
    (the token is then not looked up), and LinkInvalid for unknown tokens (recorded for
    the throttle: commit even then), revoked and expired links, and members who left.
    """
    if not is_well_formed(token):
        raise LinkInvalid()
    failures = session.scalar(select(func.count(LinkFailure.id)).where(
        LinkFailure.remote_addr == remote_addr[:64], LinkFailure.at >= now - throttle.window))
    if failures >= throttle.max_failures:
        raise TooManyGuesses()
    invitation = session.scalar(select(Invitation).where(Invitation.token_digest == token_digest(token)))
    if invitation is None:
        session.execute(delete(LinkFailure).where(LinkFailure.at < now - timedelta(days=1)))
        session.add(LinkFailure(remote_addr=remote_addr[:64], at=now))
        raise LinkInvalid()
    check_link(invitation, now=now, grace=grace)
    return invitation


def check_link(invitation: Invitation, *, now: datetime, grace: timedelta) -> None:
    """Raises LinkInvalid if the link was revoked, has expired, or its member has left.

    A link expires ``grace`` after the survey's closing time; until then a closed
    survey says that it has closed.
    """
    closes_at = invitation.survey.closes_at
    if invitation.revoked_at is not None or invitation.member_id is None:
        raise LinkInvalid()
    if closes_at is not None and now >= closes_at + grace:
        raise LinkInvalid()


def phase(survey: Survey, now: datetime) -> Phase:
    """Whether ``survey`` takes answers at ``now``.

    Closed when its status is closed or its closing time has passed. Open when its
    status is open, or scheduled with an opening time that has passed (whoever opens
    scheduled surveys may be late), and the opening time, if any, has passed.
    Otherwise (a draft, or scheduled for later) not yet open.
    """
    if survey.status == SurveyStatus.CLOSED or (survey.closes_at is not None and now >= survey.closes_at):
        return Phase.CLOSED
    opened = survey.opens_at is None or now >= survey.opens_at
    if survey.status == SurveyStatus.OPEN and opened:
        return Phase.OPEN
    if survey.status == SurveyStatus.SCHEDULED and survey.opens_at is not None and opened:
        return Phase.OPEN
    return Phase.NOT_YET_OPEN


def check_answerable(invitation: Invitation, now: datetime) -> None:
    """Raises AlreadyAnswered, Closed or NotYetOpen (in that order of precedence)."""
    if invitation.completed_at is not None:
        raise AlreadyAnswered()
    current = phase(invitation.survey, now)
    if current == Phase.CLOSED:
        raise Closed()
    if current == Phase.NOT_YET_OPEN:
        raise NotYetOpen(invitation.survey.opens_at)


def mark_opened(session: Session, invitation: Invitation, now: datetime) -> None:
    """Note the first fetch of the landing page (which a mail scanner may have made)."""
    if invitation.opened_at is None:
        session.execute(update(Invitation).where(Invitation.id == invitation.id, Invitation.opened_at.is_(None))
                        .values(opened_at=now).execution_options(synchronize_session=False))
        set_committed_value(invitation, "opened_at", now)  # written already; not again at flush


def language_for(defn: SurveyDefinition, *wanted: str | None) -> str:
    """The first of ``wanted`` that the survey is written in, else its default (Swedish)."""
    return next((language for language in wanted if language in defn.languages), defn.default_language)


def find_draft(session: Session, invitation: Invitation) -> AnswerDraft | None:
    """The invitation's answers in progress, if answering has started."""
    return session.get(AnswerDraft, invitation.id)


def start(session: Session, invitation: Invitation, *, language: str, now: datetime) -> AnswerDraft:
    """Start (or resume) answering: note the start and make sure there is a draft."""
    if invitation.opened_at is None:
        invitation.opened_at = now
    if invitation.started_at is None:
        invitation.started_at = now
    draft = find_draft(session, invitation)
    if draft is None:
        draft = AnswerDraft(invitation_id=invitation.id, language=language, answers={}, pages_done={},
                            created_at=now, updated_at=now)
        session.add(draft)
    elif draft.language != language:
        draft.language = language
    session.flush()
    return draft


def _respondent_queries():
    """The statements of :func:`respondent`, built once (building them cost as much as running them)."""
    with_survey = joinedload(Invitation.survey, innerjoin=True).defer(Survey.definition)
    invitation_id = bindparam("invitation_id", type_=Integer)
    by_id = select(Invitation, AnswerDraft).options(with_survey).where(Invitation.id == invitation_id)
    return {
        "read": by_id.outerjoin(AnswerDraft, AnswerDraft.invitation_id == Invitation.id),
        "lock": by_id.join(AnswerDraft, AnswerDraft.invitation_id == Invitation.id).with_for_update(of=AnswerDraft),
        "invitation": select(Invitation).options(with_survey).where(Invitation.id == invitation_id),
    }


_RESPONDENT_QUERIES = _respondent_queries()


def respondent(session: Session, invitation_id: Any, survey_id: Any, *, now: datetime,
               grace: timedelta, lock: bool = False) -> tuple[Invitation, AnswerDraft | None]:
    """The invitation (with its survey) and its draft, for a respondent session.

    One query. With ``lock`` the draft's row stays locked until the transaction ends
    (PostgreSQL), so that two tabs saving at once do not overwrite each other's page;
    only an inner join can lock the draft, so a missing draft costs a second query.
    Raises NoRespondent when the session names nothing usable, LinkInvalid when the
    link has since been revoked or expired or the member left. The caller checks
    :func:`check_answerable` (a completed invitation has no draft).
    """
    if not isinstance(invitation_id, int) or not isinstance(survey_id, int):
        raise NoRespondent()
    parameters = {"invitation_id": invitation_id}
    row = session.execute(_RESPONDENT_QUERIES["lock" if lock else "read"], parameters).first()
    invitation, draft = row if row is not None else (None, None)
    if invitation is None and lock:
        invitation = session.scalar(_RESPONDENT_QUERIES["invitation"], parameters)
    if invitation is None or invitation.survey_id != survey_id:
        raise NoRespondent()
    check_link(invitation, now=now, grace=grace)
    if draft is None and invitation.completed_at is None:
        session.refresh(invitation)  # another request may just have stored the response
    return invitation, draft


_definitions: dict[tuple[int, int, datetime], SurveyDefinition] = {}


def definition(survey: Survey) -> SurveyDefinition:
    """The survey's parsed definition, kept per process until the survey row changes
    (its revision or update time), so that a page view does not read and parse it."""
    key = (survey.id, survey.revision, survey.updated_at)
    found = _definitions.get(key)
    if found is None:
        found = definition_of(survey)
        if len(_definitions) >= 64:
            _definitions.clear()
        _definitions[key] = found
    return found


# --- pages -----------------------------------------------------------------------------


def shown_keys(defn: SurveyDefinition, page: Page, answers: dict[str, Any]) -> list[str]:
    return [question.key for question in visible_questions(defn, page, answers)]


def is_done(defn: SurveyDefinition, page: Page, draft: AnswerDraft) -> bool:
    """A page is done when it was saved while showing the questions it shows now."""
    return draft.pages_done.get(page.key) == shown_keys(defn, page, draft.answers)


def first_unfinished(defn: SurveyDefinition, draft: AnswerDraft) -> Page | None:
    """The first page the resident sees that is not done; None when all are."""
    return next((page for page in defn.pages
                 if shown_keys(defn, page, draft.answers) and not is_done(defn, page, draft)), None)


def is_reachable(defn: SurveyDefinition, page: Page, draft: AnswerDraft) -> bool:
    """A page can be shown when the resident sees it and every page they see before it is done."""
    if not shown_keys(defn, page, draft.answers):
        return False
    for earlier in defn.pages[:defn.pages.index(page)]:
        if shown_keys(defn, earlier, draft.answers) and not is_done(defn, earlier, draft):
            return False
    return True


def resume_page(defn: SurveyDefinition, draft: AnswerDraft) -> Page:
    """Where to continue: the page the resident was sent to last, if it can still be shown,
    else the first page not done, else the last page they see (to send the answers)."""
    page = defn.page(draft.page_key) if draft.page_key else None
    if page is not None and is_reachable(defn, page, draft):
        return page
    unfinished = first_unfinished(defn, draft)
    if unfinished is not None:
        return unfinished
    shown = [page for page in defn.pages if shown_keys(defn, page, draft.answers)]
    return shown[-1] if shown else defn.pages[0]


def save_page(draft: AnswerDraft, defn: SurveyDefinition, page: Page, page_answers: dict[str, Any],
              *, now: datetime) -> Page | None:
    """Store a validated page's answers; return the page to show next, None when every
    page the resident sees is done (time to :func:`complete`).

    Answers that earlier changes have made irrelevant (questions now hidden) are dropped.
    """
    answers = prune_answers(defn, {**draft.answers, **page_answers})
    done = {key: keys for key, keys in draft.pages_done.items() if defn.page(key) is not None}
    done[page.key] = shown_keys(defn, page, answers)
    draft.answers, draft.pages_done, draft.updated_at = answers, done, now
    target = next_page(defn, page, answers) or first_unfinished(defn, draft)
    draft.page_key = target.key if target is not None else page.key
    return target


def go_back(draft: AnswerDraft, defn: SurveyDefinition, page: Page, *, now: datetime) -> Page:
    """The page before ``page`` (or ``page`` itself on the first one); remembered for resuming."""
    target = previous_page(defn, page, draft.answers) or page
    draft.page_key, draft.updated_at = target.key, now
    return target


def page_position(defn: SurveyDefinition, page: Page, draft: AnswerDraft) -> tuple[int, int]:
    """("page n of m"): the page's place among the pages the resident may still see, and
    their number (a page whose condition is not yet decided counts as possible)."""
    pages = expected_pages(defn, draft.answers)
    number = pages.index(page) + 1 if page in pages else len(pages)
    return number, len(pages)


def is_last(defn: SurveyDefinition, page: Page, draft: AnswerDraft) -> bool:
    """True when no later page can be shown, whatever the answers: its button sends the answers."""
    return expected_pages(defn, draft.answers)[-1:] == [page]


# --- limits on what a page may receive ---------------------------------------------------


def value_limit(defn: SurveyDefinition, page: Page, answers: dict[str, Any]) -> int:
    """The most form values an honest browser sends for ``page``: one per input, plus controls."""
    count = 2  # csrf_token, nav
    for question in visible_questions(defn, page, answers):
        if question.type == QuestionType.MULTIPLE_CHOICE:
            count += len(question.values())
        elif question.type == QuestionType.MATRIX:
            count += len(question.items)
        else:
            count += 1
        if question.other:
            count += 1
    return count


def body_limit(defn: SurveyDefinition, page: Page, answers: dict[str, Any]) -> int:
    """Bytes an honest POST of ``page`` can take: every text field full of 4-byte characters,
    percent-encoded (12 bytes each), and 8 KiB for names, choices and the CSRF token."""
    chars = 0
    for question in visible_questions(defn, page, answers):
        if question.type in (QuestionType.SHORT_TEXT, QuestionType.LONG_TEXT):
            chars += question.max_length or 200
        elif question.type == QuestionType.NUMBER:
            chars += 40
        if question.other:
            chars += 200
    return 8192 + 64 * value_limit(defn, page, answers) + 12 * chars


# --- the response ------------------------------------------------------------------------


def snapshot(member: Member, now: datetime) -> tuple[str, str, str]:
    """(gender, age band, district code) from the member's profile at ``now``.

    The age band is that of the age attained this year (Swedish calendar year).
    """
    return member.gender, age_group(member.birth_year, now.astimezone(STOCKHOLM).date()), member.district.code


def complete(session: Session, invitation: Invitation, draft: AnswerDraft, defn: SurveyDefinition,
             *, anonymous: bool, now: datetime) -> SurveyResponse:
    """Store the response and delete the draft, once per invitation.

    Exactly one response per invitation is enforced by the database: the invitation is
    marked completed by a conditional UPDATE that only one transaction can win, and a
    ``survey_completion`` row keyed by the invitation is inserted alongside. Raises
    AlreadyAnswered when another request got there first; the caller must then roll back.
    """
    member = session.get(Member, invitation.member_id) if invitation.member_id is not None else None
    if member is None:
        raise LinkInvalid()
    won = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.completed_at.is_(None), Invitation.revoked_at.is_(None))
        .values(completed_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:
        raise AlreadyAnswered()
    gender, band, district_code = snapshot(member, now)
    response = SurveyResponse(
        survey_id=invitation.survey_id, language=draft.language,
        submitted_at=now.replace(hour=0, minute=0, second=0, microsecond=0) if anonymous else now,
        gender=gender, age_group=band, district_code=district_code,
        answers=prune_answers(defn, draft.answers),
        invitation_id=None if anonymous else invitation.id,
        member_id=None if anonymous else member.id,
    )
    session.add(Completion(invitation_id=invitation.id))
    session.add(response)
    session.delete(draft)
    try:
        session.flush()
    except IntegrityError as error:
        raise AlreadyAnswered() from error
    set_committed_value(invitation, "completed_at", now)  # written by the UPDATE above
    return response


def is_completed(session: Session, invitation_id: int) -> bool:
    """Whether the invitation's response is stored (read afresh from the database)."""
    return session.scalar(select(Invitation.completed_at).where(Invitation.id == invitation_id)) is not None


def delete_abandoned_drafts(session: Session, *, now: datetime, grace: timedelta) -> int:
    """Delete answers in progress that will never be sent: those of surveys closed more
    than ``grace`` ago, and those of members who have left the panel. Return how many."""
    closed = select(Survey.id).where(Survey.closes_at.is_not(None), Survey.closes_at < now - grace)
    abandoned = select(Invitation.id).where(or_(Invitation.survey_id.in_(closed), Invitation.member_id.is_(None)))
    result = session.execute(delete(AnswerDraft).where(AnswerDraft.invitation_id.in_(abandoned))
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0
