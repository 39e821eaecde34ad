from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from surveys.markdown import render_markdown


def test_limited_markdown_renders_paragraphs_emphasis_lists_links_and_shifted_headings():
    html = render_markdown("# Rubrik\n\nHej *du* och **ni**.\n\n- ett\n- två\n\n1. först\n\n"
                           "[Läs mer](https://www.example.se/a?b=1) eller [mejla](mailto:panel@example.se)")
    assert isinstance(html, Markup)
    assert "<h2>Rubrik</h2>" in html  # under the page's <h1>
    assert "<em>du</em>" in html and "<strong>ni</strong>" in html
    assert "<ul>\n<li>ett</li>" in html and "<ol>\n<li>först</li>" in html
    assert '<a href="https://www.example.se/a?b=1">Läs mer</a>' in html
    assert '<a href="mailto:panel@example.se">mejla</a>' in html


@pytest.mark.parametrize("payload", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<javascript:alert(1)>",
    '[x](https://example.se "a" onmouseover="alert(1)")',
    "![bild](https://evil.example/track.png)",
    "<iframe src=https://evil.example></iframe>",
    "<div style='background:url(javascript:alert(1))'>x</div>",
])
def test_script_payloads_come_out_as_harmless_text(payload):
    tags = tags_and_attributes(str(render_markdown(payload)))
    assert {tag for tag, _attrs in tags} <= ALLOWED_TAGS
    for _tag, attrs in tags:
        for name, value in attrs:
            assert name in ("href", "title")
            assert name != "href" or value.startswith(("https:", "http:", "mailto:"))


ALLOWED_TAGS = {"p", "em", "strong", "ul", "ol", "li", "a", "h2", "h3", "h4", "h5", "h6", "br", "code"}


def tags_and_attributes(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collector().feed(html)
    return found


def test_raw_html_is_escaped_not_dropped():
    assert str(render_markdown("<b>fet</b>")) == "<p>&lt;b&gt;fet&lt;/b&gt;</p>\n"


def test_relative_and_other_scheme_links_stay_text():
    assert "<a" not in str(render_markdown("[x](/staff/users) [y](ftp://example.se) [z](file:///etc/passwd)"))


def test_empty_text_is_empty_markup():
    assert render_markdown(None) == Markup("") and render_markdown("") == Markup("")
