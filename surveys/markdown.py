"""Limited, sanitised Markdown for a survey's intro and closing texts.

Allowed: paragraphs, line breaks, *emphasis* and **strong**, bullet and numbered lists,
headings (shifted down one level, so that ``#`` becomes ``<h2>`` under the page's
``<h1>``) and links to ``http``, ``https`` and ``mailto`` addresses. Everything else
is shown as the text it is: raw HTML is escaped, an image ``![alt](url)`` is shown as its
alt text (no image is loaded, and no stray "!" is left), tables and code blocks are not
recognised, and a link to any other kind of address is left as plain text.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markupsafe import Markup

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
HEADING_SHIFT = 1


def _safe_link(url: str) -> bool:
    scheme = urlsplit(url.strip()).scheme.lower()
    return scheme in ALLOWED_SCHEMES and not any(ch.isspace() or ord(ch) < 32 for ch in url)


def _shift_heading(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    level = min(int(token.tag[1]) + HEADING_SHIFT, 6)
    token.tag = f"h{level}"
    return self.renderToken(tokens, idx, options, env)


def _image_as_text(self, tokens, idx, options, env) -> str:
    # An image is not allowed: its alt text as plain text (markup inside it, such as
    # *emphasis*, as its text), so that "![karta](https://...)" reads "karta".
    return escapeHtml(self.renderInlineAsText(tokens[idx].children or [], options, env))


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False, "breaks": False})
    md.enable(["emphasis", "list", "link", "image", "autolink", "heading", "lheading", "newline", "escape",
               "backticks"])
    md.validateLink = _safe_link
    md.add_render_rule("heading_open", _shift_heading)
    md.add_render_rule("heading_close", _shift_heading)
    md.add_render_rule("image", _image_as_text)
    return md


def render_markdown(text: str | None) -> Markup:
    """HTML for limited Markdown; safe to insert into a page as is."""
    if not text:
        return Markup("")
    return Markup(_parser().render(text))


def _fill_url_tables() -> None:
    """Render a link once, at import (before any request thread exists).

    mdurl, which markdown-it uses for link addresses, fills its percent-encoding tables
    on first use after putting the still empty table where other threads find it: two
    requests rendering the first links of a process at once could meet a half-filled
    table (an IndexError, a 500 under load). Importing happens in one thread.
    """
    _parser().render("[a](https://example.se/å?q=1%20&r=ä#s) <mailto:a@example.se> <https://example.se/ö>")


_fill_url_tables()
