"""Published reports say exactly what was done and show every margin of error.

A report weighted by gender and age group (never district) with a 1–5 scale that has
"vet ej" answers is published as the analyst's press does it, then read as the committee
(page, print page, PDF) and the public (Swedish, English, Arabic) read it.
"""

from __future__ import annotations

import re
from html import unescape

import pytest

from panel.charts import format_value
from surveys.results.document import OVERALL
from tests.surveys.publication.conftest import field_survey
from tests.surveys.publication.honest import honest_document, publish_document, stored_rows
from tests.surveys.publication.pdftext import pdf_text
from tests.surveys.publication.test_publication import _answers

SV_WEIGHTED = "Andelarna är vägda så att svaren motsvarar befolkningen efter kön och åldersgrupp."
EN_WEIGHTED = "The percentages are weighted so that the answers match the population by gender and age group."
OLD = ("kön, ålder och område", "gender, age and district")
BREAKDOWNS = ("district", "gender", "age_group")


@pytest.fixture
def fielded(session):
    result = field_survey(session, _answers())
    session.commit()
    return result


def _publish(app, session, fielded, **options):
    return publish_document(app, session, fielded.survey, honest_document(fielded.survey.id, **options)).report


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _text(html: str) -> str:
    """What a reader sees, spaces (no-break ones too) as one space."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", html)))


def _plain(text: str) -> str:
    return text.replace("\xa0", " ")


def _intro(html: str) -> str:
    """The paragraph under the figures: suppression, weighting, intervals."""
    return _text(re.search(r'</ul>\s*<p>(.*?)</p>', _main(html), re.S).group(1))


def _pages(client, survey_id):
    return {
        "committee": client.get(f"/committee/reports/{survey_id}").get_data(as_text=True),
        "print": client.get(f"/committee/reports/{survey_id}/versions/1/print").get_data(as_text=True),
        "public": client.get(f"/resultat/{survey_id}").get_data(as_text=True),
    }


def _flat(text: str) -> str:
    """The PDF's text with its line breaks (and any space at a line's end) as one space."""
    return re.sub(r"\s+", " ", text)


def _pdf(client, survey_id, lang="sv") -> str:
    response = client.get(f"/committee/reports/{survey_id}/versions/1/report.pdf?lang={lang}")
    assert response.status_code == 200
    return pdf_text(response.data).replace("\xa0", " ")


# ---------------------------------------------------------------- 1. the weighting variables


def test_every_report_names_the_variables_the_weights_were_made_on(app, session, fielded, committee, client):
    _publish(app, session, fielded)
    for name, html in _pages(client, fielded.survey.id).items():
        assert SV_WEIGHTED in _intro(html), name
        assert not any(old in _text(_main(html)) for old in OLD), name
    methods = _text(_main(client.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True)).split(
        'id="methods-heading"', 1)[1])
    assert "efter kön och åldersgrupp" in methods and "liknar andra invånare med samma kön och åldersgrupp." in methods
    pdf = _pdf(client, fielded.survey.id)
    assert SV_WEIGHTED in _flat(pdf) and not any(old in _flat(pdf) for old in OLD)


def test_english_and_arabic_pages_name_the_same_variables(app, session, fielded, client):
    _publish(app, session, fielded)
    english = client.get(f"/resultat/{fielded.survey.id}?lang=en").get_data(as_text=True)
    intro = _intro(english)
    # In English once the catalog has the sentence; until then the whole sentence is Swedish, marked lang="sv".
    assert EN_WEIGHTED in intro or ('<span lang="sv">' + SV_WEIGHTED + "</span>") in _main(english)
    assert "district" not in intro and "område" not in intro
    arabic = client.get(f"/resultat/{fielded.survey.id}?lang=ar").get_data(as_text=True)
    intro = _intro(arabic)
    assert "område" not in intro and "المنطقة" not in intro  # "district" in Arabic
    if SV_WEIGHTED in intro:  # not translated yet: Swedish, marked as Swedish inside the right-to-left page
        assert f'<span lang="sv" dir="ltr">{SV_WEIGHTED}</span>' in _main(arabic)


def test_an_unweighted_report_says_so_everywhere(app, session, fielded, committee, client):
    _publish(app, session, fielded, weighted=False)
    for name, html in _pages(client, fielded.survey.id).items():
        intro = _intro(html)
        assert "Andelarna är inte vägda." in intro and "vägda så att" not in intro, name
        assert "liknar invånarna i stort, eftersom svaren inte är viktade" in _text(_main(html)), name
        assert "viktningsmodellen" not in _text(_main(html)), name
    pdf = _flat(_pdf(client, fielded.survey.id))
    assert "Andelarna är inte vägda." in pdf and "vägda så att" not in pdf


def test_the_r_indicator_names_the_variables_it_was_computed_on(app, session, fielded, committee, client):
    from dataclasses import replace

    from surveys.results.document import RIndicatorSummary

    document = honest_document(fielded.survey.id)
    indicator = RIndicatorSummary(r=0.81, r_adjusted=None, se=None, ci_low=None, ci_high=None, cv=None,
                                  mean_propensity=0.5, n_invited=120, n_responded=60, variables=("gender", "age_group"))
    document = replace(document, representativeness=replace(document.representativeness, r_indicator=indicator))
    publish_document(app, session, fielded.survey, document)
    page = _text(_main(client.get(f"/committee/reports/{fielded.survey.id}").get_data(as_text=True)))
    assert "R-indikator: 0,81 (1 betyder att svaren fördelar sig som de inbjudna efter kön och åldersgrupp)." in page
    assert not any(old in page for old in OLD)


# ---------------------------------------------------------------- 2. sentences apart


@pytest.mark.parametrize("lang", ["sv", "en", "ar"])
def test_the_sentences_under_the_figures_are_separated_by_a_space(app, session, fielded, client, lang):
    _publish(app, session, fielded)
    intro = _intro(client.get(f"/resultat/{fielded.survey.id}?lang={lang}").get_data(as_text=True))
    assert len(re.findall(r"[.»”]\s", intro + " ")) >= 3, intro
    assert not re.search(r"\.[^\s\d]", intro), intro  # "område.Intervallen", "district.The intervals"


def test_an_unweighted_report_keeps_the_space_too(app, session, fielded, client):
    _publish(app, session, fielded, weighted=False)
    intro = _intro(client.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True))
    assert "Andelarna är inte vägda. Intervallen är 95" in intro


# ---------------------------------------------------------------- 3. intervals in the PDF


def test_the_pdf_shows_every_interval_the_page_shows(app, session, fielded, committee, client):
    report = _publish(app, session, fielded)
    pdf = _pdf(client, fielded.survey.id)
    page = _text(_main(client.get(f"/committee/reports/{fielded.survey.id}").get_data(as_text=True)))
    shown = 0
    with app.test_request_context():
        for key, fmt in (("park", "percent"), ("visits", "number"), ("trygghet", "number")):
            for row in stored_rows(report, key, variables=BREAKDOWNS):
                if row["flag"] == "suppressed" or row["ci_low"] is None:
                    continue
                interval = _plain(f"{format_value(row['ci_low'], fmt)}–{format_value(row['ci_high'], fmt)}")
                assert interval in page, (key, row["domain_value"])
                assert interval in pdf, (key, row["domain_value"], interval)
                shown += 1
    assert shown >= 15


def test_hidden_bases_and_values_in_the_pdf_look_as_on_the_page(app, session, fielded, committee, client):
    report = _publish(app, session, fielded)
    hidden_bases = [r for r in stored_rows(report, "park", variables=BREAKDOWNS) if r["n"] is None]
    assert hidden_bases  # the district of three
    page = _text(_main(client.get(f"/committee/reports/{fielded.survey.id}").get_data(as_text=True)))
    pdf = _pdf(client, fielded.survey.id)
    assert "(n = dold* (se förklaringen under tabellen))" in page and "(n = dold*)" in pdf
    assert "n = –" not in pdf and "n = –" not in page
    assert "* ”dold”: värdet visas inte" in pdf


def test_a_wide_breakdown_is_split_so_it_fits_a4_and_keeps_its_intervals(app, session, fielded, committee, client):
    from surveys.publication import pdf as pdf_module

    report = _publish(app, session, fielded)
    with app.test_request_context():
        rows = [r for r in stored_rows(report, "park", variables=("district",)) if r["flag"] != "suppressed"]
        intervals = [_plain(f"{format_value(r['ci_low'])}–{format_value(r['ci_high'])}") for r in rows]
    original = pdf_module.DOMAINS_PER_TABLE
    pdf_module.DOMAINS_PER_TABLE = 1  # every district a table of its own
    try:
        pdf = _pdf(client, fielded.survey.id)
    finally:
        pdf_module.DOMAINS_PER_TABLE = original
    assert intervals and all(interval in pdf for interval in intervals)
    assert pdf.count("\nOmråde\n") >= 3 * 3  # three districts, three questions


# ---------------------------------------------------------------- 4. "vet ej"


def _dont_know_row(html: str) -> list[str]:
    row = re.search(r"<tr><th scope=\"row\"[^>]*>Vet ej \(andel av dem som svarade\)</th>(.*?)</tr>", html, re.S)
    assert row, "no vet ej row"
    return [_text(cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]


def test_the_vet_ej_share_and_its_base_are_published(app, session, fielded, committee, client):
    report = _publish(app, session, fielded)
    question = next(q for q in report.document["questions"] if q["key"] == "trygghet")
    dont_know = next(r for r in question["dont_know"] if r["domain_variable"] == OVERALL)
    assert (dont_know["count"], dont_know["n"]) == (9, 60)
    with app.test_request_context():
        share = _plain(format_value(dont_know["estimate"]))
        interval = _plain(f"{format_value(dont_know['ci_low'])}–{format_value(dont_know['ci_high'])}")
    for name, html in _pages(client, fielded.survey.id).items():
        assert _dont_know_row(html) == [share, interval, "60"], name
        assert "Hur trygg känner du dig? – alla som svarade, utom ”vet ej” (n = 51)" in _text(html), name
    pdf = _pdf(client, fielded.survey.id)
    assert re.search(r"Vet ej \(andel av dem som svarade\)\n" + re.escape(share) + r"\n" + re.escape(interval)
                     + r"\n60\n", pdf), pdf


def test_a_small_vet_ej_group_is_hidden_with_its_base(app, session, fielded, committee, client):
    _publish(app, session, fielded, dont_know=3)
    html = client.get(f"/committee/reports/{fielded.survey.id}").get_data(as_text=True)
    value, interval, base = _dont_know_row(html)
    # its base (everyone who answered) less the mean's base would give the hidden count back
    assert value.startswith("dold*") and interval == "–" and base.startswith("dold*")
    assert "Vet ej (andel av dem som svarade)\ndold*" in _pdf(client, fielded.survey.id)


def test_a_question_without_vet_ej_has_no_such_row(app, session, fielded, client):
    _publish(app, session, fielded)
    html = client.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True)
    assert html.count("Vet ej (andel av dem som svarade)") == 1
    assert "Hur många besök? – alla som svarade (n = 60)" in _text(html)


# ---------------------------------------------------------------- 5. the scale's own axis


def _chart(html: str, key: str) -> str:
    return re.search(rf'<svg[^>]*aria-describedby="cq-{key}-desc".*?</svg>', html, re.S).group(0)


def _ticks(svg: str) -> list[str]:
    """The value axis's tick labels (matplotlib's xtick groups)."""
    return [unescape(t) for t in re.findall(r'<g id="[^"]*xtick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, re.S)]


def test_a_scale_mean_is_drawn_on_the_scales_own_range(app, session, fielded, client):
    _publish(app, session, fielded)
    for lang in ("sv", "en", "ar"):
        svg = _chart(client.get(f"/resultat/{fielded.survey.id}?lang={lang}").get_data(as_text=True), "trygghet")
        assert _ticks(svg) == ["1", "2", "3", "4", "5"], (lang, _ticks(svg))


def test_the_pdf_chart_is_the_same_drawing_on_the_same_axis(app, session, fielded, committee, client, monkeypatch):
    from panel import charts

    axes = []
    original = charts._png

    def recording(figure, dpi):
        png = original(figure, dpi)  # drawn: the tick labels are set
        ax = figure.axes[0]
        axes.append((ax.get_title(loc="left"), ax.get_xlim(), [t.get_text() for t in ax.get_xticklabels()]))
        return png

    monkeypatch.setattr(charts, "_png", recording)
    _publish(app, session, fielded)
    _pdf(client, fielded.survey.id)
    title, limits, ticks = next(a for a in axes if a[0] == "Hur trygg känner du dig?")
    assert limits == (1.0, 5.0) and ticks == ["1", "2", "3", "4", "5"]
    visits = next(a for a in axes if a[0] == "Hur många besök?")
    assert visits[1][0] == 0.0 and all("." not in t for t in visits[2])  # a number question starts at 0
