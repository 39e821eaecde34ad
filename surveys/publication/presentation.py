"""A published report as readers see it: the stored (suppressed) document, shaped for pages and PDF.

The committee page, the print page, the public page, the PDF and the feedback emails
all render :class:`Presentation`, made by :func:`present` from a published version
in one language. Only what suppression left is here: hidden values are ``None`` with
``hidden`` set, the breakdowns are the fixed ones (district, gender, age band), and
free text appears only as the analyst approved it. Figures are the *weighted* ones
(weighted to the population; or, when that could not be done for an equal-allocation
sample, weighted by the design weights 1/π alone; or equal to the unweighted ones; the
weighting sentence and the methods text say which).

Every text taken from the document is a :class:`Text`: a string that knows the
language it is actually in. A survey without texts in the reader's language shows
its own (Swedish) texts, and the frozen methods text exists in Swedish and English
only, so an Arabic page holds Swedish parts; :func:`in_language` and
:func:`lang_attributes` mark them with ``lang`` (and ``dir``) so a screen reader
reads them with a Swedish voice (WCAG 3.1.2). The breakdowns' fixed vocabulary
(gender, age bands, the mean) is translated through the catalog instead; district
names are proper names and are not marked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.lists import format_list
from flask_babel import get_translations
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from panel.charts import format_number, format_value
from panel.i18n import direction
from surveys.publication.suppression import FIXED_BREAKDOWNS, PRIMARY, SECONDARY, SUPPRESSED
from surveys.results.document import MEAN, OVERALL, QuestionResult as DocQuestion, ReportDocument, ResultRow

BREAKDOWN_TITLES = {"district": _l("Område"), "gender": _l("Kön"), "age_group": _l("Åldersgrupp")}
MAX_KEY_RESULTS = 5


# The breakdowns' fixed vocabulary (the members' gender values), in the catalog's words.
GENDER_NAMES = {"kvinna": _l("Kvinna"), "man": _l("Man"), "annan": _l("Annan / icke-binär"),
                "uppger_ej": _l("Vill inte uppge")}
MEAN_LABEL = _l("Medelvärde")
DONT_KNOW_LABEL = _l("Vet ej (andel av dem som svarade)")
#: The variables a report is weighted by, as a sentence names them ("efter kön och åldersgrupp").
VARIABLE_NAMES = {"gender": _l("kön"), "age_group": _l("åldersgrupp"), "district": _l("område")}
WEIGHTED_BY = _l("Andelarna är vägda så att svaren motsvarar befolkningen efter %(variables)s.")
WEIGHTED = _l("Andelarna är vägda så att svaren motsvarar befolkningen.")
UNWEIGHTED = _l("Andelarna är inte vägda.")
DESIGN_WEIGHTED = _l("Andelarna är vägda med urvalets designvikter (varje svar väger som 1/sannolikheten att komma "
                     "med i urvalet, eftersom urvalet tog lika många från varje grupp), men inte till befolkningen.")
R_INDICATOR_BY = _l("R-indikator: %(r)s (1 betyder att svaren fördelar sig som de inbjudna efter %(variables)s).")
R_INDICATOR = _l("R-indikator: %(r)s (1 betyder att svaren fördelar sig som de inbjudna).")
SCALE_TYPES = ("scale", "matrix")  # numeric questions whose answers are points on a scale
AGE_BAND_LABEL = _l("%(band)s år")  # "16–24 år"
_AGE_BAND = re.compile(r"^(\d+)(?:-(\d+)|\+)$")
FALLBACK = "sv"  # the language every document text exists in


class Text(str):
    """A shown text and the language it is in (``lang``; None: a proper name or a number,
    which needs no language of its own)."""

    lang: str | None

    def __new__(cls, value: str, lang: str | None) -> Text:
        text = super().__new__(cls, value)
        text.lang = lang
        return text

    def __reduce__(self):  # keep the language through copy and pickle
        return (Text, (str(self), self.lang))


def text_in(texts: dict[str, str] | None, language: str) -> Text:
    """The text in ``language``, else in Swedish (else in any language it has), with its language."""
    if not texts:
        return Text("", None)
    for lang in (language, FALLBACK):
        if texts.get(lang):
            return Text(texts[lang], lang)
    lang, value = next(((k, v) for k, v in texts.items() if v), (None, ""))
    return Text(value, lang)


def lang_attributes(text: Any, page_language: str) -> Markup:
    """`` lang="sv" dir="ltr"`` for an element holding ``text`` when it is not in the page's
    language (``dir`` only when the direction differs too); empty otherwise."""
    return language_attributes(getattr(text, "lang", None), page_language)


def language_attributes(lang: str | None, page_language: str) -> Markup:
    """As :func:`lang_attributes`, for content known to be in ``lang`` (None: no language of its own)."""
    if not lang or lang == page_language:
        return Markup("")
    attributes = Markup(' lang="%s"') % lang
    if direction(lang) != direction(page_language):
        attributes += Markup(' dir="%s"') % direction(lang)
    return attributes


def in_language(text: Any, page_language: str) -> Markup:
    """``text`` escaped, in a ``<span lang=...>`` when it is not in the page's language."""
    attributes = lang_attributes(text, page_language)
    if not attributes or not str(text):
        return escape(text)
    return Markup("<span%s>%s</span>") % (attributes, text)


def catalog_text(message: Any, language: str, **variables: Any) -> Text:
    """``message`` (a msgid or lazy string) through the current locale's catalog, in the
    language it came out in: Swedish (the msgid) while the catalog lacks a translation."""
    msgid = _msgid(message)
    text = _(msgid, **variables)
    return Text(text, language if _in_catalog(msgid) else FALLBACK)


def _msgid(message: Any) -> str:
    return getattr(message, "_args", (message,))[0] if not isinstance(message, str) else message


def _in_catalog(message: Any) -> bool:
    catalog = getattr(get_translations(), "_catalog", None)
    return bool(catalog is not None and catalog.get(_msgid(message)))


def weighting_variables(margins: Any) -> tuple[str, ...]:
    """The variables the weights were made on, each once, from the stored margins
    (``("gender × age_group", "district")`` → ``("gender", "age_group", "district")``)."""
    found = [part.strip() for margin in margins or () for part in str(margin).split("×")]
    return tuple(dict.fromkeys(v for v in found if v))


def naming_variables(message: Any, variables: tuple[str, ...], language: str, **values: Any) -> Text:
    """``message`` with ``%(variables)s`` the names of ``variables`` as a list ("kön och
    åldersgrupp", "gender and age group"), all in one language: the page's when the catalog
    has the sentence and every name, else Swedish (the msgids), marked as such."""
    names = [VARIABLE_NAMES.get(v) for v in variables]
    translated = language == FALLBACK or (_in_catalog(message) and all(n is not None and _in_catalog(n)
                                                                         for n in names))
    lang = language if translated else FALLBACK
    words = [(str(n) if translated else _msgid(n)) if n is not None else v
             for n, v in zip(names, variables, strict=True)]
    values["variables"] = format_list(words, locale=lang)
    return Text(_(_msgid(message), **values) if translated else _msgid(message) % values, lang)


def weighting_note(weighted: bool, variables: tuple[str, ...], language: str, *, design_only: bool = False) -> Text:
    """The report's one sentence on weighting, naming exactly the variables used
    ("… efter kön och åldersgrupp."), or saying the shares are weighted by the design
    weights alone (``design_only``), or not weighted."""
    if not weighted:
        return catalog_text(DESIGN_WEIGHTED if design_only else UNWEIGHTED, language)
    if not variables:
        return catalog_text(WEIGHTED, language)
    return naming_variables(WEIGHTED_BY, variables, language)


def r_indicator_note(r: float | None, variables: tuple[str, ...], language: str) -> Text:
    """The R-indicator and what 1 means, naming the variables the response was modelled on."""
    if r is None:
        return Text("", None)
    value = format_number(r, 2)
    if not variables:
        return catalog_text(R_INDICATOR, language, r=value)
    return naming_variables(R_INDICATOR_BY, variables, language, r=value)


def fixed_label(variable: str, value: str, stored: dict[str, str] | None, language: str) -> Text:
    """A breakdown category as readers see it: gender and age bands in the current locale
    (the catalog's words), districts by their (proper) names, anything else as stored."""
    if variable == "gender" and value in GENDER_NAMES:
        return catalog_text(GENDER_NAMES[value], language)
    if variable == "age_group":
        match = _AGE_BAND.match(value)
        if match:
            band = f"{match.group(1)}–{match.group(2)}" if match.group(2) else f"{match.group(1)}+"
            return catalog_text(AGE_BAND_LABEL, language, band=band)
    if variable == "district":
        return Text(text_in(stored, language) or value, None)
    found = text_in(stored, language)
    return found if found else Text(value, None)


_CODE = re.compile(r"^(primary|secondary):(\d+)$")
# Versions published before the reason codes stored these Swedish sentences (immutable since).
_OLD_SECONDARY = re.compile(r"^dold för att den annars skulle kunna räknas fram ur andra värden \(färre än (\d+) svarande\)$")
_OLD_PRIMARY = re.compile(r"^dold: färre än (\d+) svarande$")


def parse_reason(stored: str | None) -> tuple[str, int] | None:
    """(code, k) of a hidden cell's stored reason: ``"primary:5"``, or the Swedish text of
    versions published before the codes; None when it is neither."""
    text = (stored or "").strip()
    for pattern, code in ((_CODE, None), (_OLD_SECONDARY, SECONDARY), (_OLD_PRIMARY, PRIMARY)):
        match = pattern.match(text)
        if match:
            return (code or match.group(1), int(match.groups()[-1]))
    return None


def suppression_reason(stored: str | None) -> str:
    """Why a cell is hidden, in the current locale (the page's, the PDF's or the email's).

    The same words for a cell hidden because its group is small (primary) and for one hidden
    so that the small one cannot be worked out (secondary): telling them apart would show a
    reader which of the hidden cells is the small group, which secondary suppression exists
    to prevent. Only k is shown.
    """
    parsed = parse_reason(stored)
    if parsed is None:
        return _("för få svarande")
    _code, k = parsed
    return _("färre än %(k)s svarande här eller i en grupp som annars kunde räknas fram", k=k)


def hidden_note(k: int) -> str:
    """The note under a table with hidden values: what the rule hides, said once per table.

    Both reasons are named (a value resting on fewer than k respondents, and one hidden so that
    such a value cannot be worked out), but not which reason applies to which cell: that would
    show a reader which hidden cell is the small one.
    """
    return _("”dold”: värdet visas inte, av ett av två skäl. 1) Det bygger på för få svarande: en grupp "
             "med färre än %(k)s svarande på frågan, eller ett svar som färre än %(k)s (men minst en) har "
             "valt. 2) Det skulle annars gå att räkna fram ett sådant värde ur de andra värdena och "
             "summorna. Vilket av skälen som gäller en viss cell sägs inte, eftersom det skulle avslöja "
             "den lilla gruppen.", k=k)


def hidden_rates_note(k: int) -> str:
    """The note under a response-rate table with hidden values."""
    return _("”dold”: visas inte, av ett av två skäl. 1) Gruppen har färre än %(k)s inbjudna eller färre än "
             "%(k)s svarande (men minst en). 2) Talet skulle annars gå att räkna fram ur summan och de "
             "andra grupperna. Svarsfrekvensen döljs om något av talen den räknas på är dolt.", k=k)


@dataclass(frozen=True)
class Cell:
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None  # unweighted base (respondents who answered, in the domain)
    hidden: bool = False
    stored_reason: str = ""  # as stored in the version: "primary:5" (or an older Swedish text)

    @property
    def shown(self) -> bool:
        return not self.hidden and self.estimate is not None

    @property
    def reason(self) -> str:
        """Why the cell is hidden, in the reader's language ("" when it is not hidden)."""
        return suppression_reason(self.stored_reason) if self.hidden else ""

    @classmethod
    def of(cls, row: ResultRow | None) -> Cell:
        if row is None:
            return cls(None, None, None, None, hidden=False)
        hidden = row.flag == SUPPRESSED
        return cls(row.estimate, row.ci_low, row.ci_high, row.n, hidden=hidden,
                   stored_reason=row.reason if hidden else "")


@dataclass(frozen=True)
class Row:
    label: Text
    cell: Cell


@dataclass(frozen=True)
class BreakdownTable:
    """One question by one breakdown: categories down, domains across."""

    variable: str
    title: str
    domains: list[Text]
    bases: list[int | None]  # unweighted n per domain (None when hidden)
    rows: list[tuple[Text, list[Cell]]]  # (category label, a cell per domain)

    @property
    def has_hidden(self) -> bool:
        return any(b is None for b in self.bases) or any(c.hidden for _l, cells in self.rows for c in cells)


@dataclass(frozen=True)
class QuestionResult:
    key: str
    text: Text
    value_format: str  # "percent" (shares) or "number" (a mean)
    rows: list[Row]  # the whole sample: one per category (or the mean)
    base: int | None
    breakdowns: list[BreakdownTable]
    note: Text = Text("", None)  # the results package's reason, in Swedish
    # "Vet ej" (whole sample): its share of everyone who answered, always a percentage, and
    # that base (hidden with the share, else base minus the mean's base gives the count back).
    dont_know: Row | None = None
    scale_min: int | None = None  # a rating scale's own range, for the chart's axis
    scale_max: int | None = None
    shown: int | None = None  # respondents who got the question (None when hidden as a small number)

    @property
    def has_hidden(self) -> bool:
        """Whether the whole-sample table shows a hidden value (a share, a mean or a base)."""
        rows = [*self.rows, *([self.dont_know] if self.dont_know else [])]
        return any(r.cell.hidden or r.cell.n is None for r in rows)  # a base of None reads "dold" too


@dataclass(frozen=True)
class RateRow:
    label: Text
    invited: int | None
    completed: int | None
    rate: float | None
    hidden: bool = False


@dataclass(frozen=True)
class RateTable:
    variable: str
    title: str
    rows: list[RateRow]

    @property
    def has_hidden(self) -> bool:
        return any(r.invited is None or r.completed is None or r.rate is None for r in self.rows)


@dataclass(frozen=True)
class FreeTextGroup:
    question: Text
    answers: list[str]  # as residents wrote them: language unknown (pages give them dir="auto")


@dataclass(frozen=True)
class KeyResult:
    question: Text
    value: str
    answer: str  # "svarade Ja" in the current locale, the label in its own language
    margin: str
    label: Text = Text("", None)  # the answer's label alone (for marking its language in HTML)


@dataclass(frozen=True)
class Presentation:
    survey_id: int
    version: int
    language: str
    title: Text
    published_at: datetime | None
    invited: int | None
    respondents: int | None
    response_rate: float | None
    r_indicator: float | None
    weighted: bool
    weighting_reason: str
    weighting_variables: tuple[str, ...]  # each variable the weights were made on, once
    weighting_note: Text  # the sentence that says so, in the reader's language (else Swedish)
    r_indicator_note: Text  # the R-indicator and the variables it was computed on ("" without one)
    design_effect: float | None
    effective_n: float | None
    targets: Text
    questions: list[QuestionResult]
    rates: list[RateTable]
    methods: Text
    free_text: list[FreeTextGroup]
    k: int
    hidden_values: int
    code_version: str
    design_weighted: bool = False  # not weighted to the population, but by the design weights 1/π alone


def document_of(report: Any) -> ReportDocument:
    return ReportDocument.from_dict(report.document)


def present(report: Any, language: str) -> Presentation:
    """The published version ``report`` (a PublishedReport) in ``language``."""
    document = document_of(report)
    settings = report.settings or {}
    suppression = settings.get("suppression", {})
    fielding, weighting = document.fielding, document.weighting
    rindicator = document.representativeness.r_indicator
    targets = Text("", None)
    if weighting.targets is not None:  # the population figures' name as the analyst gave it (Swedish)
        targets = Text(f"{weighting.targets.name} ({weighting.targets.source}, {weighting.targets.reference_date})",
                       FALLBACK)
    paragraphs = document.methods.paragraphs
    methods_language = language if paragraphs.get(language) else FALLBACK
    methods = paragraphs.get(methods_language) or []
    return Presentation(
        survey_id=report.survey_id, version=report.version, language=language,
        title=text_in(document.survey.title, language), published_at=report.published_at,
        invited=fielding.invited, respondents=fielding.responses, response_rate=fielding.response_rate,
        r_indicator=rindicator.r if rindicator else None,
        weighted=weighting.status == "weighted", weighting_reason=weighting.reason,
        weighting_variables=weighting_variables(weighting.variables),
        weighting_note=weighting_note(weighting.status == "weighted", weighting_variables(weighting.variables),
                                      language, design_only=weighting.status == "design_weighted"),
        r_indicator_note=r_indicator_note(rindicator.r if rindicator else None,
                                          weighting_variables(rindicator.variables if rindicator else ()), language),
        design_effect=weighting.design_effect, effective_n=weighting.effective_n, targets=targets,
        questions=[_question(q, document, language) for q in document.questions],
        rates=_rates(document, language),
        methods=Text("\n\n".join(methods), methods_language if methods else None),
        free_text=[FreeTextGroup(text_in(group.text, language), list(group.answers)) for group in document.free_text],
        k=int(suppression.get("k", report.suppression_min_n)),
        hidden_values=int(suppression.get("hidden_values", 0)),
        code_version=report.code_version, design_weighted=weighting.status == "design_weighted",
    )


def _category_labels(question: DocQuestion, language: str) -> dict[str, Text]:
    labels = {c.value: text_in(c.label, language) or Text(c.value, None) for c in question.categories}
    labels[MEAN] = catalog_text(MEAN_LABEL, language)
    return labels


def _question(question: DocQuestion, document: ReportDocument, language: str) -> QuestionResult:
    labels = _category_labels(question, language)
    overall = question.rows(weighted=True)
    rows = [Row(labels.get(r.category, Text(r.category, None)), Cell.of(r)) for r in overall]
    base = next((r.n for r in overall if r.n is not None), None)
    breakdowns = []
    for variable in FIXED_BREAKDOWNS:
        domain_rows = question.rows(weighted=True, domain_variable=variable)
        if not domain_rows:
            continue
        domains = list(dict.fromkeys(r.domain_value for r in domain_rows))
        domain_labels = {r.domain_value: fixed_label(variable, r.domain_value, r.domain_label, language)
                         for r in domain_rows}
        by = {(r.category, r.domain_value): r for r in domain_rows}
        categories = list(dict.fromkeys(r.category for r in domain_rows))
        bases = [next((r.n for r in domain_rows if r.domain_value == d), None) for d in domains]
        breakdowns.append(BreakdownTable(
            variable, str(BREAKDOWN_TITLES[variable]), [domain_labels[d] for d in domains], bases,
            [(labels.get(c, Text(c, None)), [Cell.of(by.get((c, d))) for d in domains]) for c in categories]))
    text = text_in(question.text, language)
    if question.item_text:
        item = text_in(question.item_text, language)
        # Both come from one definition, so they share a language; if not, mark the one not in the page's.
        lang = text.lang if text.lang != language else item.lang
        text = Text(f"{text} – {item}", lang)
    scale = question.kind == "numeric" and question.question_type in SCALE_TYPES
    return QuestionResult(key=question.key, text=text, value_format="number" if question.kind == "numeric" else "percent",
                          rows=rows, base=base, breakdowns=breakdowns,
                          note=Text(question.reason, FALLBACK if question.reason else None),
                          dont_know=_dont_know(question, language),
                          scale_min=question.scale_min if scale else None,
                          scale_max=question.scale_max if scale else None,
                          shown=question.shown)


def _dont_know(question: DocQuestion, language: str) -> Row | None:
    """The whole-sample "vet ej" row, as the analyst's report shows it (None when the question has none)."""
    row = next((r for r in question.dont_know if r.domain_variable == OVERALL), None)
    if row is None:
        return None
    cell = Cell.of(row)
    if cell.hidden:
        cell = Cell(None, None, None, None, hidden=True, stored_reason=cell.stored_reason)
    return Row(catalog_text(DONT_KNOW_LABEL, language), cell)


def _rates(document: ReportDocument, language: str) -> list[RateTable]:
    tables = []
    for variable in FIXED_BREAKDOWNS:
        rows = [r for r in document.representativeness.response_rates if r.variable == variable]
        if rows:
            tables.append(RateTable(variable, str(BREAKDOWN_TITLES[variable]),
                                    [RateRow(fixed_label(variable, r.category, r.label, language),
                                             r.invited, r.completed, r.rate,
                                             hidden=r.completed is None) for r in rows]))
    return tables


def _asked_of_some(question: QuestionResult, presentation: Presentation) -> bool:
    """Whether fewer respondents got the question than answered the survey (a display condition)."""
    return (question.shown is not None and presentation.respondents is not None
            and 0 < question.shown < presentation.respondents)


def key_results(presentation: Presentation) -> list[KeyResult]:
    """The emails' key results: per question (the first few), the most common answer or the mean.

    Only shown (not suppressed) whole-sample figures, each with its 95 % interval (not a
    "± half width": an interval at 0 or 100 % is one-sided). Numbers are written as the
    pages write them (one decimal for shares, two for means) in the current locale (the
    email's language).
    """
    results = []
    for question in presentation.questions:
        shown = [row for row in question.rows if row.cell.shown]
        if not shown:
            continue
        top = max(shown, key=lambda row: row.cell.estimate or 0.0)
        cell = top.cell
        notes = []
        if _asked_of_some(question, presentation) and question.base is not None:
            # a display condition: the figure is of those who got the question, not of everyone
            notes.append(_("bland de %(n)s som fick frågan och svarade på den", n=format_number(question.base, 0)))
        if cell.ci_low is not None and cell.ci_high is not None:
            notes.append(_("95\u00a0%% konfidensintervall %(low)s–%(high)s",
                           low=format_value(cell.ci_low, question.value_format),
                           high=format_value(cell.ci_high, question.value_format)))
        margin = ", ".join(notes)
        if question.value_format == "percent":
            value, answer = format_value(cell.estimate, "percent"), _("svarade %(a)s", a=top.label)
        elif question.scale_min is not None and question.scale_max is not None:
            value, answer = _("i genomsnitt %(v)s på skalan %(low)s–%(high)s",
                              v=format_value(cell.estimate, "number"), low=format_number(question.scale_min, 0),
                              high=format_number(question.scale_max, 0)), ""
        else:
            value, answer = _("i genomsnitt %(v)s", v=format_value(cell.estimate, "number")), ""
        label = top.label if question.value_format == "percent" else Text("", None)
        results.append(KeyResult(question.text, value, answer, margin, label))
        if len(results) == MAX_KEY_RESULTS:
            break
    return results
