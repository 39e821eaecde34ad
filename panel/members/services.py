"""Residents: open sign-up with double opt-in, self-service by magic link, pausing, leaving.

Services take a Session first, never touch the request and never commit: the view
or CLI command that called them owns the transaction. Every email is queued in
the outbox in that same transaction, so a sign-up either happens together with its
confirmation email or not at all, whether or not the mail server is up.

Nothing here tells a caller whether an address belongs to a member: ``register``
and ``request_magic_link`` behave the same for the person at the keyboard either
way, and only the mailbox's owner learns the difference.
"""

from __future__ import annotations

import calendar
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from analysis.targets.agebands import DEFAULT_AGE_BANDS
from panel.db import Base, utcnow
from panel.i18n import resident_languages
from panel.mail.outbox import PRIORITY_DIRECT, email_url, queue_email
from panel.members import terms, tokens
from panel.models import Consent, District, Member, MemberToken, OutboxMessage, PanelExit, PostcodeDistrict
from panel.models.member import Gender, LeaveReason, MemberSource, MemberStatus, TokenPurpose
from panel.models.outbox import OutboxStatus

MAX_AGE = 110
MAX_LINKS_PER_HOUR = 3  # emails with links to one address, per purpose
MAX_PAUSE_DAYS = 366
CHANNELS = ("web", "code")
_POSTCODE = re.compile(r"^[0-9]{5}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Other packages (surveys) add what they store about a member here: a name and a
# function returning JSON-ready data for the export, and a function run before the
# member row is deleted (to cut or delete its rows' links to the person).
EXPORT_SECTIONS: dict[str, Callable[[Session, Member], Any]] = {}
LEAVE_HANDLERS: list[Callable[[Session, Member], None]] = []


class MemberDataError(ValueError):
    """Input a member (or a caller on their behalf) must correct.

    ``field`` names the form field; ``message`` is a lazy Swedish text, translated
    when it is shown (so raising it needs no request).
    """

    def __init__(self, field: str, message) -> None:
        super().__init__(field)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        try:
            return str(self.message)
        except RuntimeError:  # no request to choose a language from (CLI): the Swedish text
            text, *_ = getattr(self.message, "_args", (self.message,))
            return str(text) % getattr(self.message, "_kwargs", {}) if "%(" in str(text) else str(text)


class EmailTaken(Exception):
    """The new address of an email change belongs to another member by now."""


# ---------------------------------------------------------------- checks


def normalise_email(email: str) -> str:
    """Lower-case, trimmed address; raises MemberDataError for control characters or length."""
    value = (email or "").strip().lower()
    if not value or "@" not in value:
        raise MemberDataError("email", _l("Skriv en e-postadress i formen namn@exempel.se."))
    if _CONTROL.search(value) or len(value) > 254:
        raise MemberDataError("email", _l("E-postadressen går inte att använda."))
    return value


def normalise_postcode(postcode: str | None) -> str | None:
    """Five digits ("123 45" becomes "12345"); None when empty."""
    if postcode is None or not postcode.strip():
        return None
    value = postcode.replace(" ", "").strip()
    if not _POSTCODE.match(value):
        raise MemberDataError("postcode", _l("Skriv postnumret med fem siffror, till exempel 621 41."))
    return value


def birth_year_range(today: date | None = None) -> tuple[int, int]:
    """The birth years that may join this year: (oldest, youngest).

    Only the year is known, so someone who turns PANEL_MIN_AGE this year may join.
    """
    year = (today or utcnow().date()).year
    return year - MAX_AGE, year - current_app.config["PANEL_MIN_AGE"]


def _check_birth_year(birth_year: int, today: date) -> int:
    oldest, youngest = birth_year_range(today)
    if isinstance(birth_year, bool) or not isinstance(birth_year, int):
        raise MemberDataError("birth_year", _l("Skriv födelseåret med fyra siffror, till exempel 1985."))
    if birth_year > youngest:
        raise MemberDataError("birth_year", _l("Du behöver fylla minst %(n)s år i år för att vara med i panelen.",
                                               n=current_app.config["PANEL_MIN_AGE"]))
    if birth_year < oldest:
        raise MemberDataError("birth_year", _l("Kontrollera födelseåret. Det kan inte vara tidigare än %(year)s.",
                                               year=oldest))
    return birth_year


def _check_choice(field: str, value: str, allowed) -> str:
    if value not in {str(v) for v in allowed}:
        raise MemberDataError(field, _l("Välj ett av alternativen."))
    return value


def district_for_postcode(session: Session, postcode: str | None) -> District | None:
    """The district a postcode belongs to, or None when the postcode is not in the table."""
    try:
        code = normalise_postcode(postcode)
    except MemberDataError:
        return None
    if code is None:
        return None
    return session.scalar(select(District).join(PostcodeDistrict).where(PostcodeDistrict.postcode == code))


def _resolve_district(session: Session, district: District | int | str | None, postcode: str | None) -> District:
    if isinstance(district, District):
        return district
    if district not in (None, ""):
        try:
            found = session.get(District, int(district))
        except (TypeError, ValueError):
            found = None
        if found is None:
            raise MemberDataError("district", _l("Välj ett område i listan."))
        return found
    if postcode:
        found = district_for_postcode(session, postcode)
        if found is None:
            raise MemberDataError("postcode", _l("Vi hittar inte postnumret bland kommunens områden. "
                                                 "Välj ditt område i listan i stället."))
        return found
    raise MemberDataError("district", _l("Välj ditt område, eller skriv ditt postnummer."))


def _profile_values(session: Session, *, birth_year: int, gender: str, district, postcode: str | None,
                    language: str, today: date) -> dict[str, Any]:
    """Checked and normalised profile fields, ready to set on a Member."""
    code = normalise_postcode(postcode)
    return {
        "birth_year": _check_birth_year(birth_year, today),
        "gender": _check_choice("gender", gender, Gender),
        "district": _resolve_district(session, district, code),
        "postcode": code,
        "language": _check_choice("language", language, resident_languages()),
    }


def list_districts(session: Session) -> list[District]:
    return list(session.scalars(select(District).order_by(District.name)))


def has_postcodes(session: Session) -> bool:
    """True when the municipality has loaded a postcode table (the join form then asks for one)."""
    return session.scalar(select(PostcodeDistrict.postcode).limit(1)) is not None


# ---------------------------------------------------------------- links and emails


def email_link(endpoint: str, **values: Any) -> str:
    return email_url(endpoint, **values)


def page_link(member: Member, endpoint: str, **values: Any) -> str:
    """A link in an email to ``member`` to a page that cannot tell who opens it (no token):
    it says the email's language, so the page is in it too (``?lang=``). Pages behind a
    token speak the member's language by themselves (panel.members.views)."""
    return email_link(endpoint, lang=member.language, **values)


def unsubscribe_url(member: Member) -> str:
    return email_link("members.unsubscribe", token=tokens.unsubscribe_token(member))


def unsubscribe_headers(member: Member) -> dict[str, str]:
    """List-Unsubscribe headers (RFC 2369 + RFC 8058 one-click) for panel mail to ``member``.

    Pass them as ``queue_email(..., headers=unsubscribe_headers(member))`` on every
    email that is not a direct answer to the member's own action (invitations,
    reminders, results). The member must have been flushed (have an id).
    """
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(member)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _hours(name: str) -> timedelta:
    return timedelta(hours=current_app.config[name])


def _mail(session: Session, member: Member, *, kind: str, template: str, context: dict[str, Any],
          to: str | None = None, headers: dict[str, str] | None = None) -> None:
    """Queue an email to ``member`` (or to ``to``) in the member's language.

    All of these answer the resident's own action, so they go before bulk mail
    even when they carry List-Unsubscribe (the welcome email).
    """
    queue_email(session, kind=kind, to=to or member.email, template=template, language=member.language,
                context=context, headers=headers, priority=PRIORITY_DIRECT)


def _may_send(session: Session, member: Member, purpose: str, now: datetime) -> bool:
    return tokens.issued_since(session, member, purpose, now - timedelta(hours=1)) < MAX_LINKS_PER_HOUR


def _send_confirmation(session: Session, member: Member, now: datetime) -> None:
    if not _may_send(session, member, TokenPurpose.CONFIRM, now):
        return
    lifetime = _hours("PANEL_CONFIRM_HOURS")
    token = tokens.issue(session, member, TokenPurpose.CONFIRM, lifetime, now=now)
    _mail(session, member, kind="confirm", template="confirm_signup",
          context={"link": email_link("members.confirm", token=token),
                   "hours": current_app.config["PANEL_CONFIRM_HOURS"]})


def _send_manage_link(session: Session, member: Member, now: datetime, *, template: str, kind: str) -> None:
    if not _may_send(session, member, TokenPurpose.MANAGE, now):
        return
    minutes = current_app.config["PANEL_MAGIC_LINK_MINUTES"]
    token = tokens.issue(session, member, TokenPurpose.MANAGE, timedelta(minutes=minutes), now=now)
    _mail(session, member, kind=kind, template=template,
          context={"link": email_link("members.open_link", token=token), "minutes": minutes,
                   "request_link": page_link(member, "members.request_link")})


# ---------------------------------------------------------------- sign-up


def register(
    session: Session,
    *,
    email: str,
    birth_year: int,
    gender: str,
    district: District | int | str | None,
    postcode: str | None = None,
    language: str,
    terms_version: str,
    channel: str = "web",
    source: str = MemberSource.OPEN,
    recruitment_wave_id: int | None = None,
    now: datetime | None = None,
) -> Member | None:
    """Sign someone up: a pending member and a confirmation email, or a note to an existing member.

    ``district`` is a District, a district id, or None to derive it from ``postcode``.
    Returns the pending member (new, or an unconfirmed one updated with these answers
    and sent a fresh link), or None when the address already belongs to a confirmed
    member, who is sent an email saying so (with a link to their page) instead.
    The person signing up sees the same either way. Raises MemberDataError for input
    to correct. A recruitment code passes ``source="wave"``, the wave's id and
    ``channel="code"``; the address is confirmed by the same double opt-in.
    """
    now = now or utcnow()
    address = normalise_email(email)
    values = _profile_values(session, birth_year=birth_year, gender=gender, district=district, postcode=postcode,
                             language=language, today=now.date())
    if not terms.is_known(terms_version):
        raise MemberDataError("accept_terms", _l("Villkoren har ändrats. Läs dem igen och godkänn dem."))
    _check_choice("channel", channel, CHANNELS)
    _check_choice("source", source, MemberSource)
    origin = {"source": source, "recruitment_wave_id": recruitment_wave_id}

    member = session.scalar(select(Member).where(Member.email == address))
    if member is None:
        member = Member(email=address, status=MemberStatus.PENDING, created_at=now, **values, **origin)
        try:
            with session.begin_nested():
                session.add(member)
                session.flush()
        except IntegrityError:  # the same address signed up at the same moment
            member = session.scalar(select(Member).where(Member.email == address))
            if member is None:
                raise
    elif member.status == MemberStatus.PENDING:
        for name, value in {**values, **origin}.items():
            setattr(member, name, value)
    if member.status != MemberStatus.PENDING:
        _send_manage_link(session, member, now, template="already_member", kind="already_member")
        return None
    session.add(Consent(member_id=member.id, terms_version=terms_version, channel=channel, given_at=now))
    _send_confirmation(session, member, now)
    session.flush()
    return member


def check_link(session: Session, token: str, purpose: str, *, now: datetime | None = None) -> MemberToken:
    """The link behind ``token`` if it can still be used (for the GET page); raises a LinkError."""
    return tokens.check(session, token, purpose, now=now or utcnow())


def confirm(session: Session, token: str, *, now: datetime | None = None) -> Member:
    """Use a confirmation link: the member becomes active and gets a welcome email.

    Raises tokens.LinkInvalid, LinkExpired or LinkUsed.
    """
    now = now or utcnow()
    link = tokens.use(session, token, TokenPurpose.CONFIRM, now=now)
    member = session.get(Member, link.member_id)
    if member.status == MemberStatus.PENDING:
        member.status = MemberStatus.ACTIVE
        member.confirmed_at = now
        session.flush()
        _mail(session, member, kind="welcome", template="welcome",
              context={"manage_link": page_link(member, "members.request_link"),
                       "unsubscribe_link": unsubscribe_url(member)},
              headers=unsubscribe_headers(member))
    return member


def purge_unconfirmed(session: Session, *, now: datetime | None = None) -> int:
    """Delete sign-ups never confirmed within PANEL_CONFIRM_HOURS, and long-dead links."""
    now = now or utcnow()
    stale = select(Member.id).where(Member.status == MemberStatus.PENDING,
                                    Member.created_at < now - _hours("PANEL_CONFIRM_HOURS"))
    ids = list(session.scalars(stale))
    if ids:
        session.execute(delete(MemberToken).where(MemberToken.member_id.in_(ids)))
        session.execute(delete(Consent).where(Consent.member_id.in_(ids)))
        session.execute(delete(Member).where(Member.id.in_(ids)))
    session.execute(delete(MemberToken).where(MemberToken.expires_at < now - timedelta(days=1)))
    return len(ids)


# ---------------------------------------------------------------- self-service


def request_magic_link(session: Session, email: str, *, now: datetime | None = None) -> None:
    """Email a link to the member's page if ``email`` is a member's; otherwise do nothing.

    Silent by design: the same outcome for every address, and at most
    MAX_LINKS_PER_HOUR links an hour to one address. An unconfirmed sign-up gets
    its confirmation link again instead.
    """
    now = now or utcnow()
    try:
        address = normalise_email(email)
    except MemberDataError:
        return
    member = session.scalar(select(Member).where(Member.email == address))
    if member is None:
        return
    if member.status == MemberStatus.PENDING:
        _send_confirmation(session, member, now)
    else:
        _send_manage_link(session, member, now, template="magic_link", kind="magic_link")


def open_magic_link(session: Session, token: str, *, now: datetime | None = None) -> Member:
    """Use a magic link; returns the member to log in. Raises a tokens.LinkError."""
    link = tokens.use(session, token, TokenPurpose.MANAGE, now=now or utcnow())
    return session.get(Member, link.member_id)


def update_profile(session: Session, member: Member, *, birth_year: int, gender: str, district,
                   postcode: str | None = None, language: str, now: datetime | None = None) -> None:
    """Change the member's answers; raises MemberDataError for input to correct."""
    now = now or utcnow()
    values = _profile_values(session, birth_year=birth_year, gender=gender, district=district, postcode=postcode,
                             language=language, today=now.date())
    for name, value in values.items():
        setattr(member, name, value)
    session.flush()


def request_email_change(session: Session, member: Member, new_email: str, *, now: datetime | None = None) -> None:
    """Send a confirmation link to the new address; the address changes when it is used.

    Whether another member has that address is not told here (it is checked when
    the link is used, by the new address's owner).
    """
    now = now or utcnow()
    address = normalise_email(new_email)
    if address == member.email:
        raise MemberDataError("email", _l("Det är redan din e-postadress."))
    if not _may_send(session, member, TokenPurpose.EMAIL, now):
        return
    token = tokens.issue(session, member, TokenPurpose.EMAIL, _hours("PANEL_CONFIRM_HOURS"), now=now, email=address)
    _mail(session, member, kind="confirm_email", to=address, template="confirm_new_email",
          context={"link": email_link("members.confirm_email", token=token),
                   "hours": current_app.config["PANEL_CONFIRM_HOURS"]})


def confirm_email_change(session: Session, token: str, *, now: datetime | None = None) -> Member:
    """Use an email-change link. Raises a tokens.LinkError, or EmailTaken.

    The old address is told that the address was changed (not to which one), so that its
    real owner learns of a change they did not make.
    """
    link = tokens.use(session, token, TokenPurpose.EMAIL, now=now or utcnow())
    member = session.get(Member, link.member_id)
    taken = session.scalar(select(Member.id).where(Member.email == link.email, Member.id != member.id))
    if taken is not None:
        raise EmailTaken()
    old_address, member.email = member.email, link.email
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise EmailTaken() from None
    if old_address != member.email:
        _mail(session, member, kind="email_changed", to=old_address, template="email_changed", context={})
    return member


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def pause(session: Session, member: Member, until: date, *, today: date | None = None) -> None:
    """No survey invitations until ``until`` (exclusive); at most a year ahead."""
    today = today or utcnow().date()
    if until <= today or until > today + timedelta(days=MAX_PAUSE_DAYS):
        raise MemberDataError("period", _l("Välj en paus på högst ett år."))
    member.status = MemberStatus.PAUSED
    member.paused_until = until


def unpause(session: Session, member: Member) -> None:
    """End a pause now."""
    if member.status == MemberStatus.PAUSED:
        member.status = MemberStatus.ACTIVE
    member.paused_until = None


def unsubscribe(session: Session, member: Member) -> None:
    """No more panel email (the one-click List-Unsubscribe). The member stays in the panel."""
    if member.status in (MemberStatus.ACTIVE, MemberStatus.PAUSED):
        member.status = MemberStatus.UNSUBSCRIBED
        member.paused_until = None


def resubscribe(session: Session, member: Member) -> None:
    if member.status == MemberStatus.UNSUBSCRIBED:
        member.status = MemberStatus.ACTIVE


def contactable(today: date) -> ColumnElement[bool]:
    """SQL condition for members who may be sent survey invitations on ``today``.

    Active members, and paused members whose pause has ended.
    """
    return or_(Member.status == MemberStatus.ACTIVE,
               and_(Member.status == MemberStatus.PAUSED, Member.paused_until <= today))


# ---------------------------------------------------------------- leaving and data export


def age_group(birth_year: int, on: date) -> str:
    """The member's age band (age reached in the year of ``on``), e.g. "25-34"."""
    return DEFAULT_AGE_BANDS.label_for(on.year - birth_year) or "-"


def _whole_months(start: datetime, end: datetime) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day:
        months -= 1
    return max(months, 0)


def leave(session: Session, member: Member, *, now: datetime | None = None, reason: str | None = None) -> PanelExit:
    """Erase the member at once and keep only coarse statistics with no link to the person.

    The member row, its links and consents are deleted, and so is every email to
    the address that is not being sent at this moment (queued invitations are
    never sent, sent ones no longer name the person). Rows of other packages that
    point at the member lose that link (their foreign keys are ON DELETE SET NULL);
    LEAVE_HANDLERS run first for anything more. A last email confirms the leaving;
    the outbox keeps that one address until the mail is sent and purged.
    """
    now = now or utcnow()
    if reason is not None:
        _check_choice("reason", reason, LeaveReason)
    session.execute(delete(OutboxMessage).where(OutboxMessage.to_address == member.email,
                                                OutboxMessage.status != OutboxStatus.SENDING))
    _mail(session, member, kind="left", template="left_panel",
          context={"join_link": page_link(member, "members.join")})
    record = PanelExit(
        left_month=now.strftime("%Y-%m"),
        source=member.source,
        recruitment_wave_id=member.recruitment_wave_id,
        gender=member.gender,
        age_group=age_group(member.birth_year, now.date()),
        district_id=member.district_id,
        months_in_panel=_whole_months(member.confirmed_at or member.created_at, now),
        reason=reason,
    )
    session.add(record)
    for handler in LEAVE_HANDLERS:
        handler(session, member)
    session.execute(delete(MemberToken).where(MemberToken.member_id == member.id))
    session.execute(delete(Consent).where(Consent.member_id == member.id))
    session.delete(member)
    session.flush()
    return record


# Columns that prove a link or a password, not facts about the person: never exported.
_SECRET_COLUMN = re.compile(r"digest|hash|secret|password", re.IGNORECASE)


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, uuid.UUID):  # survey_response ids
        return str(value)
    return value


def _columns(row: Any, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    return {c.key: _json_value(getattr(row, c.key)) for c in row.__table__.columns if c.key not in leave_out}


def _rows_pointing_at(session: Session, member: Member) -> dict[str, list[dict[str, Any]]]:
    """Rows of every other table with a foreign key to the member (recruitment, surveys...).

    Found from the metadata, so a table added later is in the export without anyone
    remembering to add it.
    """
    handled = {Member.__table__.name, MemberToken.__table__.name, Consent.__table__.name}
    found: dict[str, list[dict[str, Any]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in handled:
            continue
        for fk in table.foreign_keys:
            if fk.column.table is Member.__table__:
                rows = session.execute(select(table).where(fk.parent == member.id)).mappings()
                found.setdefault(table.name, []).extend(
                    {key: _json_value(value) for key, value in row.items() if not _SECRET_COLUMN.search(key)}
                    for row in rows)
    return {name: rows for name, rows in found.items() if rows}


def export_member_data(session: Session, member: Member, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything stored about the member, as JSON-ready data (the "download my data" file).

    Link digests (and any column named like a digest, hash or secret) are left
    out: they are not about the person, only proof of a link. Besides the
    member's own tables, rows of any table that points at the member are included
    under the table's name, then anything EXPORT_SECTIONS adds.
    """
    consents = session.scalars(select(Consent).where(Consent.member_id == member.id).order_by(Consent.id))
    links = session.scalars(select(MemberToken).where(MemberToken.member_id == member.id).order_by(MemberToken.id))
    mails = session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == member.email)
                            .order_by(OutboxMessage.id))
    data: dict[str, Any] = {
        "exported_at": (now or utcnow()).isoformat(),
        "member": _columns(member),
        "district": {"code": member.district.code, "name": member.district.name},
        "consents": [_columns(c) for c in consents],
        "links": [_columns(t, leave_out=("digest",)) for t in links],
        "emails": [{"kind": m.kind, "subject": m.subject, "status": m.status,
                    "created_at": _json_value(m.created_at), "sent_at": _json_value(m.sent_at)} for m in mails],
    }
    data.update(_rows_pointing_at(session, member))
    for name, section in EXPORT_SECTIONS.items():
        data[name] = section(session, member)
    return data
