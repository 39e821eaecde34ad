"""The recruitment letters: a merge file for a print shop or Word, and a printable PDF.

Letters are written in Swedish whatever language the analyst's pages are in: the
sample has no language, and the municipality writes to residents in Swedish.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask_babel import format_date, force_locale
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import MethodReturnValue

from panel.models import RecruitmentInvite, RecruitmentWave
from panel.recruitment.services import format_code

FONT_PLACES = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
# Cells Excel would run as a formula are written with a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Letter:
    """What one letter says, with the person's address: the PDF and tests read the same text."""

    sender: list[str]
    address: list[str]
    heading: str
    paragraphs: list[str]
    code_label: str
    code: str
    join_url: str
    closing: list[str]

    def text(self) -> str:
        """The whole letter as plain text."""
        return "\n\n".join(["\n".join(self.sender), "\n".join(self.address), self.heading, *self.paragraphs,
                            f"{self.code_label} {self.code}", self.join_url, *self.closing])


def _postal(postcode: str | None) -> str:
    return f"{postcode[:3]} {postcode[3:]}" if postcode and len(postcode) == 5 else (postcode or "")


def default_text(municipality: str) -> str:
    return _(
        "Du har lottats fram bland alla som bor i %(municipality)s för att bjudas in till kommunens "
        "medborgarpanel. I panelen svarar du på korta enkäter på nätet några gånger om året, om "
        "frågor som politikerna ska besluta om. Varje enkät tar ungefär tio minuter. Det är frivilligt, och "
        "du kan gå ur när du vill.\n\nVi har lottat fram deltagarna för att panelen ska likna alla som bor i "
        "kommunen. Därför är just dina svar viktiga, också om du sällan tycker till.",
        municipality=municipality)


def letter_for(invite: RecruitmentInvite, wave: RecruitmentWave, *, join_url: str, municipality: str,
               contact_email: str) -> Letter:
    with force_locale("sv"):
        address = [invite.name or "", invite.address_line1 or ""]
        if invite.address_line2:
            address.append(invite.address_line2)
        address.append(f"{_postal(invite.postcode)} {invite.city or ''}".strip())
        body = wave.letter_text.strip() or default_text(municipality)
        closing = [_("Gå med senast %(date)s.", date=format_date(wave.reply_by, "long"))] if wave.reply_by else []
        closing.append(_("Har du frågor? Skriv till %(email)s.", email=contact_email))
        return Letter(
            sender=[municipality, _("Medborgarpanelen")],
            address=[line for line in address if line],
            heading=_("Välkommen till medborgarpanelen i %(municipality)s", municipality=municipality),
            paragraphs=[p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()] + [
                _("Så här går du med: gå till %(url)s och skriv in din kod. Sedan fyller du i din "
                  "e-postadress.", url=join_url)],
            code_label=_("Din kod:"),
            code=format_code(invite.code),
            join_url=join_url,
            closing=closing,
        )


def _cell(value: str | None) -> str:
    value = value or ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def merge_csv(invites: Sequence[RecruitmentInvite], *, join_url: str, reply_by: date | None) -> bytes:
    """The mail-merge file: UTF-8 with BOM and ``;``, so Excel with Swedish settings opens it as is."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["kod", "namn", "adress", "adress2", "postnummer", "postort", "webbadress", "svara_senast"])
    deadline = reply_by.isoformat() if reply_by else ""
    for invite in invites:
        writer.writerow([format_code(invite.code), _cell(invite.name), _cell(invite.address_line1),
                         _cell(invite.address_line2), _postal(invite.postcode), _cell(invite.city), join_url,
                         deadline])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def _font(pdf: FPDF) -> tuple[str, bool]:
    """DejaVu Sans when installed (any character); otherwise Helvetica, which covers Latin-1 (åäö)."""
    for place in FONT_PLACES:
        regular, bold = place / "DejaVuSans.ttf", place / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu", True
    return "Helvetica", False


def letters_pdf(letters: Sequence[Letter], *, title: str) -> bytes:
    """One A4 page per letter, the address placed for a C5/C4 window envelope.

    Every letter of a wave has the same paragraphs, so each paragraph is broken into
    lines once and the lines are reused (fpdf2's line breaking is slow on long text).
    """
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(left=25, top=20, right=25)
    family, unicode_font = _font(pdf)
    broken: dict[tuple[str, str, float], list[str]] = {}

    def text(value: str) -> str:
        return value if unicode_font else value.encode("latin-1", "replace").decode("latin-1")

    def lines(value: str, style: str, size: float, height: float, **cell) -> None:
        pdf.set_font(family, style, size)
        key = (value, style, size)
        if key not in broken:
            broken[key] = pdf.multi_cell(0, height, text(value), dry_run=True, output=MethodReturnValue.LINES)
        for line in broken[key]:
            pdf.cell(0, height, line, new_x="LMARGIN", new_y="NEXT", **cell)

    pdf.set_title(text(title))
    pdf.set_creator("Medborgarpanelen")
    for letter in letters:
        pdf.add_page()
        lines(letter.sender[0], "B", 12, 6)
        for line in letter.sender[1:]:
            lines(line, "", 10, 5)
        pdf.set_xy(25, 50)  # the window of the envelope
        for line in letter.address:
            lines(line, "", 11, 5.5)
        pdf.set_y(95)
        lines(letter.heading, "B", 16, 8)
        pdf.ln(3)
        for paragraph in letter.paragraphs:
            lines(paragraph, "", 11, 5.8)
            pdf.ln(3)
        lines(letter.code_label, "", 11, 6)
        lines(letter.code, "B", 22, 12, border=1, align="C")
        lines(letter.join_url, "B", 13, 9, align="C")
        pdf.ln(3)
        for line in letter.closing:
            lines(line, "", 11, 5.8)
    return bytes(pdf.output())
