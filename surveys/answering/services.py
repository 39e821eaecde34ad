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
5. :func:`respondent` reads a respondent session's invitation, survey and draft in one
   SELECT; :func:`save_page` changes the draft with one page's answers and says which
   page comes next, :func:`store_draft` writes it (one UPDATE), and :func:`complete`
   stores the response when every page the resident sees is done.

Saving a page is optimistic: the draft is read without a lock, and written by one
UPDATE that only succeeds if its ``version`` is still the one read (each write adds
one). When another tab or click wrote it meanwhile, :class:`SaveUnderLock` tells the
view to do the whole request again with the draft's row locked -- as the last page,
which stores the response, always does. So a page costs two statements and no
transaction of its own, and two tabs still never overwrite each other's answers.

The link and the start work on ORM objects in a ``Session``. The pages behind them are
the busiest requests of the application and work with SQLAlchemy Core on a
``Connection``: plain rows (:class:`Link`, :class:`Draft`) instead of ORM objects,
statements built once, run on the driver's cursor on PostgreSQL (:mod:`.driver`).
Times are aware UTC datetimes; the caller passes ``now``.
Nothing here commits: the view owns the transaction.

Age bands follow SCB's population tables: the age attained during the current year
(year of answering minus birth year), banded with ``analysis.targets.DEFAULT_AGE_BANDS``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Integer, bindparam, delete, func, insert, literal_column, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from panel.members.services import age_group
from panel.models import District, Member
from surveys.answering import driver
from surveys.answering.models import AnswerDraft, Completion, LinkFailure, SurveyResponse
from surveys.authoring.services import definition_of
from surveys.definition import Page, QuestionType, SurveyDefinition, parse_definition
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


class SaveUnderLock(Exception):
    """A page read without locking its draft cannot be saved so: the draft changed since it
    was read, or the page stores the response. Nothing was written; do the request again
    with ``respondent(..., lock=True)``."""


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
        draft.version = AnswerDraft.version + 1  # a page read before this must not write the old language back
    session.flush()
    return draft


# --- the respondent session (SQLAlchemy Core: plain rows, no ORM objects) ---------------


@dataclass(slots=True)
class SurveyState:
    """What the respondent pages need of a survey row (not its definition)."""

    id: int
    status: str
    opens_at: datetime | None
    closes_at: datetime | None
    revision: int
    updated_at: datetime | None
    anonymous: bool


@dataclass(slots=True)
class Link:
    """A respondent's invitation as read for a page; reads like an :class:`Invitation`."""

    id: int
    survey_id: int
    member_id: int | None
    language: str
    revoked_at: datetime | None
    completed_at: datetime | None
    survey: SurveyState


@dataclass(slots=True)
class Draft:
    """A respondent's answers in progress as read for a page; reads like an :class:`AnswerDraft`.

    :func:`save_page` and :func:`go_back` change it in memory (``updated_at`` too);
    :func:`store_draft` writes it.
    """

    invitation_id: int
    language: str
    answers: dict[str, Any]
    pages_done: dict[str, Any]
    page_key: str | None
    updated_at: datetime | None = None
    version: int = 0  # as read; the write that succeeds stores version + 1
    locked: bool = False  # read with its row locked (respondent(..., lock=True))


_invitation_id = bindparam("invitation_id", type_=Integer)
_LINK_COLUMNS = (Invitation.id, Invitation.survey_id, Invitation.member_id, Invitation.language,
                 Invitation.revoked_at, Invitation.completed_at, Survey.status, Survey.opens_at, Survey.closes_at,
                 Survey.revision, Survey.updated_at, Survey.anonymous)
_DRAFT_COLUMNS = (AnswerDraft.invitation_id, AnswerDraft.language, AnswerDraft.answers, AnswerDraft.pages_done,
                  AnswerDraft.page_key, AnswerDraft.version)
# The statements are built once: building them costs as much as running them.
_READ = (select(*_LINK_COLUMNS, *_DRAFT_COLUMNS).join(Survey, Survey.id == Invitation.survey_id)
         .outerjoin(AnswerDraft, AnswerDraft.invitation_id == Invitation.id).where(Invitation.id == _invitation_id))
# Only an inner join can lock the draft's row (FOR UPDATE OF): a missing draft costs _LINK.
_LOCK = (select(*_LINK_COLUMNS, *_DRAFT_COLUMNS).join(Survey, Survey.id == Invitation.survey_id)
         .join(AnswerDraft, AnswerDraft.invitation_id == Invitation.id).where(Invitation.id == _invitation_id)
         .with_for_update(of=AnswerDraft))
_LINK = select(*_LINK_COLUMNS).join(Survey, Survey.id == Invitation.survey_id).where(Invitation.id == _invitation_id)
_DATETIMES = (4, 5, 7, 8, 10)  # the timestamps among _LINK_COLUMNS
# (An UPDATE's parameters named as columns are its SET clause.)
_STORE_DRAFT = (update(AnswerDraft).where(AnswerDraft.invitation_id == bindparam("draft_of", type_=Integer))
                .values(version=AnswerDraft.version + literal_column("1", Integer)))  # no parameter of its own
_STORE_READ_DRAFT = _STORE_DRAFT.where(AnswerDraft.version == bindparam("read_version", type_=Integer))
_DRAFT_FIELDS = ("answers", "pages_done", "page_key", "language", "updated_at")
_DEFINITION = select(Survey.definition).where(Survey.id == bindparam("survey_id", type_=Integer))


def _link_of(row) -> Link:
    return Link(row[0], row[1], row[2], row[3], row[4], row[5],
                SurveyState(row[1], row[6], row[7], row[8], row[9], row[10], row[11]))


def respondent(connection: Connection, invitation_id: Any, survey_id: Any, *, now: datetime,
               grace: timedelta, lock: bool = False) -> tuple[Link, Draft | None]:
    """The invitation (with its survey) and its draft, for a respondent session: one SELECT.

    With ``lock`` the draft's row stays locked until the transaction ends (on SQLite the
    whole database is locked for writing: it has no row locks), so that two tabs saving
    at once do not overwrite each other's page; a missing draft then costs a second query.
    Without, :func:`store_draft` checks the draft's version.
    Raises NoRespondent when the session names nothing usable, LinkInvalid when the link
    has since been revoked or expired or the member left. The caller checks
    :func:`check_answerable` (a completed invitation has no draft).
    """
    if not isinstance(invitation_id, int) or not isinstance(survey_id, int) or not 0 < invitation_id < 2**31:
        raise NoRespondent()
    parameters = {"invitation_id": invitation_id}
    if lock and connection.dialect.name == "sqlite":
        # SQLite has no row locks (it ignores FOR UPDATE): take the database's write lock
        # now, so that no other save can come between this read and this request's write.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    row = driver.first_row(connection, _LOCK if lock else _READ, parameters, datetimes=_DATETIMES)
    if row is None and lock:
        row = driver.first_row(connection, _LINK, parameters, datetimes=_DATETIMES)
    if row is None or row[1] != survey_id:
        raise NoRespondent()
    link = _link_of(row)
    check_link(link, now=now, grace=grace)
    draft = (Draft(row[12], row[13], row[14], row[15], row[16], version=row[17], locked=lock)
             if len(row) > 12 and row[12] is not None else None)
    return link, draft


def store_draft(connection: Connection, draft: Draft) -> None:
    """Write a draft changed by :func:`save_page` or :func:`go_back` (the caller commits).

    A draft read without its lock is written only if nobody has written it since (its
    version is still the one read); otherwise nothing is written and :class:`SaveUnderLock`
    is raised.
    """
    parameters = {
        "draft_of": draft.invitation_id, "answers": draft.answers, "pages_done": draft.pages_done,
        "page_key": draft.page_key, "language": draft.language, "updated_at": draft.updated_at,
    }
    if draft.locked:
        driver.execute(connection, _STORE_DRAFT, parameters, columns=_DRAFT_FIELDS, json=("answers", "pages_done"))
        return
    parameters["read_version"] = draft.version
    written = driver.execute(connection, _STORE_READ_DRAFT, parameters, columns=_DRAFT_FIELDS,
                             json=("answers", "pages_done"))
    if written != 1:
        raise SaveUnderLock()


_definitions: dict[tuple[int, int, datetime | None], SurveyDefinition] = {}


def definition(survey: Survey | SurveyState, connection: Connection | None = None) -> SurveyDefinition:
    """The survey's parsed definition, kept per process until the survey row changes
    (its revision or update time), so that a page view does not read and parse it.

    ``survey`` is a Survey row, or the :class:`SurveyState` of a respondent's page with
    the ``connection`` to read the definition from when it is not kept yet.
    """
    key = (survey.id, survey.revision, survey.updated_at)
    found = _definitions.get(key)
    if found is None:
        if isinstance(survey, Survey):
            found = definition_of(survey)
        else:
            assert connection is not None, "a SurveyState needs a connection to read its definition"
            found = parse_definition(connection.execute(_DEFINITION, {"survey_id": survey.id}).scalar_one())
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


def keep_unfinished(draft: AnswerDraft, defn: SurveyDefinition, page: Page, page_answers: dict[str, Any],
                    *, now: datetime) -> None:
    """Keep the answers of a page left with questions unanswered (the resident went back):
    the page is not done, so it is shown again before the answers can be sent."""
    draft.answers = prune_answers(defn, {**draft.answers, **page_answers})
    draft.pages_done = {key: keys for key, keys in draft.pages_done.items()
                        if key != page.key and defn.page(key) is not None}
    draft.updated_at = now


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


def snapshot(member: Member, invited_at: datetime) -> tuple[str, str, str]:
    """(gender, age band, district code) from the member's profile now, for an invitation
    created at ``invited_at``.

    Gender and district are those of the profile when the resident answers. The age
    band is that of the age attained in the (Swedish) calendar year the invitation was
    created, as in SCB's population tables and as the invitation's sampling stratum:
    so a survey that runs over New Year puts each birth year in one band, and a
    respondent's stratum is the one they were drawn in unless they moved or changed
    their gender (:func:`surveys.results.services.design_weights` relies on that).
    """
    return _snapshot(member.gender, member.birth_year, member.district.code, invited_at)


def _snapshot(gender: str, birth_year: int, district_code: str, invited_at: datetime) -> tuple[str, str, str]:
    return gender, age_group(birth_year, invited_at.astimezone(STOCKHOLM).date()), district_code


_PROFILE = (select(Member.gender, Member.birth_year, District.code, Invitation.created_at)
            .join(Member, Member.id == Invitation.member_id).join(District, District.id == Member.district_id)
            .where(Invitation.id == _invitation_id))
_MARK_COMPLETED = (update(Invitation).where(Invitation.id == _invitation_id, Invitation.completed_at.is_(None),
                                            Invitation.revoked_at.is_(None))
                   .values(completed_at=bindparam("now")).execution_options(synchronize_session=False))
_DELETE_DRAFT = delete(AnswerDraft).where(AnswerDraft.invitation_id == _invitation_id)


def complete(connection: Connection | Session, invitation: Invitation | Link, draft: AnswerDraft | Draft,
             defn: SurveyDefinition, *, anonymous: bool, now: datetime) -> uuid.UUID:
    """Store the response and delete the draft, once per invitation; the response's id.

    Exactly one response per invitation is enforced by the database: the invitation is
    marked completed by a conditional UPDATE that only one transaction can win, and a
    ``survey_completion`` row keyed by the invitation is inserted alongside. Raises
    AlreadyAnswered when another request got there first; the caller must then roll back.
    Core statements only, so it runs on a respondent page's connection and in an ORM
    session (the demo) alike.
    """
    profile = (connection.execute(_PROFILE, {"invitation_id": invitation.id}).first()
               if invitation.member_id is not None else None)
    if profile is None:
        raise LinkInvalid()
    gender, birth_year, district_code, invited_at = profile
    won = connection.execute(_MARK_COMPLETED, {"invitation_id": invitation.id, "now": now})
    if won.rowcount != 1:
        raise AlreadyAnswered()
    gender, band, district_code = _snapshot(gender, birth_year, district_code, invited_at)
    response_id = uuid.uuid4()
    try:
        connection.execute(insert(Completion).values(invitation_id=invitation.id))
        connection.execute(insert(SurveyResponse).values(
            id=response_id, survey_id=invitation.survey_id, language=draft.language,
            submitted_at=now.replace(hour=0, minute=0, second=0, microsecond=0) if anonymous else now,
            gender=gender, age_group=band, district_code=district_code,
            answers=prune_answers(defn, draft.answers),
            invitation_id=None if anonymous else invitation.id,
            member_id=None if anonymous else invitation.member_id,
        ))
    except IntegrityError as error:
        raise AlreadyAnswered() from error
    connection.execute(_DELETE_DRAFT, {"invitation_id": invitation.id})
    if isinstance(invitation, Invitation):
        set_committed_value(invitation, "completed_at", now)  # written by the UPDATE above
    else:
        invitation.completed_at = now
    return response_id


def is_completed(connection: Connection | Session, invitation_id: int) -> bool:
    """Whether the invitation's response is stored (read afresh from the database)."""
    return connection.scalar(select(Invitation.completed_at).where(Invitation.id == invitation_id)) is not None


def delete_abandoned_drafts(session: Session, *, now: datetime, grace: timedelta) -> int:
    """Delete answers in progress that will never be sent: those of surveys closed more
    than ``grace`` ago, and those of members who have left the panel. Return how many."""
    closed = select(Survey.id).where(Survey.closes_at.is_not(None), Survey.closes_at < now - grace)
    abandoned = select(Invitation.id).where(or_(Invitation.survey_id.in_(closed), Invitation.member_id.is_(None)))
    result = session.execute(delete(AnswerDraft).where(AnswerDraft.invitation_id.in_(abandoned))
                             .execution_options(synchronize_session=False))
    return result.rowcount or 0
