"""panel.charts: inline, accessible, deterministic, CSP-safe SVG."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from panel import charts

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    assert svg.startswith("<svg"), "no XML prolog or doctype before the <svg>"
    return ET.fromstring(svg)


def test_bar_chart_is_inline_accessible_and_has_every_number_in_its_text_alternative():
    svg = charts.bar_chart_with_ci(["Ja", "Nej"], [0.42, 0.58], [0.38, 0.53], [0.47, 0.62],
                                   title="Känner du dig trygg?", reference=[0.5, 0.5])
    root = _parse(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "Känner du dig trygg?"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.text == "Känner du dig trygg?"
    assert root.get("aria-describedby") == desc.get("id")
    for number in ("42,0\xa0%", "38,0\xa0%", "47,0\xa0%", "58,0\xa0%", "Befolkning 50,0\xa0%"):
        assert number in desc.text, number
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Ja" in texts and "42,0\xa0%" in texts  # text stays text (svg.fonttype none)


def test_charts_are_deterministic_and_ids_are_unique_per_chart():
    args = (["a", "b"], [0.1, 0.2], [0.05, 0.1], [0.2, 0.3])
    first = charts.bar_chart_with_ci(*args, title="T")
    assert first == charts.bar_chart_with_ci(*args, title="T")
    other = charts.bar_chart_with_ci(*args, title="U")
    ids_first = set(re.findall(r'\bid="([^"]+)"', first))
    ids_other = set(re.findall(r'\bid="([^"]+)"', other))
    assert ids_first and not ids_first & ids_other
    # every reference points at an id of the same chart
    for ref in re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', first):
        assert (ref[0] or ref[1]) in ids_first


def test_no_style_attributes_or_elements_that_the_content_security_policy_would_block():
    for svg in (charts.bar_chart_with_ci(["a"], [0.5], [0.4], [0.6], title="x"),
                charts.grouped_bar_chart(["kvinna", "man"], {"Panelen": [0.6, 0.4], "Befolkningen": [0.5, 0.5]},
                                         title="Kön"),
                charts.trend_chart(["2025", "2026"], [charts.TrendSeries("Ja", [0.4, 0.5], [0.3, 0.4], [0.5, 0.6])],
                                   title="Trend")):
        assert " style=" not in svg and "<style" not in svg and "<script" not in svg
        assert 'fill="#1f4e79"' in svg or 'fill="#a04a00"' in svg or 'stroke="#1f4e79"' in svg


def test_missing_estimates_are_said_not_drawn_and_never_nan():
    svg = charts.bar_chart_with_ci(["a", "b"], [0.3, None], [0.2, None], [0.4, math.nan], title="Saknas")
    desc = _parse(svg).find(f"{SVG}desc").text
    assert "b: ingen skattning" in desc
    assert not re.search(r"\bnan\b|NaN|inf\b", svg)


def test_text_is_escaped():
    svg = charts.bar_chart_with_ci(['<script>"x"</script>'], [0.5], [0.4], [0.6], title="<b>&</b>")
    assert "<script>" not in svg and "<b>" not in svg
    _parse(svg)


def test_means_use_numbers_and_an_axis_to_the_scale_maximum():
    svg = charts.bar_chart_with_ci(["Alla"], [3.4], [3.2], [3.6], title="Betyg", value_format="number", value_max=5)
    desc = _parse(svg).find(f"{SVG}desc").text
    assert "Alla: 3,40 (95\xa0% KI 3,20–3,60)" in desc and "3,40\xa0%" not in desc


def test_grouped_and_trend_charts_describe_every_series():
    grouped = charts.grouped_bar_chart(["kvinna", "man"], {"Panelen": [0.6, 0.4], "Befolkningen": [0.51, 0.49]},
                                       title="Kön")
    desc = _parse(grouped).find(f"{SVG}desc").text
    assert "kvinna: Panelen 60,0\xa0%, Befolkningen 51,0\xa0%" in desc
    trend = charts.trend_chart(["2025", "2026"], [charts.TrendSeries("Ja", [0.4, None], [0.3, None], [0.5, None])],
                               title="Trend")
    desc = _parse(trend).find(f"{SVG}desc").text
    assert "2025 40,0\xa0%" in desc and "2026 ingen skattning" in desc


def test_lengths_must_match():
    with pytest.raises(ValueError):
        charts.bar_chart_with_ci(["a", "b"], [0.1], title="x")
    with pytest.raises(ValueError):
        charts.grouped_bar_chart(["a"], {"1": [0.1], "2": [0.2], "3": [0.3]}, title="x")


def test_numbers_follow_the_locale_swedish_by_default():
    assert charts.format_value(0.425) == "42,5\xa0%"
    assert charts.format_value(-0.425) == "\u221242,5\xa0%"  # minus sign, not a hyphen
    assert charts.format_value(-3.25, "number") == "\u22123,25"
    assert charts.format_number(12345.6, 1) == "12\xa0345,6"
    assert charts.format_number(-1.25, 1, signed=True) == "\u22121,2"
    assert charts.format_number(2.0, 1, signed=True) == "+2,0"
    assert charts.format_number(-0.01, 1, signed=True) == "0,0"  # no "−0,0"
    assert charts.format_value(None) == "–" and charts.format_value(math.nan, "number") == "–"


def test_numbers_on_english_pages_are_english(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("en"):
        assert charts.format_value(0.425) == "42.5%"
        assert charts.format_value(-3.25, "number") == "-3.25"
        assert charts.format_number(12345.6, 1) == "12,345.6"
        svg = charts.bar_chart_with_ci(["Yes"], [0.425], [0.4], [0.45], title="Park")
        desc = _parse(svg).find(f"{SVG}desc").text
        assert "Yes: 42.5%" in desc and "40.0%–45.0%" in desc and "42,5" not in desc
        assert "42.5%" in [t.text for t in _parse(svg).iter(f"{SVG}text")]


def test_the_interval_legend_writes_95_percent_with_a_non_breaking_space():
    svg = charts.bar_chart_with_ci(["a"], [0.5], [0.4], [0.6], title="x")
    texts = [t.text for t in _parse(svg).iter(f"{SVG}text")]
    assert "95\xa0% konfidensintervall" in texts and "95 % konfidensintervall" not in texts


def _value_ticks(svg: str) -> list[str]:
    return re.findall(r'<g id="[^"]*xtick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, re.S)


def test_axis_numbers_are_written_in_the_locale_like_the_values():
    # A mean of 3.59 without a scale: matplotlib would write 0.5, 1.0, … beside "3,59".
    svg = charts.bar_chart_with_ci(["Alla"], [3.59], [3.4], [3.78], title="Betyg", value_format="number")
    ticks = _value_ticks(svg)
    assert "0,5" in ticks and "3,5" in ticks and not any("." in t for t in ticks), ticks
    percent = _value_ticks(charts.bar_chart_with_ci(["Ja"], [0.42], [0.4], [0.45], title="Park"))
    assert percent == ["0", "20", "40", "60", "80", "100"]
    trend = charts.trend_chart(["2025", "2026"], [charts.TrendSeries("Medel", [0.02, 0.03], [0.01, 0.02],
                                                                      [0.03, 0.04])], title="T", value_format="number")
    labels = [t for t in re.findall(r'<g id="[^"]*ytick_\d+">.*?<text[^>]*>([^<]*)</text>', trend, re.S)]
    assert labels and all("," in t for t in labels if t != "0") and not any("." in t for t in labels), labels


def test_axis_numbers_on_english_pages_are_english(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("en"):
        ticks = _value_ticks(charts.bar_chart_with_ci(["All"], [3.59], [3.4], [3.78], title="Grade",
                                                      value_format="number"))
    assert "0.5" in ticks and not any("," in t for t in ticks), ticks


def test_the_png_has_the_same_axis_as_the_svg(monkeypatch):
    seen = []
    original = charts._png

    def recording(figure, dpi):
        png = original(figure, dpi)
        seen.append(([t.get_text() for t in figure.axes[0].get_xticklabels()], figure.axes[0].get_xlim()))
        return png

    monkeypatch.setattr(charts, "_png", recording)
    png = charts.bar_chart_with_ci(["Alla"], [3.59], [3.4], [3.78], title="Betyg", value_format="number", output="png")
    assert png.startswith(b"\x89PNG")
    ticks, _limits = seen[0]
    assert "0,5" in ticks and not any("." in t for t in ticks), ticks
    charts.bar_chart_with_ci(["Alla"], [3.59], [3.4], [3.78], title="Betyg", value_format="number", value_min=1,
                             value_max=5, output="png")
    assert seen[1] == (["1", "2", "3", "4", "5"], (1.0, 5.0))


def test_a_scale_starts_at_its_minimum_and_its_bars_too():
    svg = charts.bar_chart_with_ci(["Alla", "Kvinna"], [3.59, 1.0], [3.4, 1.0], [3.78, 1.2], title="Trygghet",
                                   value_format="number", value_min=1, value_max=5)
    assert _value_ticks(svg) == ["1", "2", "3", "4", "5"]
    desc = _parse(svg).find(f"{SVG}desc").text
    assert "Alla: 3,59" in desc and "Kvinna: 1,00" in desc
    # without a minimum, means still start at 0 (a number question: visits, amounts)
    assert _value_ticks(charts.bar_chart_with_ci(["Alla"], [3.4], [3.2], [3.6], title="Betyg", value_format="number",
                                                 value_max=5))[0] == "0"
