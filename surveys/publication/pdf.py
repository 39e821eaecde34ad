"""The PDF of a published report, for the meeting papers (fpdf2, nothing but pip packages).

Title and facts, the decisions, every question with its chart (a PNG drawn by
matplotlib, see :mod:`surveys.publication.charts`) and its table with the 95 %
intervals and bases (and the "vet ej" share), the breakdown tables with each value's
interval below it as on the page (split so that they fit A4), response rates, approved
free text and the methods text; hidden values and bases say "dold" as on the page.
Swedish (and any) characters come from DejaVu Sans: the copy that matplotlib installs
with itself (so no system fonts are needed), else the system's.
The document's language is the reader's (``Presentation.language``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import matplotlib
from flask_babel import format_datetime
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.fonts import FontFace

from panel.charts import format_number, format_value
from panel.recruitment.letters import FONT_PLACES
from surveys.publication.charts import question_png
from surveys.publication.models import ReportDecision
from surveys.publication.presentation import Cell, Presentation, hidden_note, hidden_rates_note

BUNDLED_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_MARKDOWN_MARKS = re.compile(r"(\*\*|__|\*|_|`)")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")


def _fonts(pdf: FPDF) -> str:
    for place in (BUNDLED_FONTS, *FONT_PLACES):
        regular, bold = place / "DejaVuSans.ttf", place / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu"
    raise RuntimeError("DejaVu Sans not found: matplotlib's fonts are missing")


def plain_markdown(text: str) -> str:
    """Limited Markdown as readable plain text for the PDF: links as "text (address)"."""
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("#"):
            line = stripped.lstrip("#").strip()
        elif stripped[:2] in ("- ", "* ", "+ "):
            line = "• " + stripped[2:]
        lines.append(_MARKDOWN_MARKS.sub("", line))
    return "\n".join(lines).strip()


#: Domains per breakdown table: each cell holds a value and its interval ("35,1 %–50,2 %"),
#: which fits a column of A4's 170 mm text width five at a time beside the labels.
DOMAINS_PER_TABLE = 5


def _hidden() -> str:
    """A hidden value as the pages show it: "dold*", explained once in the note under its table."""
    return f"{_('dold')}*"


def _count(n: int | None) -> str:
    """A base as the pages show it: "dold*" where suppression hid it."""
    return _hidden() if n is None else format_number(n, 0)


def _cell_text(cell: Cell, value_format: str) -> tuple[str, str, str]:
    """(value, 95 % interval, n) as the pages write them ("dold*" for a hidden value, "–" for none)."""
    if cell.hidden:
        return _hidden(), "–", _count(cell.n)
    interval = "–"
    if cell.ci_low is not None and cell.ci_high is not None:
        interval = f"{format_value(cell.ci_low, value_format)}–{format_value(cell.ci_high, value_format)}"
    return format_value(cell.estimate, value_format), interval, _count(cell.n)


def _breakdown_cell(cell: Cell, value_format: str) -> str:
    """A breakdown cell as on the page: the value, and its interval on the line below."""
    value, interval, _n = _cell_text(cell, value_format)
    return f"{value}\n{interval}" if cell.shown and cell.ci_low is not None and cell.ci_high is not None else value


class _ReportPDF(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("DejaVu", "", 8)
        self.cell(0, 6, f"{self.footer_text} – {_('sida %(n)s', n=self.page_no())}", align="C")


def report_pdf(report: Presentation, decisions: Sequence[ReportDecision], *, municipality: str,
               created: datetime | None = None) -> bytes:
    """The whole published version as an A4 PDF."""
    pdf = _ReportPDF(format="A4", unit="mm")
    family = _fonts(pdf)
    pdf.footer_text = f"{municipality} – {report.title} – {_('version %(v)s', v=report.version)}"
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(left=20, top=18, right=20)
    pdf.set_title(report.title)
    pdf.set_lang(report.language)
    pdf.set_creator("Medborgarpanelen")
    pdf.set_creation_date(created or report.published_at or datetime.now())
    pdf.add_page()

    def heading(text: str, size: float = 14) -> None:
        pdf.set_font(family, "B", size)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)

    def paragraph(text: str, size: float = 10) -> None:
        pdf.set_font(family, "", size)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)

    def table(head: list[str], rows: list[list[str]], widths: tuple[float, ...] | None = None,
              note: str = "") -> None:
        pdf.set_font(family, "", 8.5)
        with pdf.table(col_widths=widths, headings_style=FontFace(emphasis="BOLD"), line_height=4.6,
                       text_align="LEFT", repeat_headings=1) as grid:
            grid.row(head)
            for values in rows:
                grid.row(values)
        if note and any(_hidden() in value for value in [*head, *(v for r in rows for v in r)]):
            pdf.ln(1)  # the reasons once, under the table whose "dold*" they explain
            paragraph(f"* {note}", 7.5)
        else:
            pdf.ln(3)

    heading(municipality, 11)
    heading(report.title, 18)
    facts = [_("Publicerad %(date)s, version %(v)s.", date=format_datetime(report.published_at, "short"),
               v=report.version) if report.published_at else _("Version %(v)s.", v=report.version)]
    if report.respondents is not None:
        facts.append(_("%(n)s svarade.", n=format_number(report.respondents, 0)))
    if report.invited:
        facts.append(_("%(n)s bjöds in.", n=format_number(report.invited, 0)))
    if report.response_rate is not None:
        facts.append(_("Svarsfrekvens %(r)s.", r=format_value(report.response_rate)))
    paragraph(" ".join(facts))
    paragraph(_("Värden som bygger på färre än %(k)s svarande visas inte: grupper med färre än %(k)s svarande på "
                "frågan och svar som färre än %(k)s (men minst en) har valt. Inte heller värden som skulle gå att "
                "räkna fram ur dem visas (%(h)s värden är dolda). Sådana värden står som ”dold”, med en förklaring "
                "under tabellen. Intervallen är 95 %% konfidensintervall.",
                k=report.k, h=report.hidden_values) + " " + report.weighting_note, 9)
    note = hidden_note(report.k)

    heading(_("Beslut och åtgärder"))
    if decisions:
        for decision in decisions:
            pdf.set_font(family, "B", 9)
            pdf.multi_cell(0, 5, format_datetime(decision.created_at, "short"), new_x="LMARGIN", new_y="NEXT")
            paragraph(plain_markdown(decision.text))
    else:
        paragraph(_("Inget beslut är tillagt än."))

    heading(_("Resultat"))
    for question in report.questions:
        if pdf.will_page_break(60):
            pdf.add_page()
        heading(question.text, 11)
        png = question_png(question)
        if png is not None:
            pdf.image(io.BytesIO(png), w=150)
            pdf.ln(2)
        rows = [[row.label, *_cell_text(row.cell, question.value_format)] for row in question.rows]
        if question.dont_know is not None:  # a share of everyone who answered, as on the page
            rows.append([question.dont_know.label, *_cell_text(question.dont_know.cell, "percent")])
        table([_("Svar"), _("Andel") if question.value_format == "percent" else _("Medelvärde"),
               _("95 % konfidensintervall"), _("Svarande på frågan (n)")], rows, (70, 25, 45, 30), note)
        for breakdown in question.breakdowns:
            heads = [f"{d} (n\u00a0=\u00a0{_count(b)})"  # no break inside "(n = 20)"
                     for d, b in zip(breakdown.domains, breakdown.bases, strict=True)]
            labels = [label for label, _cells in breakdown.rows]
            body = [[_breakdown_cell(c, question.value_format) for c in cells] for _label, cells in breakdown.rows]
            # As wide as A4 allows: at most DOMAINS_PER_TABLE domains (value and interval) per table.
            for start in range(0, len(heads), DOMAINS_PER_TABLE):
                part = slice(start, start + DOMAINS_PER_TABLE)
                count = len(heads[part])
                table([breakdown.title, *heads[part]],
                      [[label, *cells[part]] for label, cells in zip(labels, body, strict=True)],
                      (40, *[130 / count] * count), note)

    if report.rates:
        heading(_("Svarsfrekvens per grupp"))
        for rates in report.rates:
            table([rates.title, _("Inbjudna"), _("Svarade"), _("Svarsfrekvens")],
                  [[r.label, _count(r.invited), _count(r.completed),
                    _hidden() if r.rate is None else format_value(r.rate)] for r in rates.rows],
                  note=hidden_rates_note(report.k))

    if report.free_text:
        heading(_("Fritextsvar"))
        paragraph(_("Svar som en analytiker har läst och godkänt för publicering."), 9)
        for group in report.free_text:
            heading(group.question, 10)
            for answer in group.answers:
                paragraph("• " + answer, 9)

    heading(_("Metod"))
    for part in (report.methods or "").split("\n\n"):
        if part.strip():
            paragraph(plain_markdown(part), 9)
    paragraph(_("Programversion: %(v)s.", v=report.code_version), 8)
    return bytes(pdf.output())
