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


@pytest.mark.parametrize(("text", "html"), [
    ("![Karta](https://www.example.se/karta.png)", "<p>Karta</p>\n"),
    ("Se ![karta över *parken* & <b>](https://www.example.se/k.png \"titel\") här.",
     "<p>Se karta över parken &amp; &lt;b&gt; här.</p>\n"),
    ("[![Karta](https://www.example.se/k.png)](https://www.example.se/karta)",
     '<p><a href="https://www.example.se/karta">Karta</a></p>\n'),
    ("Hej! [Läs mer](https://www.example.se)", '<p>Hej! <a href="https://www.example.se">Läs mer</a></p>\n'),
    ("![Karta](javascript:alert(1))", "<p>![Karta](javascript:alert(1))</p>\n"),  # not an image: text as written
])
def test_an_image_reads_as_its_alt_text_without_a_stray_exclamation_mark(text, html):
    assert str(render_markdown(text)) == html


def test_an_image_in_a_decision_reads_as_its_alt_text_on_the_public_page(app, session, analyst):
    from surveys.publication import services
    from tests.conftest import csrf_token
    from tests.surveys.publication.conftest import field_survey
    from tests.surveys.publication.support import document_from_answers, park_answers

    fielded = field_survey(session, [{"park": "ja", "visits": 3, "comment": None}] * 12)
    session.commit()
    with app.app_context():
        survey = session.merge(fielded.survey)
        services.publish(session, survey, by=None, expected_version=1, notify_all_members=False,
                         document=document_from_answers(park_answers(), survey_id=survey.id, title="Parken").to_dict())
        session.commit()
    path = f"/staff/surveys/{fielded.survey.id}/publication"
    done = analyst.post(path + "/decision", data={
        "csrf_token": csrf_token(analyst, path),
        "text": "Parken byggs, se ![karta över parken](https://evil.example/track.png) i bilagan."})
    assert done.status_code == 302
    public = analyst.get(f"/resultat/{fielded.survey.id}").get_data(as_text=True)
    assert "Parken byggs, se karta över parken i bilagan." in public
    assert "evil.example" not in public and "!karta" not in public and "<img" not in public


def test_the_url_tables_are_filled_at_import_not_by_the_first_requests():
    """mdurl fills its tables lazily, visible half-filled to other threads (an IndexError under load):
    importing surveys.markdown has filled every table a link needs."""
    import importlib

    from mdurl import _decode, _encode

    import surveys.markdown

    _encode.encode_cache.clear()
    _decode.decode_cache.clear()
    importlib.reload(surveys.markdown)
    assert _encode.encode_cache and all(len(table) == 128 for table in _encode.encode_cache.values())
    assert _decode.decode_cache and all(len(table) == 128 for table in _decode.decode_cache.values())
    surveys.markdown._parser.cache_clear()
    before = {key: list(table) for key, table in _encode.encode_cache.items()}
    surveys.markdown.render_markdown("Läs mer på [kommunens sida](https://example.se/ö?a=1) eller <mailto:a@b.se>.")
    assert set(_encode.encode_cache) == set(before), "no table is first made by a request"
