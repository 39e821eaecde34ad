"""Server-side charts: matplotlib SVG, embedded inline, with the numbers beside them.

Every function returns an ``<svg>`` string that can be put straight into a page
(``|safe`` in Jinja; every text in it is escaped here): no XML prolog or doctype,
``role="img"``, an ``aria-label`` and a ``<title>``/``<desc>`` with the text
alternative (the title and every number, so a screen reader gets what the picture
shows). Pages still show a data table with the same numbers beside each chart.

The output is deterministic (same input, same bytes): the Agg backend, text kept
as text (``svg.fonttype = "none"``), a fixed ``svg.hashsalt``, no date or creator
in the metadata, and every ``id`` in the SVG prefixed with a digest of the input so
that several charts on one page never share an id.

Colours have at least 3:1 contrast against white, and no meaning rests on colour
alone: the confidence interval is a black whisker with caps, a population
reference is a hollow diamond marker named in the legend, the second series of a
grouped chart is hatched, and every bar is labelled with its value.

Estimates are proportions (0–1, shown as per cent) with ``value_format="percent"``
or plain numbers (means) with ``value_format="number"``. ``None`` (or NaN) means
"no estimate": nothing is drawn for it and the text alternative says so.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from babel import Locale  # noqa: E402
from babel.numbers import format_decimal  # noqa: E402
from babel.numbers import format_percent as format_percent_babel  # noqa: E402
from flask_babel import gettext as _  # noqa: E402

ValueFormat = Literal["percent", "number"]
Output = Literal["svg", "png"]
Number = float | int | None

#: Bar fill: dark blue, 9.4:1 against white.
PRIMARY = "#1f4e79"
#: Second series: dark orange-brown, 5.9:1 against white; always hatched as well.
SECONDARY = "#a04a00"
#: Whiskers, reference markers and text.
INK = "#1a1a1a"
#: Confidence band of a trend line (drawn behind a solid line, so it only adds).
BAND = "#9dbad6"

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "medborgarpanel",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "text.color": INK,
    "hatch.linewidth": 1.0,
}
_LOCK = threading.Lock()  # rc_context changes global state
_ID = re.compile(r'\bid="([^"]+)"')
_STYLE = re.compile(r'\sstyle="([^"]*)"')
# CSS properties matplotlib writes in style="" that SVG also has as presentation attributes.
_PRESENTATION = frozenset({
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
    "stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "stroke-miterlimit", "opacity", "font-family",
    "font-size", "font-weight", "font-style", "text-anchor", "dominant-baseline", "clip-path", "visibility",
})


@dataclass(frozen=True)
class TrendSeries:
    """One line of a trend chart: an estimate and its interval at every x position."""

    name: str
    estimates: Sequence[Number]
    ci_low: Sequence[Number]
    ci_high: Sequence[Number]


# --------------------------------------------------------------------------- formatting


def _finite(value: Number) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def number_locale() -> Locale:
    """The locale numbers are written in: the page's or email's (Flask-Babel), else Swedish."""
    try:
        from flask_babel import get_locale

        current = get_locale()
    except (RuntimeError, KeyError):  # outside an application context
        current = None
    return current if isinstance(current, Locale) else Locale.parse("sv")


def _symbols(locale: Locale) -> Mapping:
    symbols = locale.number_symbols
    latn = symbols.get("latn")  # Babel >= 2.14 keys the symbols by numbering system
    return latn if isinstance(latn, Mapping) else symbols


def _signs(text: str, locale: Locale) -> str:
    """Babel writes an ASCII hyphen for minus; Swedish typography (CLDR) uses U+2212."""
    minus = _symbols(locale).get("minusSign", "-")
    return text.replace("-", minus) if minus != "-" else text


def format_number(value: Number, digits: int = 2, *, signed: bool = False, grouping: bool = True) -> str:
    """``3.25`` → ``"3,25"`` (Swedish) / ``"3.25"`` (English); ``None`` (or NaN) → ``"–"``.

    ``signed`` writes a plus sign before positive numbers (differences in percentage points).
    """
    if not _finite(value):
        return "–"
    assert value is not None
    locale = number_locale()
    body = ("#,##0" if grouping else "0") + ("." + "0" * digits if digits > 0 else "")
    pattern = f"+{body};-{body}" if signed else body
    if signed and round(float(value), digits) == 0:
        pattern = body  # no "+0,0" or "−0,0"
        value = 0.0
    return _signs(format_decimal(value, format=pattern, locale=locale), locale)


def format_percent(value: Number, digits: int = 1) -> str:
    """A proportion in the locale's per-cent form: ``0.425`` → ``"42,5\u00a0%"`` (sv), ``"42.5%"`` (en)."""
    if not _finite(value):
        return "–"
    assert value is not None
    locale = number_locale()
    pattern = locale.percent_formats[None].pattern
    if "#,##0" not in pattern:  # pragma: no cover - every locale the panel offers has it
        pattern = "#,##0\u00a0%"
    pattern = pattern.replace("#,##0", "#,##0" + ("." + "0" * digits if digits > 0 else ""), 1)
    return _signs(format_percent_babel(value, format=pattern, locale=locale), locale)


def format_value(value: Number, value_format: ValueFormat = "percent") -> str:
    """``0.425`` → ``"42,5\u00a0%"`` (percent) or ``3.25`` → ``"3,25"`` (number) in the current
    locale (Swedish: non-breaking space before %, U+2212 minus; English: ``"42.5%"``, ``"3.25"``);
    ``None`` → ``"–"``."""
    if value_format == "percent":
        return format_percent(value, 1)
    return format_number(value, 2)


def _interval(low: Number, high: Number, value_format: ValueFormat) -> str:
    if not (_finite(low) and _finite(high)):
        return ""
    return _("95 %% KI %(low)s–%(high)s", low=format_value(low, value_format), high=format_value(high, value_format))


def _scaled(value: Number, value_format: ValueFormat) -> float:
    if not _finite(value):
        return math.nan
    assert value is not None
    return float(value) * (100.0 if value_format == "percent" else 1.0)


def _tick_digits(ticks: Sequence[float]) -> int:
    """Decimals that tell the ticks apart: none for 0, 20, 40; one for 0.5, 1.0, 1.5; at most three."""
    finite = sorted(t for t in ticks if math.isfinite(t))
    steps = [b - a for a, b in zip(finite, finite[1:], strict=False) if b - a > 1e-12]
    step = min(steps, default=1.0)
    for digits in range(4):
        if abs(step * 10 ** digits - round(step * 10 ** digits)) < 1e-6:
            return digits
    return 3


def _locale_ticks(axis) -> None:
    """Write the value axis's tick labels as the page writes numbers (decimal comma and U+2212
    minus in Swedish), not matplotlib's "0.5, 1.0"."""

    def label(value: float, _position: int | None) -> str:
        return format_number(value, _tick_digits(list(axis.get_majorticklocs())))

    axis.set_major_formatter(FuncFormatter(label))


def _axis_label(value_format: ValueFormat, axis_label: str | None) -> str:
    if axis_label:
        return axis_label
    return _("Andel (%)") if value_format == "percent" else _("Medelvärde")


# --------------------------------------------------------------------------- SVG output


def _presentation(match: re.Match[str]) -> str:
    """``style="fill: #000; stroke-width: 0.8"`` → ``fill="#000" stroke-width="0.8"``.

    The Content-Security-Policy (``style-src 'self'``) ignores style attributes and
    ``<style>`` elements in the page; presentation attributes are not CSS and apply.
    """
    out = []
    for declaration in match.group(1).split(";"):
        name, _sep, value = declaration.partition(":")
        name, value = name.strip(), value.strip().replace("'", "")
        if name in _PRESENTATION and value:
            out.append(f' {name}="{escape(value)}"')
    return "".join(out)


def _svg(figure: Figure, *, title: str, description: str, chart_id: str) -> str:
    """The figure as an inline, accessible, deterministic ``<svg>``."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    start = text.index("<svg")
    text = text[start:]
    # Ids unique per chart: prefix every id and every reference to one.
    ids = set(_ID.findall(text))
    prefix = f"c{chart_id}-"
    for old in sorted(ids, key=len, reverse=True):
        text = text.replace(f'id="{old}"', f'id="{prefix}{old}"')
        text = text.replace(f"url(#{old})", f"url(#{prefix}{old})")
        text = text.replace(f'href="#{old}"', f'href="#{prefix}{old}"')
    # Drop the fixed size (the page scales the chart), keep the viewBox.
    head_end = text.index(">")
    head = text[:head_end]
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    title_id, desc_id = f"{prefix}title", f"{prefix}desc"
    head += (f' class="chart" role="img" aria-label="{escape(title)}" '
             f'aria-describedby="{desc_id}" focusable="false"')
    body = text[head_end + 1:]
    body = re.sub(r"<metadata>.*?</metadata>", "", body, flags=re.S)
    body = re.sub(r"<style[^>]*>.*?</style>", "", body, flags=re.S)
    body = _STYLE.sub(_presentation, body)
    head += ' stroke-linejoin="round" stroke-linecap="butt"'  # what matplotlib's <style> said
    accessible = (f'<title id="{title_id}">{escape(title)}</title>'
                  f'<desc id="{desc_id}">{escape(description)}</desc>')
    return head + ">" + accessible + body.strip() + "\n"


def _png(figure: Figure, dpi: int) -> bytes:
    """The figure as PNG bytes (for the PDF), without the date or software in the metadata."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:10]


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=72, layout="constrained")
    figure.patch.set_facecolor("white")
    return figure


def _check_lengths(name: str, expected: int, *others: tuple[str, Sequence[object] | None]) -> None:
    for label, values in others:
        if values is not None and len(values) != expected:
            raise ValueError(f"{name}: {label} has {len(values)} values, labels has {expected}")


# --------------------------------------------------------------------------- charts


def bar_chart_with_ci(
    labels: Sequence[str],
    estimates: Sequence[Number],
    ci_low: Sequence[Number] | None = None,
    ci_high: Sequence[Number] | None = None,
    *,
    title: str,
    value_format: ValueFormat = "percent",
    reference: Sequence[Number] | None = None,
    reference_label: str | None = None,
    estimate_label: str | None = None,
    axis_label: str | None = None,
    value_max: float | None = None,
    value_min: float | None = None,
    chart_id: str | None = None,
    missing_text: str | None = None,
    output: Output = "svg",
    dpi: int = 150,
) -> str | bytes:
    """Horizontal bars (one per label) with 95 % confidence-interval whiskers.

    ``reference`` (optional, same length) draws a hollow diamond per bar, e.g. the
    population share beside the sample's share (``reference_label`` names it in
    the legend; default "Befolkning"). ``value_max`` fixes the end of the value
    axis for numbers (e.g. the top of a rating scale); per cent always ends at 100.
    ``value_min`` (numbers only) starts the axis and the bars there instead of at 0:
    a 1–5 scale's mean of 3.6 is drawn from 1, so the bar fills as much of the scale
    as the mean does. Tick labels are written in the current locale, as the values are.
    ``missing_text`` is written for a missing estimate (default "–" at the bar and
    "ingen skattning" in the text alternative; published reports say "dold").

    ``output="svg"`` (pages) returns the inline ``<svg>`` string; ``output="png"``
    returns PNG bytes of the very same figure at ``dpi`` (the PDF, which cannot draw
    SVG text): one drawing for both, so the page and the PDF cannot drift apart.
    """
    if output not in ("svg", "png"):
        raise ValueError(f"bar_chart_with_ci: output must be 'svg' or 'png', not {output!r}")
    n = len(labels)
    _check_lengths("bar_chart_with_ci", n, ("estimates", estimates), ("ci_low", ci_low), ("ci_high", ci_high),
                   ("reference", reference))
    low = list(ci_low) if ci_low is not None else [None] * n
    high = list(ci_high) if ci_high is not None else [None] * n
    ref = list(reference) if reference is not None else None
    estimate_name = estimate_label or _("Skattning")
    reference_name = reference_label or _("Befolkning")

    lines = []
    for i, label in enumerate(labels):
        line = f"{label}: {format_value(estimates[i], value_format)}"
        if not _finite(estimates[i]):
            line = f"{label}: " + (missing_text or _("ingen skattning"))
        interval = _interval(low[i], high[i], value_format)
        if interval and _finite(estimates[i]):
            line += f" ({interval})"
        if ref is not None:
            line += f"; {reference_name} {format_value(ref[i], value_format)}"
        lines.append(line)
    description = "; ".join(lines) if lines else _("Inga värden att visa.")

    with _LOCK, rc_context(_RC):
        figure = _figure(7.5, max(1.8, 0.45 * n + 1.4))
        ax = figure.add_subplot()
        positions = list(range(n))[::-1]  # first label on top
        values = [_scaled(v, value_format) for v in estimates]
        base = float(value_min) if value_format == "number" and _finite(value_min) else 0.0
        ax.barh(positions, [0 if math.isnan(v) else v - base for v in values], left=base, height=0.6, color=PRIMARY,
                edgecolor=PRIMARY, label=estimate_name)
        for pos, lo, hi in zip(positions, low, high, strict=True):
            lo_s, hi_s = _scaled(lo, value_format), _scaled(hi, value_format)
            if not (math.isnan(lo_s) or math.isnan(hi_s)):
                ax.errorbar([(lo_s + hi_s) / 2], [pos], xerr=[[(hi_s - lo_s) / 2], [(hi_s - lo_s) / 2]], fmt="none",
                            ecolor=INK, elinewidth=1.5, capsize=4, capthick=1.5)
        if ref is not None:
            ref_values = [_scaled(v, value_format) for v in ref]
            ax.scatter([v for v in ref_values if not math.isnan(v)],
                       [p for p, v in zip(positions, ref_values, strict=True) if not math.isnan(v)],
                       marker="D", s=42, facecolors="white", edgecolors=INK, linewidths=1.6, zorder=3,
                       label=reference_name)
        highest = max([v for v in values + [_scaled(h, value_format) for h in high] if not math.isnan(v)],
                      default=0.0)
        if ref is not None:
            highest = max([highest] + [_scaled(v, value_format) for v in ref if _finite(v)])
        upper = 100.0 if value_format == "percent" else (highest * 1.18 if highest > 0 else 1.0)
        if value_format == "number" and value_max is not None and value_max > base:
            upper = max(float(value_max), highest + (highest - base) * 0.05)
        lowest = [v for v in values + [_scaled(v, value_format) for v in low] if not math.isnan(v)]
        lower = min([base] + ([v for v in values if not math.isnan(v)] if base == 0.0 else lowest))
        if lower >= upper:
            upper = lower + 1.0
        span = upper - lower
        ax.set_xlim(lower, upper)
        for pos, value, hi in zip(positions, values, high, strict=True):
            text = format_value(None if math.isnan(value) else value / (100.0 if value_format == "percent" else 1.0),
                                value_format)
            if math.isnan(value) and missing_text:
                text = missing_text
            at = max(base if math.isnan(value) else value, _scaled(hi, value_format) if _finite(hi) else -math.inf)
            ax.text(min(at + span * 0.015, upper - span * 0.01), pos, text, va="center",
                    ha="left" if at + span * 0.1 < upper else "right", fontsize=9)
        if base != 0.0:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
        _locale_ticks(ax.xaxis)
        ax.set_yticks(positions, [str(label) for label in labels])
        ax.set_xlabel(_axis_label(value_format, axis_label))
        ax.set_title(title, loc="left", fontsize=11)
        ax.spines[["top", "right"]].set_visible(False)
        handles = [Patch(facecolor=PRIMARY, edgecolor=PRIMARY, label=estimate_name),
                   Line2D([0], [0], color=INK, linewidth=1.5, marker="|", markersize=8, label=_("95 % konfidensintervall"))]
        if ref is not None:
            handles.append(Line2D([0], [0], marker="D", color="none", markerfacecolor="white", markeredgecolor=INK,
                                  markersize=7, label=reference_name))
        figure.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=9)
        if output == "png":
            return _png(figure, dpi)
        return _svg(figure, title=title, description=description,
                    chart_id=chart_id or _digest("bar", labels, estimates, low, high, ref, title, value_format))


def grouped_bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[Number]],
    *,
    title: str,
    value_format: ValueFormat = "percent",
    axis_label: str | None = None,
    chart_id: str | None = None,
) -> str:
    """Horizontal bars grouped per category, one bar per series (at most two:
    e.g. "Panelen" against "Befolkningen"). The second series is hatched."""
    if not 1 <= len(series) <= 2:
        raise ValueError("grouped_bar_chart: give one or two series")
    n = len(categories)
    for name, values in series.items():
        _check_lengths("grouped_bar_chart", n, (name, values))
    names = list(series)
    lines = []
    for i, category in enumerate(categories):
        parts = ", ".join(f"{name} {format_value(series[name][i], value_format)}" for name in names)
        lines.append(f"{category}: {parts}")
    description = "; ".join(lines) if lines else _("Inga värden att visa.")

    with _LOCK, rc_context(_RC):
        figure = _figure(7.5, max(1.8, 0.4 * n * len(names) + 1.4))
        ax = figure.add_subplot()
        height = 0.8 / len(names)
        base = [float(p) for p in range(n)][::-1]
        styles = [dict(color=PRIMARY, edgecolor=PRIMARY), dict(color="white", edgecolor=SECONDARY, hatch="///")]
        highest = 0.0
        for s, name in enumerate(names):
            values = [_scaled(v, value_format) for v in series[name]]
            highest = max([highest] + [v for v in values if not math.isnan(v)])
            offset = (len(names) - 1) / 2 * height - s * height
            positions = [b + offset for b in base]
            ax.barh(positions, [0 if math.isnan(v) else v for v in values], height=height * 0.95, label=name,
                    linewidth=1.2, **styles[s])
            for pos, value in zip(positions, values, strict=True):
                shown = None if math.isnan(value) else value / (100.0 if value_format == "percent" else 1.0)
                ax.text((0 if math.isnan(value) else value) + 0.5, pos, format_value(shown, value_format),
                        va="center", ha="left", fontsize=8)
        upper = max(highest * 1.2, 1.0)
        if value_format == "percent":
            upper = min(max(upper, 10.0), 100.0) if highest < 83 else 100.0
        ax.set_xlim(0, upper)
        _locale_ticks(ax.xaxis)
        ax.set_yticks(base, [str(c) for c in categories])
        ax.set_xlabel(_axis_label(value_format, axis_label))
        ax.set_title(title, loc="left", fontsize=11)
        ax.spines[["top", "right"]].set_visible(False)
        figure.legend(loc="outside lower center", ncol=len(names), frameon=False, fontsize=9)
        return _svg(figure, title=title, description=description,
                    chart_id=chart_id or _digest("grouped", categories, sorted(series.items()), title, value_format))


def trend_chart(
    x_labels: Sequence[str],
    series: Sequence[TrendSeries],
    *,
    title: str,
    value_format: ValueFormat = "percent",
    axis_label: str | None = None,
    chart_id: str | None = None,
) -> str:
    """Lines over surveys (x positions in order) with the 95 % interval as a band and
    whiskers. Series are told apart by marker shape and line style as well as colour."""
    n = len(x_labels)
    for line in series:
        _check_lengths("trend_chart", n, (line.name, line.estimates), (line.name, line.ci_low),
                       (line.name, line.ci_high))
    lines = []
    for line in series:
        points = []
        for i, x in enumerate(x_labels):
            if _finite(line.estimates[i]):
                text = f"{x} {format_value(line.estimates[i], value_format)}"
                interval = _interval(line.ci_low[i], line.ci_high[i], value_format)
                points.append(f"{text} ({interval})" if interval else text)
            else:
                points.append(f"{x} " + _("ingen skattning"))
        lines.append(f"{line.name}: " + ", ".join(points))
    description = "; ".join(lines) if lines else _("Inga värden att visa.")
    markers = ["o", "s", "^", "D", "v", "P"]
    styles = ["-", "--", "-.", ":", "-", "--"]
    colours = [PRIMARY, SECONDARY, INK, "#4b6b2a", "#6a1b9a", "#005f73"]

    with _LOCK, rc_context(_RC):
        figure = _figure(7.5, 3.6)
        ax = figure.add_subplot()
        xs = list(range(n))
        highest = 0.0
        for k, line in enumerate(series):
            colour = colours[k % len(colours)]
            est = [_scaled(v, value_format) for v in line.estimates]
            lo = [_scaled(v, value_format) for v in line.ci_low]
            hi = [_scaled(v, value_format) for v in line.ci_high]
            highest = max([highest] + [v for v in est + hi if not math.isnan(v)])
            if len(series) == 1:
                ax.fill_between(xs, lo, hi, color=BAND, alpha=0.6, linewidth=0, label=_("95 % konfidensintervall"))
            for x, e, a, b in zip(xs, est, lo, hi, strict=True):
                if not (math.isnan(e) or math.isnan(a) or math.isnan(b)):
                    ax.errorbar([x], [e], yerr=[[e - a], [b - e]], fmt="none", ecolor=colour, elinewidth=1.2,
                                capsize=4)
            ax.plot(xs, est, color=colour, linestyle=styles[k % len(styles)], marker=markers[k % len(markers)],
                    markersize=6, linewidth=2, label=line.name)
        upper = 100.0 if value_format == "percent" and highest > 60 else max(highest * 1.15, 1.0)
        ax.set_ylim(0, upper)
        _locale_ticks(ax.yaxis)
        ax.set_xlim(-0.5, max(n - 0.5, 0.5))
        ax.set_xticks(xs, [str(x) for x in x_labels])
        ax.set_ylabel(_axis_label(value_format, axis_label))
        ax.set_title(title, loc="left", fontsize=11)
        ax.spines[["top", "right"]].set_visible(False)
        figure.legend(loc="outside lower center", ncol=min(len(series) + 1, 4), frameon=False, fontsize=9)
        return _svg(figure, title=title, description=description,
                    chart_id=chart_id or _digest("trend", x_labels, [(s.name, tuple(s.estimates), tuple(s.ci_low),
                                                                      tuple(s.ci_high)) for s in series],
                                                 title, value_format))
