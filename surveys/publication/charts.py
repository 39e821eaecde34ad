"""Charts of a published question: the page's inline SVG and the PDF's PNG.

Both come from one drawing, :func:`panel.charts.bar_chart_with_ci`, with a different
``output`` (the PDF cannot take the page's SVG: fpdf2 draws no SVG text): bars, 95 %
interval whiskers with caps, the value written beside each bar, "dold" where a value
is hidden (suppressed). A rating scale's mean is drawn on the scale's own range (1–5
runs from 1 to 5), and the axis's numbers are written in the page's locale.
"""

from __future__ import annotations

from flask_babel import gettext as _
from markupsafe import Markup

from panel.charts import bar_chart_with_ci
from surveys.publication.presentation import QuestionResult


def _series(question: QuestionResult) -> tuple[list[str], list, list, list]:
    labels = [row.label for row in question.rows]
    cells = [row.cell for row in question.rows]
    return (labels, [c.estimate if c.shown else None for c in cells],
            [c.ci_low if c.shown else None for c in cells], [c.ci_high if c.shown else None for c in cells])


def _draw(question: QuestionResult, output: str, dpi: int = 150) -> str | bytes | None:
    labels, estimates, low, high = _series(question)
    if not any(e is not None for e in estimates):
        return None
    return bar_chart_with_ci(labels, estimates, low, high, title=question.text,
                             value_format=question.value_format,  # type: ignore[arg-type]
                             value_min=question.scale_min, value_max=question.scale_max,
                             chart_id=f"q-{question.key}", missing_text=_("dold"),
                             output=output, dpi=dpi)  # type: ignore[arg-type]


def question_chart(question: QuestionResult, language: str) -> Markup | None:
    """Inline SVG of the whole-sample result with intervals, or None when nothing is shown."""
    svg = _draw(question, "svg")
    return None if svg is None else Markup(svg)


def question_png(question: QuestionResult, *, dpi: int = 150) -> bytes | None:
    """PNG of the same chart for the PDF, or None when nothing is shown."""
    png = _draw(question, "png", dpi)
    assert png is None or isinstance(png, bytes)
    return png
