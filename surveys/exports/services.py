"""Exports of a survey's responses with weights: building the table, the file, the log.

Services take a Session and never commit (the view owns the transaction).

What an export holds, and what it never holds: one row per stored response with the
snapshot of gender and district taken at answer time and the age band of the year the
invitation was sent, the day it was
submitted, the language, every answer (coded as :mod:`surveys.exports.table` explains)
and the weight. Never the member's name, email, member id, invitation id, link token or
the response's database id — not in identified surveys either: an identified survey
lets the municipality follow up one person's answers inside the system, but a file
that leaves the system is treated as anonymous in every survey.

Every export is written to the audit log (who, when, which survey, which format, how
many rows; never any of the data).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panel import audit
from panel.db import utcnow
from panel.models import District, StaffUser
from surveys.answering.models import SurveyResponse
from surveys.authoring.services import definition_of
from surveys.definition import text_in
from surveys.exports import formats
from surveys.exports.table import ExportTable, ResponseRecord, build_table, submitted_day, uncoded_variables
from surveys.exports.weights import ExportWeighting, weighting_for
from surveys.models import Survey

EXPORT_ACTION = "export.download"
# openpyxl writes about 55,000 cells per CPU second on this 2-core machine (10,000
# responses x 23 variables: 4.3 s): a million cells take ~18 s of CPU, which leaves
# room under the web workers' 60 s timeout on a busy machine. Larger: CSV or SPSS.
XLSX_MAX_CELLS = 1_000_000
FORMATS = {
    # format -> (mimetype, file extension)
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "sav": ("application/x-spss-sav", "sav"),
    "codebook": ("text/csv; charset=utf-8", "csv"),
}


@dataclass(frozen=True)
class ExportOptions:
    format: str = "csv"  # a key of FORMATS
    separator: str = "semicolon"  # a key of formats.SEPARATORS
    values: str = "codes"  # "codes" or "labels" (CSV and XLSX)
    language: str = "sv"  # the language of question texts and labels

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown export format {self.format!r}")
        if self.separator not in formats.SEPARATORS:
            raise ValueError(f"unknown separator {self.separator!r}")
        if self.values not in ("codes", "labels"):
            raise ValueError(f"values are 'codes' or 'labels', not {self.values!r}")


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    mimetype: str
    filename: str
    rows: int
    weighted: bool


# --------------------------------------------------------------------------- reading


def response_count(session: Session, survey: Survey) -> int:
    return session.scalar(select(func.count()).select_from(SurveyResponse)
                          .where(SurveyResponse.survey_id == survey.id)) or 0


def response_records(session: Session, survey: Survey, *, answers: bool = True) -> list[ResponseRecord]:
    """The survey's stored responses as the export reads them: never a link to a person.

    Only these columns are selected — the identified-mode links (invitation, member)
    are not even read. ``answers=False`` leaves the answers out (enough for weights).
    """
    columns = [SurveyResponse.id, SurveyResponse.language, SurveyResponse.submitted_at, SurveyResponse.gender,
               SurveyResponse.age_group, SurveyResponse.district_code]
    if answers:
        columns.append(SurveyResponse.answers)
    # Core rows through the session's connection: no ORM bookkeeping for 100,000 rows.
    rows = session.connection().execute(select(*columns).where(SurveyResponse.survey_id == survey.id))
    return [
        ResponseRecord(sort_key=str(row.id), language=row.language, submitted_on=submitted_day(row.submitted_at),
                       gender=row.gender, age_group=row.age_group, district_code=row.district_code,
                       answers=(row.answers or {}) if answers else {})
        for row in rows
    ]


def district_names(session: Session) -> dict[str, str]:
    return {code: name for code, name in session.execute(select(District.code, District.name))}


# --------------------------------------------------------------------------- weights


def survey_weighting(session: Session, survey: Survey,
                     records: list[ResponseRecord] | None = None) -> ExportWeighting:
    """The weights the survey's report uses (its saved settings) for ``records``, or why none."""
    if records is None:
        records = response_records(session, survey, answers=False)
    return weighting_for(session, survey, records)


# --------------------------------------------------------------------------- building


def export_table(session: Session, survey: Survey, *, language: str = "sv", now: datetime | None = None) -> ExportTable:
    """The survey's responses with weights, labels and the codebook notes."""
    defn = definition_of(survey)
    if language not in defn.languages:
        language = "sv"
    records = response_records(session, survey)
    weighting = survey_weighting(session, survey, records)
    moment = now or utcnow()
    notes = [
        _("Enkät: %(title)s (nummer %(id)s).", title=text_in(defn.title, language), id=survey.id),
        _("Exporterad %(when)s (svensk tid).",
          when=format_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC), "yyyy-MM-dd HH:mm")),
        _privacy_note(survey),
        *weighting.notes,
        _("Koder för saknade svar: -1 = ej besvarad (frågan visades men hoppades över), -2 = visades inte "
          "(dold av ett villkor eller en sida som aldrig nåddes); på skalor och talfrågor vars lägsta värde "
          "är under noll ligger koderna under det lägsta värdet. \"Vet ej\" har en egen kod över skalan. "
          "Alla är användardefinierade saknade värden i SPSS-filen."),
        _("Texter som ett kalkylprogram kunde läsa som formler (de börjar med =, +, -, @, tabb eller "
          "radbrytning) har ett ' först i CSV-filen och är text (med Excels '-prefix) i Excel-filen; "
          "SPSS-filen har dem som de skrevs."),
    ]
    table = build_table(defn, records, title=text_in(defn.title, language),
                        weights=weighting.weights, district_names=district_names(session), notes=notes,
                        language=language, design_weights=weighting.design_weights)
    uncoded = uncoded_variables(table)
    if uncoded:  # say exactly which variables cannot tell skipped from not shown
        at = len(notes) - 1  # after the missing codes' note
        exact = _("Utan koder: %(names)s. Där är ett tomt värde (systemsaknat i SPSS) antingen ej besvarad eller "
                  "visades inte; de två går inte att skilja åt (textsvar och talfrågor utan lägsta värde).",
                  names=", ".join(v.name for v in uncoded))
        table = replace(table, notes=table.notes[:at] + (exact,) + table.notes[at:])
    return table


def _privacy_note(survey: Survey) -> str:
    mode = _("anonym") if survey.anonymous else _("identifierad")
    return _("Inga direkta personuppgifter: filen har inga namn, e-postadresser, medlems- eller "
             "inbjudningsnummer, länkar eller svarens id i databasen, bara kön och område vid svarstillfället "
             "och åldersgrupp det år inbjudan skickades. Enkäten är %(mode)s; även för identifierade enkäter exporteras ingen identitet.",
             mode=mode)


def render_file(table: ExportTable, options: ExportOptions, *, survey: Survey, now: datetime | None = None) -> ExportFile:
    """The bytes of the chosen file."""
    separator = formats.SEPARATORS[options.separator]
    labels = options.values == "labels"
    if options.format == "csv":
        content = formats.to_csv(table, separator=separator, labels=labels)
    elif options.format == "xlsx":
        content = formats.to_xlsx(table, labels=labels)
    elif options.format == "sav":
        content = formats.to_sav(table)
    else:
        content = formats.codebook_csv(table, separator=separator)
    mimetype, extension = FORMATS[options.format]
    stem = "kodbok" if options.format == "codebook" else "svar"
    day = (now or utcnow()).strftime("%Y-%m-%d")
    filename = f"enkat-{survey.id}-{_slug(survey.title)}-{stem}-{day}.{extension}"
    return ExportFile(content=content, mimetype=mimetype, filename=filename, rows=table.row_count,
                      weighted=table.weighted)


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:40].strip("-") or "enkat"


class ExportTooLarge(ValueError):
    """The chosen format cannot be made for this many answers within a request."""


def check_size(session: Session, survey: Survey, options: ExportOptions) -> None:
    """Refuse an XLSX file too large to write within a request (CSV and SPSS have no limit)."""
    if options.format != "xlsx":
        return
    variables = len(build_table(definition_of(survey), [], title="", weights={}).variables)
    cells = response_count(session, survey) * variables
    if cells > XLSX_MAX_CELLS:
        raise ExportTooLarge(_("Enkäten har för många svar för en Excel-fil som görs medan du väntar "
                               "(%(cells)s celler, högst %(limit)s). Välj CSV, som Excel också öppnar, eller SPSS.",
                               cells=f"{cells:,}".replace(",", " "), limit=f"{XLSX_MAX_CELLS:,}".replace(",", " ")))


def export_survey(
    session: Session,
    survey: Survey,
    options: ExportOptions,
    *,
    actor: StaffUser,
    remote_addr: str | None = None,
    now: datetime | None = None,
) -> ExportFile:
    """Build the file and record the export in the audit log (the caller commits).

    Raises :class:`ExportTooLarge` (nothing recorded) when the format has a size limit
    that the survey exceeds.
    """
    check_size(session, survey, options)
    table = export_table(session, survey, language=options.language, now=now)
    exported = render_file(table, options, survey=survey, now=now)
    record_export(session, survey=survey, options=options, exported=exported, actor=actor, remote_addr=remote_addr)
    return exported


def record_export(session: Session, *, survey: Survey, options: ExportOptions, exported: ExportFile,
                  actor: StaffUser, remote_addr: str | None = None) -> Any:
    """One audit event: who, when, which survey, format and row count — never any data."""
    return audit.record(
        session, actor=actor, action=EXPORT_ACTION, target=survey, remote_addr=remote_addr,
        detail={"format": options.format, "rows": exported.rows, "weighted": exported.weighted,
                "separator": options.separator if options.format in ("csv", "codebook") else None,
                "values": options.values if options.format in ("csv", "xlsx") else None,
                "language": options.language},
    )
