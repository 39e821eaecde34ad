"""The municipality's districts, and the tables that place postcodes and SCB areas in them.

Services take a Session and never commit; the caller owns the transaction.
Imports are all or nothing: every row is checked before anything is written,
and ImportRejected lists every problem with its line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panel.districts.csvfile import ImportRejected, Problem, Problems, read_table
from panel.models import DesoDistrict, District, Member, PostcodeDistrict, RecruitmentInvite

DISTRICT_COLUMNS = {
    "code": ("kod", "omradeskod", "districtcode", "id"),
    "name": ("namn", "omrade", "omradesnamn", "districtname"),
}
POSTCODE_COLUMNS = {
    "postcode": ("postnummer", "postnr", "zip"),
    "district_code": ("district", "omrade", "omradeskod", "kod"),
}
DESO_COLUMNS = {
    "deso": ("desokod", "deso2018", "deso2025", "desocode"),
    "district_code": ("district", "omrade", "omradeskod", "kod"),
    "regso": ("regsokod", "regsokod2020", "regsocode"),
}
SCB_KEY_COLUMNS = {
    "deso": ("deso2018", "deso2025", "desokod"),
    "regso": ("regsokod2020", "regsokod2025", "regsokod"),
}
DESO_CODE = re.compile(r"^\d{4}[A-C]\d{4}$")
REGSO_CODE = re.compile(r"^\d{4}R\d{3}$")
MAX_CODE = 32
MAX_NAME = 200


class DistrictInUse(ValueError):
    """The district still has members or recruitment invitations; it cannot be deleted."""


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    encoding: str


@dataclass(frozen=True)
class DistrictRow:
    district: District
    members: int
    postcodes: int
    deso_areas: int


def normalise_postcode(text: str) -> str:
    """"123 45" → "12345"; raises ValueError unless five digits remain."""
    digits = re.sub(r"[\s\-]", "", text or "")
    if not re.fullmatch(r"\d{5}", digits):
        raise ValueError(_("Postnumret %(value)s ska vara fem siffror, till exempel 123 45.", value=text))
    return digits


def _clean_code(code: str) -> str:
    code = (code or "").strip()
    if not code:
        raise ValueError(_("Ange en kod."))
    if len(code) > MAX_CODE or any(ch.isspace() or not ch.isprintable() for ch in code):
        raise ValueError(_("Koden får ha högst %(n)s tecken och inga mellanslag.", n=MAX_CODE))
    return code


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValueError(_("Ange ett namn."))
    if len(name) > MAX_NAME:
        raise ValueError(_("Namnet får ha högst %(n)s tecken.", n=MAX_NAME))
    if not name.isprintable():  # NUL and other control characters (PostgreSQL cannot even store NUL)
        raise ValueError(_("Namnet får inte innehålla kontrolltecken."))
    return name


def list_districts(session: Session) -> list[DistrictRow]:
    """Every district with how many members, postcodes and DeSO areas point at it."""
    def counts(column) -> dict[int, int]:
        return dict(session.execute(select(column, func.count()).group_by(column)).all())

    members = counts(Member.district_id)
    postcodes = counts(PostcodeDistrict.district_id)
    deso = counts(DesoDistrict.district_id)
    districts = session.scalars(select(District).order_by(District.code)).all()
    return [DistrictRow(d, members.get(d.id, 0), postcodes.get(d.id, 0), deso.get(d.id, 0)) for d in districts]


def district_by_code(session: Session, code: str) -> District | None:
    return session.scalar(select(District).where(District.code == code.strip()))


def district_for_postcode(session: Session, postcode: str) -> District | None:
    """The district a postcode belongs to per the postcode table, or None (unknown or malformed)."""
    try:
        postcode = normalise_postcode(postcode)
    except ValueError:
        return None
    row = session.get(PostcodeDistrict, postcode)
    return row.district if row else None


def create_district(session: Session, *, code: str, name: str) -> District:
    code, name = _clean_code(code), _clean_name(name)
    if district_by_code(session, code) is not None:
        raise ValueError(_("Det finns redan ett område med koden %(code)s.", code=code))
    district = District(code=code, name=name)
    session.add(district)
    session.flush()
    return district


def update_district(session: Session, district: District, *, code: str, name: str) -> None:
    code, name = _clean_code(code), _clean_name(name)
    other = district_by_code(session, code)
    if other is not None and other.id != district.id:
        raise ValueError(_("Det finns redan ett område med koden %(code)s.", code=code))
    district.code, district.name = code, name
    session.flush()


def delete_district(session: Session, district: District) -> None:
    """Delete a district and its postcode and DeSO rows; refused while people point at it."""
    members = session.scalar(select(func.count()).where(Member.district_id == district.id))
    invites = session.scalar(select(func.count()).where(RecruitmentInvite.district_id == district.id))
    if members or invites:
        raise DistrictInUse(_(
            "%(name)s kan inte tas bort: %(members)s panelmedlemmar och %(invites)s personer i "
            "rekryteringsurval hör till området. Byt namn på området i stället, eller slå ihop det "
            "genom att ge medlemmarna ett annat område först.",
            name=district.name, members=members, invites=invites))
    session.delete(district)
    session.flush()


def import_districts(session: Session, data: bytes) -> ImportResult:
    """Upsert districts by code from a ``code,name`` file."""
    table = read_table(data, columns=DISTRICT_COLUMNS, required=("code", "name"), example="code;name")
    problems = Problems()
    seen: dict[str, int] = {}
    rows: list[tuple[str, str]] = []
    for line, values in table.rows:
        try:
            code, name = _clean_code(values["code"]), _clean_name(values["name"])
        except ValueError as error:
            problems.add(line, str(error))
            continue
        if code in seen:
            problems.add(line, _("koden %(code)s finns redan på rad %(other)s.", code=code, other=seen[code]))
            continue
        seen[code] = line
        rows.append((code, name))
    problems.raise_if_any()

    existing = {d.code: d for d in session.scalars(select(District))}
    created = updated = 0
    for code, name in rows:
        if code in existing:
            if existing[code].name != name:
                existing[code].name = name
                updated += 1
        else:
            session.add(District(code=code, name=name))
            created += 1
    session.flush()
    return ImportResult(created=created, updated=updated, encoding=table.encoding)


def _districts_by_code(session: Session) -> dict[str, District]:
    return {d.code: d for d in session.scalars(select(District))}


def _unknown_district(code: str) -> str:
    return _("området %(code)s finns inte. Lägg till det under Områden först, eller rätta koden.", code=code)


def import_postcodes(session: Session, data: bytes) -> ImportResult:
    """Upsert the postcode → district table from a ``postcode,district_code`` file."""
    table = read_table(data, columns=POSTCODE_COLUMNS, required=("postcode", "district_code"),
                       example="postcode;district_code")
    districts = _districts_by_code(session)
    problems = Problems()
    seen: dict[str, int] = {}
    rows: list[tuple[str, District]] = []
    for line, values in table.rows:
        try:
            postcode = normalise_postcode(values["postcode"])
        except ValueError as error:
            problems.add(line, str(error))
            continue
        district = districts.get(values["district_code"])
        if district is None:
            problems.add(line, _unknown_district(values["district_code"]))
            continue
        if postcode in seen:
            problems.add(line, _("postnumret %(postcode)s finns redan på rad %(other)s.", postcode=postcode,
                                 other=seen[postcode]))
            continue
        seen[postcode] = line
        rows.append((postcode, district))
    problems.raise_if_any()
    return _upsert(session, PostcodeDistrict, rows, lambda postcode, district: PostcodeDistrict(
        postcode=postcode, district_id=district.id), table.encoding)


def read_scb_deso_key(data: bytes) -> dict[str, str]:
    """SCB's DeSO → RegSO key file (``koppling-deso2018-regso2020.csv``) as {deso: regso code}."""
    table = read_table(data, columns=SCB_KEY_COLUMNS, required=("deso", "regso"),
                       example="Kommun,Kommunnamn,DeSO_2018,RegSO_2020,RegSOkod_2020")
    return {values["deso"].upper(): values["regso"].upper() for _line, values in table.rows}


def import_deso(session: Session, data: bytes, *, scb_key: Mapping[str, str] | None = None) -> ImportResult:
    """Upsert the DeSO → district table from a ``deso,district_code`` file.

    With ``scb_key`` (from :func:`read_scb_deso_key`), every DeSO code must be in
    SCB's key and its RegSO code is filled in; a ``regso`` column in the file is
    used otherwise.
    """
    table = read_table(data, columns=DESO_COLUMNS, required=("deso", "district_code"), example="deso;district_code")
    districts = _districts_by_code(session)
    problems = Problems()
    seen: dict[str, int] = {}
    rows: list[tuple[str, tuple[District, str | None]]] = []
    for line, values in table.rows:
        deso = values["deso"].upper()
        if not DESO_CODE.fullmatch(deso):
            problems.add(line, _("%(code)s är ingen DeSO-kod (fyra siffror, A, B eller C, fyra siffror, "
                                 "till exempel 0980C1120).", code=values["deso"]))
            continue
        regso = (values.get("regso") or "").upper() or None
        if scb_key is not None:
            if deso not in scb_key:
                problems.add(line, _("DeSO-koden %(code)s finns inte i SCB:s nyckelfil.", code=deso))
                continue
            regso = scb_key[deso]
        if regso is not None and not REGSO_CODE.fullmatch(regso):
            problems.add(line, _("%(code)s är ingen RegSO-kod (till exempel 0980R001).", code=regso))
            continue
        district = districts.get(values["district_code"])
        if district is None:
            problems.add(line, _unknown_district(values["district_code"]))
            continue
        if deso in seen:
            problems.add(line, _("DeSO-koden %(code)s finns redan på rad %(other)s.", code=deso, other=seen[deso]))
            continue
        seen[deso] = line
        rows.append((deso, (district, regso)))
    problems.raise_if_any()
    return _upsert(session, DesoDistrict, rows, lambda deso, target: DesoDistrict(
        deso_code=deso, district_id=target[0].id, regso_code=target[1]), table.encoding)


IMPORT_KINDS = ("districts", "postcodes", "deso")


def import_file(session: Session, kind: str, data: bytes, *, scb_key: bytes | None = None) -> ImportResult:
    """Import a file of one of IMPORT_KINDS; ``scb_key`` (SCB's DeSO–RegSO file) is used for "deso" only."""
    if kind == "districts":
        return import_districts(session, data)
    if kind == "postcodes":
        return import_postcodes(session, data)
    if kind == "deso":
        return import_deso(session, data, scb_key=read_scb_deso_key(scb_key) if scb_key else None)
    raise ValueError(f"unknown import kind {kind!r}; use one of {', '.join(IMPORT_KINDS)}")


def _upsert(session: Session, model, rows, build, encoding: str) -> ImportResult:
    """Insert new rows and overwrite changed ones, keyed by the model's one-column primary key."""
    key_column = model.__mapper__.primary_key[0]
    existing = {getattr(row, key_column.key): row for row in session.scalars(select(model))}
    columns = [column.key for column in model.__table__.columns]
    created = updated = 0
    for key, target in rows:
        new = build(key, target)
        old = existing.get(key)
        if old is None:
            session.add(new)
            created += 1
        elif any(getattr(old, c) != getattr(new, c) for c in columns):
            for column in columns:
                setattr(old, column, getattr(new, column))
            updated += 1
    session.flush()
    return ImportResult(created=created, updated=updated, encoding=encoding)


__all__ = [
    "DistrictInUse", "DistrictRow", "ImportRejected", "ImportResult", "Problem", "create_district",
    "delete_district", "district_by_code", "district_for_postcode", "import_deso", "import_districts", "import_file",
    "import_postcodes", "list_districts", "normalise_postcode", "read_scb_deso_key", "update_district",
]
