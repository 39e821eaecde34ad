"""Charts of a published question: the page's inline SVG (panel.charts) and the PDF's PNG.

The PDF cannot take the page's SVG (fpdf2 draws no SVG text), so it gets a PNG drawn
by matplotlib from the same numbers with the same look: bars, 95 % interval whiskers
with caps, the value written beside each bar. Hidden (suppressed) values draw nothing.
"""

from __future__ import annotations

import io
import math
import threading

import matplotlib

matplotlib.use("Agg")

from flask_babel import gettext as _  # noqa: E402
from markupsafe import Markup  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from panel.charts import INK, PRIMARY, bar_chart_with_ci, format_value  # noqa: E402
from surveys.publication.presentation import QuestionResult  # noqa: E402

_LOCK = threading.Lock()


def _series(question: QuestionResult) -> tuple[list[str], list, list, list]:
    labels = [row.label for row in question.rows]
    cells = [row.cell for row in question.rows]
    return (labels, [c.estimate if c.shown else None for c in cells],
            [c.ci_low if c.shown else None for c in cells], [c.ci_high if c.shown else None for c in cells])


def question_chart(question: QuestionResult, language: str) -> Markup | None:
    """Inline SVG of the whole-sample result with intervals, or None when nothing is shown."""
    labels, estimates, low, high = _series(question)
    if not any(e is not None for e in estimates):
        return None
    return Markup(bar_chart_with_ci(labels, estimates, low, high, title=question.text,
                                    value_format=question.value_format,  # type: ignore[arg-type]
                                    chart_id=f"q-{question.key}"))


def question_png(question: QuestionResult, *, dpi: int = 150) -> bytes | None:
    """PNG of the same chart for the PDF, or None when nothing is shown."""
    labels, estimates, low, high = _series(question)
    if not any(e is not None for e in estimates):
        return None
    scale = 100.0 if question.value_format == "percent" else 1.0

    def scaled(value):
        return math.nan if value is None else float(value) * scale

    with _LOCK, rc_context({"font.family": "DejaVu Sans", "font.size": 9, "text.color": INK,
                            "axes.edgecolor": INK, "xtick.color": INK, "ytick.color": INK}):
        figure = Figure(figsize=(6.8, max(1.4, 0.36 * len(labels) + 0.9)), dpi=dpi, layout="constrained")
        ax = figure.add_subplot()
        positions = list(range(len(labels)))[::-1]
        values = [scaled(v) for v in estimates]
        ax.barh(positions, [0 if math.isnan(v) else v for v in values], height=0.6, color=PRIMARY)
        for pos, lo, hi in zip(positions, low, high, strict=True):
            if lo is not None and hi is not None:
                ax.errorbar([(scaled(lo) + scaled(hi)) / 2], [pos], xerr=[[(scaled(hi) - scaled(lo)) / 2]] * 2,
                            fmt="none", ecolor=INK, elinewidth=1.2, capsize=3)
        finite = [v for v in values + [scaled(h) for h in high] if not math.isnan(v)]
        upper = 100.0 if question.value_format == "percent" else max(finite + [1.0]) * 1.2
        ax.set_xlim(min([0.0] + finite), upper)
        for pos, value, estimate in zip(positions, values, estimates, strict=True):
            text = format_value(estimate, question.value_format) if estimate is not None else _("dold")
            ax.text(min((0 if math.isnan(value) else value) + upper * 0.02, upper * 0.9), pos + 0.3, text,
                    fontsize=8, va="bottom")
        ax.set_yticks(positions, labels)
        ax.set_xlabel(_("Andel (%)") if question.value_format == "percent" else _("Medelvärde"))
        ax.spines[["top", "right"]].set_visible(False)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
