"""Probability recruitment: a sample from the population register becomes a wave of letters with codes.

An analyst uploads the sample (one row per sampled resident: a reference, gender,
birth year, district, and name and address for the letter). Every person gets a
code; the letters are printed from a merge file or a PDF. A resident who types the
code at /join signs up with the sample's answers filled in; the wave then counts
who joined, per stratum (gender × age band × district).

Services take a Session and never commit; the caller owns the transaction.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import case, delete, func, or_, select
from sqlalchemy.orm import Session

from analysis.targets.agebands import DEFAULT_AGE_BANDS
from panel.db import utcnow
from panel.districts.csvfile import ImportRejected, Problems, read_table, simplify
from panel.districts.services import normalise_postcode
from panel.members import services as members
from panel.models import CodeAttempt, District, Member, RecruitmentInvite, RecruitmentWave, StaffUser
from panel.models.member import Gender, MemberSource
from panel.models.recruitment import WaveStatus
from panel.numerals import ascii_digits

# No 0/O/Q, 1/I/L, 2/Z, 5/S, 8/B or G (so 6 is unmistakable): what is read off a letter is typed back as printed.
CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
CODE_LENGTH = 8

SAMPLE_COLUMNS = {
    "person_ref": ("personref", "personreferens", "referens", "lopnummer", "lopnr", "lnr", "id"),
    "gender": ("kon", "sex"),
    "birth_year": ("fodelsear", "birthyear", "yearofbirth", "fodar"),
    "district": ("omrade", "omradeskod", "districtcode", "distrikt"),
    "name": ("namn", "fulltnamn", "fullname"),
    "address_line1": ("address", "address1", "adress", "adress1", "utdelningsadress", "gatuadress"),
    "address_line2": ("address2", "adress2", "co", "coadress"),
    "postcode": ("postnummer", "postnr", "zip"),
    "city": ("postort", "ort", "town"),
}
REQUIRED_COLUMNS = ("person_ref", "gender", "birth_year", "district", "name", "address_line1", "postcode", "city")
SAMPLE_EXAMPLE = "person_ref;gender;birth_year;district;name;address;address2;postcode;city"
# The register's values and SCB's codes (1 = man, 2 = kvinna), compared via csvfile.simplify.
GENDER_VALUES = {
    "kvinna": Gender.KVINNA, "kvinnor": Gender.KVINNA, "k": Gender.KVINNA, "2": Gender.KVINNA,
    "f": Gender.KVINNA, "female": Gender.KVINNA, "woman": Gender.KVINNA,
    "man": Gender.MAN, "m": Gender.MAN, "1": Gender.MAN, "male": Gender.MAN,
}
FIELD_LIMITS = {"person_ref": 64, "name": 200, "address_line1": 200, "address_line2": 200, "city": 100}
NO_AGE_BAND = "-"


class CodeProblem(Exception):
    """A typed code that cannot be used; ``message`` says why, in plain Swedish."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CodeThrottled(Exception):
    """Too many wrong codes from one address within the window."""


# ---------------------------------------------------------------- codes


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(typed: str) -> str:
    """What was typed, as stored: upper case, without spaces and dashes, digits of any script as 0-9
    ("acde-3479 hjkm" → "ACDE3479HJKM", "4NCRDMP٩" → "4NCRDMP9")."""
    return re.sub(r"[\s\-‐‑–—_.]", "", ascii_digits(typed or "")).upper()


def format_code(code: str) -> str:
    """A stored code as printed: "ACDE-3479"."""
    return f"{code[:4]}-{code[4:]}"


def unique_codes(session: Session, count: int) -> list[str]:
    """``count`` new codes, different from each other and from every code already stored."""
    codes: set[str] = set()
    while len(codes) < count:
        batch = {new_code() for _ in range(count - len(codes))} - codes
        candidates = list(batch)
        for start in range(0, len(candidates), 500):  # keep IN lists short
            chunk = candidates[start:start + 500]
            batch -= set(session.scalars(select(RecruitmentInvite.code).where(RecruitmentInvite.code.in_(chunk))))
        codes |= batch
    return list(codes)


# ---------------------------------------------------------------- the sample


@dataclass(frozen=True)
class SampledPerson:
    person_ref: str
    gender: str
    birth_year: int
    district: District
    name: str
    address_line1: str
    address_line2: str | None
    postcode: str
    city: str


def read_sample(session: Session, data: bytes, *, today: date | None = None) -> list[SampledPerson]:
    """Check a sample file and return its people; raises ImportRejected listing every problem by line."""
    table = read_table(data, columns=SAMPLE_COLUMNS, required=REQUIRED_COLUMNS, example=SAMPLE_EXAMPLE)
    districts = list(session.scalars(select(District)))
    lookup = {**{d.name.casefold(): d for d in districts}, **{d.code: d for d in districts}}
    years = members.birth_year_range(today or utcnow().date())
    problems = Problems()
    seen: dict[str, int] = {}
    people: list[SampledPerson] = []
    for line, values in table.rows:
        person, errors = _sampled_person(values, lookup, years)
        reference = values["person_ref"]
        if reference in seen:
            errors.append(_("personreferensen %(ref)s finns redan på rad %(other)s.", ref=reference,
                            other=seen[reference]))
        seen.setdefault(reference, line)
        for error in errors:
            problems.add(line, error)
        if person is not None and not errors:
            people.append(person)
    problems.raise_if_any()
    return people


def _sampled_person(values: dict[str, str], districts: dict[str, District],
                    years: tuple[int, int]) -> tuple[SampledPerson | None, list[str]]:
    """One row of the sample as a person, or the row's problems (``districts`` by code or lower-case name)."""
    errors = [_("kolumnen %(column)s har mer än %(n)s tecken.", column=column, n=limit)
              for column, limit in FIELD_LIMITS.items() if len(values.get(column) or "") > limit]
    gender = GENDER_VALUES.get(simplify(values["gender"]))
    if gender is None:
        errors.append(_("kön %(value)s känns inte igen; skriv kvinna eller man (K/M, eller SCB:s 2/1).",
                        value=values["gender"]))
    birth_year = int(values["birth_year"]) if re.fullmatch(r"\d{4}", values["birth_year"]) else None
    oldest, youngest = years
    if birth_year is None:
        errors.append(_("födelseåret %(value)s ska vara fyra siffror, till exempel 1985.", value=values["birth_year"]))
    elif not oldest <= birth_year <= youngest:
        errors.append(_("födelseåret %(value)s går inte: panelen tar emot den som är född %(oldest)s till "
                        "%(youngest)s.", value=birth_year, oldest=oldest, youngest=youngest))
    district = districts.get(values["district"]) or districts.get(values["district"].casefold())
    if district is None:
        errors.append(_("området %(code)s finns inte. Lägg till det under Områden, eller rätta koden.",
                        code=values["district"]))
    try:
        postcode = normalise_postcode(values["postcode"])
    except ValueError as error:
        errors.append(str(error))
    if errors:
        return None, errors
    return SampledPerson(
        person_ref=values["person_ref"], gender=gender, birth_year=birth_year, district=district,
        name=values["name"], address_line1=values["address_line1"],
        address_line2=values.get("address_line2") or None, postcode=postcode, city=values["city"]), errors


def create_wave(
    session: Session,
    *,
    name: str,
    sample: bytes,
    created_by: StaffUser | None = None,
    letter_text: str = "",
    reply_by: date | None = None,
    now: datetime | None = None,
) -> RecruitmentWave:
    """A new wave with one invite and code per sampled person. All or nothing: raises ImportRejected."""
    now = now or utcnow()
    people = read_sample(session, sample, today=now.date())
    wave = RecruitmentWave(name=" ".join(name.split()), created_at=now, reply_by=reply_by,
                           letter_text=letter_text.replace("\r\n", "\n").strip(), status=WaveStatus.OPEN,
                           created_by_id=created_by.id if created_by else None)
    session.add(wave)
    for person, code in zip(people, unique_codes(session, len(people)), strict=True):
        session.add(RecruitmentInvite(
            wave=wave, code=code, person_ref=person.person_ref, gender=person.gender,
            birth_year=person.birth_year, district_id=person.district.id, name=person.name,
            address_line1=person.address_line1, address_line2=person.address_line2,
            postcode=person.postcode, city=person.city))
    session.flush()
    return wave


def set_status(session: Session, wave: RecruitmentWave, status: str) -> None:
    if status not in set(WaveStatus):
        raise ValueError(f"unknown wave status {status!r}")
    wave.status = status


# ---------------------------------------------------------------- joining with a code


def _joined():
    """SQL: the invite's person has joined (needs an outer join to Member)."""
    return or_(RecruitmentInvite.joined_at.is_not(None), Member.confirmed_at.is_not(None))


def has_joined(invite: RecruitmentInvite) -> bool:
    return invite.joined_at is not None or (invite.member is not None and invite.member.confirmed_at is not None)


def find_invite(
    session: Session,
    typed: str,
    *,
    remote_addr: str,
    max_failures: int,
    window: timedelta,
    now: datetime | None = None,
) -> RecruitmentInvite:
    """The invite behind a typed code, if it can still be used to join.

    Raises CodeThrottled after ``max_failures`` wrong codes from ``remote_addr``
    within ``window`` (the code is then not even looked up), or CodeProblem saying
    what is wrong with this code; a wrong code is recorded for the throttle.
    """
    now = now or utcnow()
    since = now - window
    failures = session.scalar(select(func.count(CodeAttempt.id)).where(
        CodeAttempt.remote_addr == remote_addr, CodeAttempt.at >= since))
    if failures >= max_failures:
        raise CodeThrottled()
    code = normalise_code(typed)
    if not re.fullmatch(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}", code):  # a typo, not a guess: not counted
        raise CodeProblem(_("Koden har åtta tecken, bokstäver och siffror, till exempel ACDE-3479. "
                            "Kontrollera att du har skrivit av den rätt."))
    invite = session.scalar(select(RecruitmentInvite).where(RecruitmentInvite.code == code))
    if invite is None:
        session.execute(delete(CodeAttempt).where(CodeAttempt.at < now - timedelta(days=1)))
        session.add(CodeAttempt(remote_addr=remote_addr, at=now))
        raise CodeProblem(_("Vi hittar ingen inbjudan med koden %(code)s. Kontrollera att du har skrivit av "
                            "koden från brevet rätt.", code=typed.strip()))
    check_usable(invite)
    return invite


def check_usable(invite: RecruitmentInvite) -> None:
    """Raises CodeProblem if the invite's code can no longer be used to join."""
    if has_joined(invite):
        raise CodeProblem(_("Koden har redan använts för att gå med i panelen. Är det du? Då hittar du dina "
                            "uppgifter under Mina uppgifter."))
    if invite.wave.status != WaveStatus.OPEN:
        raise CodeProblem(_("Inbjudan med den här koden gäller inte längre. Du kan ändå gå med i panelen "
                            "genom den vanliga anmälan."))


def join_with_code(
    session: Session,
    invite: RecruitmentInvite,
    *,
    email: str,
    birth_year: int,
    gender: str,
    district,
    language: str,
    terms_version: str,
    now: datetime | None = None,
) -> None:
    """Sign the invited person up (double opt-in, as every sign-up) as a member from this wave.

    The invite is linked to the member; the person has joined once the member
    confirms. Until then the code may be used again (say, after a mistyped
    address). An address that is already a member's gets that member linked and
    the email members.register sends them. Raises members.MemberDataError or
    CodeProblem.
    """
    now = now or utcnow()
    check_usable(invite)
    member = members.register(
        session, email=email, birth_year=birth_year, gender=gender, district=district, language=language,
        terms_version=terms_version, channel="code", source=MemberSource.WAVE,
        recruitment_wave_id=invite.wave_id, now=now)
    if member is None:  # already a confirmed member: the sampled person is in the panel
        member = session.scalar(select(Member).where(Member.email == members.normalise_email(email)))
    invite.member = member
    invite.used_at = now
    session.flush()


def keep_join_when_member_leaves(session: Session, member: Member) -> None:
    """Before a member row is deleted: the waves that recruited the member keep counting the join."""
    if member.confirmed_at is None:
        return
    for invite in session.scalars(select(RecruitmentInvite).where(RecruitmentInvite.member_id == member.id)):
        invite.joined_at = invite.joined_at or member.confirmed_at


members.LEAVE_HANDLERS.append(keep_join_when_member_leaves)


# ---------------------------------------------------------------- counting


@dataclass(frozen=True)
class Tally:
    invited: int = 0
    used: int = 0  # signed up with the code (confirmed or not)
    joined: int = 0  # confirmed

    @property
    def rate(self) -> float | None:
        """Joined / invited, or None for no invitations."""
        return self.joined / self.invited if self.invited else None

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.invited + other.invited, self.used + other.used, self.joined + other.joined)


@dataclass(frozen=True)
class Stratum:
    gender: str
    age_band: str
    district_code: str
    district_name: str
    tally: Tally


@dataclass(frozen=True)
class WaveStats:
    """Invited, used and joined in total, per stratum and per margin (gender, age band, district)."""

    total: Tally
    strata: list[Stratum]
    by_gender: list[tuple[str, Tally]]
    by_age_band: list[tuple[str, Tally]]
    by_district: list[tuple[str, Tally]]


def age_band(birth_year: int, year: int) -> str:
    """The default age band of someone born in ``birth_year``, by the age reached in ``year``."""
    return DEFAULT_AGE_BANDS.label_for(year - birth_year) or NO_AGE_BAND


def _band_order(label: str) -> int:
    labels = DEFAULT_AGE_BANDS.labels
    return labels.index(label) if label in labels else len(labels)


def _gender_order(gender: str) -> int:
    order = list(Gender)
    return order.index(gender) if gender in order else len(order)


def strata(session: Session, wave_ids: Sequence[int] | None = None) -> list[Stratum]:
    """Invited / used / joined per gender × age band × district, for some waves or all.

    Strata are the sample's (the register's gender, birth year and district), with
    the age reached in the year each wave was created. A ``pandas.DataFrame`` of
    ``gender, age_band, district, invited, joined`` built from these rows is the
    join history that analysis.recruitment.plan_recruitment takes.
    """
    query = (
        select(RecruitmentInvite.gender, RecruitmentInvite.birth_year, RecruitmentWave.created_at,
               District.code, District.name, RecruitmentInvite.used_at.is_not(None), _joined())
        .join(RecruitmentWave, RecruitmentInvite.wave_id == RecruitmentWave.id)
        .join(District, RecruitmentInvite.district_id == District.id)
        .outerjoin(Member, RecruitmentInvite.member_id == Member.id)
    )
    if wave_ids is not None:
        query = query.where(RecruitmentInvite.wave_id.in_(list(wave_ids)))
    tallies: dict[tuple[str, str, str, str], Tally] = {}
    for gender, birth_year, created_at, code, name, used, joined in session.execute(query):
        key = (gender, age_band(birth_year, created_at.year), code, name)
        tallies[key] = tallies.get(key, Tally()) + Tally(1, int(bool(used)), int(bool(joined)))
    ordered = sorted(tallies, key=lambda k: (_gender_order(k[0]), _band_order(k[1]), k[3], k[2]))
    return [Stratum(*key, tally=tallies[key]) for key in ordered]


def _margin(rows: Iterable[Stratum], key, order) -> list[tuple[str, Tally]]:
    totals: dict[str, Tally] = {}
    for row in rows:
        totals[key(row)] = totals.get(key(row), Tally()) + row.tally
    return sorted(totals.items(), key=lambda item: order(item[0]))


def wave_stats(session: Session, wave: RecruitmentWave) -> WaveStats:
    rows = strata(session, [wave.id])
    return WaveStats(
        total=sum((row.tally for row in rows), Tally()),
        strata=rows,
        by_gender=_margin(rows, lambda r: r.gender, _gender_order),
        by_age_band=_margin(rows, lambda r: r.age_band, _band_order),
        by_district=_margin(rows, lambda r: r.district_name, str.casefold),
    )


def wave_totals(session: Session) -> list[tuple[RecruitmentWave, Tally]]:
    """Every wave, newest first, with its totals."""
    query = (
        select(RecruitmentInvite.wave_id, func.count(RecruitmentInvite.id),
               func.count(RecruitmentInvite.used_at), func.sum(case((_joined(), 1), else_=0)))
        .outerjoin(Member, RecruitmentInvite.member_id == Member.id)
        .group_by(RecruitmentInvite.wave_id)
    )
    counts = {wave_id: Tally(invited, used, joined) for wave_id, invited, used, joined in session.execute(query)}
    waves = session.scalars(select(RecruitmentWave).order_by(RecruitmentWave.created_at.desc(),
                                                             RecruitmentWave.id.desc()))
    return [(wave, counts.get(wave.id, Tally())) for wave in waves]


def letter_invites(session: Session, wave: RecruitmentWave) -> list[RecruitmentInvite]:
    """The wave's invites in postal order (postcode, then name), for the letters."""
    return list(session.scalars(select(RecruitmentInvite).where(RecruitmentInvite.wave_id == wave.id)
                                .order_by(RecruitmentInvite.postcode, RecruitmentInvite.name,
                                          RecruitmentInvite.id)))


__all__ = [
    "CODE_ALPHABET", "CodeProblem", "CodeThrottled", "ImportRejected", "SampledPerson", "Stratum", "Tally", "WaveStats",
    "age_band", "check_usable", "create_wave", "find_invite", "format_code", "has_joined", "join_with_code",
    "keep_join_when_member_leaves", "letter_invites", "new_code", "normalise_code", "read_sample",
    "set_status", "strata", "unique_codes", "wave_stats", "wave_totals",
]
