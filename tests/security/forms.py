"""Read the forms on a page and send them back with one field replaced: the tool the
hostile-value tests use to reach every text field of every form without listing them."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote_from_bytes, urljoin

TEXT_TYPES = {"text", "email", "password", "search", "tel", "url", "number", "date", "hidden", None}
SMALL_CSV = b"code;name\n0001;Norr\n"


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # name, value as the page has them
    text_fields: list[str] = field(default_factory=list)  # names a person types into
    files: list[str] = field(default_factory=list)
    choices: dict[str, str] = field(default_factory=dict)  # radio/select: first offered value


class _Parser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._textarea: str | None = None
        self._text = ""
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = Form(action=urljoin(self.page_url, a.get("action") or self.page_url),
                              method=(a.get("method") or "get").lower())
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind == "file":
                form.files.append(name)
            elif kind in ("radio", "checkbox"):
                form.choices.setdefault(name, a.get("value", "y"))
                if "checked" in a:
                    form.choices[name] = a.get("value", "y")
            elif kind in TEXT_TYPES:
                form.fields.append((name, a.get("value") or ""))
                if kind != "hidden":
                    form.text_fields.append(name)
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and a.get("value"):
            form.choices.setdefault(self._select, a["value"])
            if "selected" in a:
                form.choices[self._select] = a["value"]
        elif tag == "button" and name and form is not None:
            form.choices.setdefault(name, a.get("value", ""))

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea, self._text.lstrip("\n")))
            self._form.text_fields.append(self._textarea)
            self._textarea = None
        elif tag == "select":
            self._select = None


def forms_on(html: str, page_url: str) -> list[Form]:
    parser = _Parser(page_url)
    parser.feed(html)
    return [form for form in parser.forms if form.method == "post"]


def values(form: Form, replace: dict[str, str | bytes]) -> list[tuple[str, str | bytes]]:
    """The form's fields as a browser would send them, with ``replace`` put in."""
    sent = [(name, replace.get(name, value)) for name, value in form.fields]
    sent += [(name, replace.get(name, value)) for name, value in form.choices.items()]
    return sent


def submit(client, form: Form, replace: dict[str, str | bytes], *, filename: str = "omraden.csv",
           file_body: bytes = SMALL_CSV):
    """POST ``form`` with ``replace``d fields. Bytes values are sent as they are (invalid UTF-8 too)."""
    pairs = values(form, replace)
    if form.files:
        boundary = "----hostile-boundary-7f3a"
        parts = []
        for name, value in pairs:
            raw = value if isinstance(value, bytes) else value.encode("utf-8")
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + raw)
        for name in form.files:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="'.encode()
                         + filename.encode("utf-8", "surrogateescape") + b'"\r\nContent-Type: text/csv\r\n\r\n'
                         + file_body)
        body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
        return client.post(form.action, data=body, content_type=f"multipart/form-data; boundary={boundary}")
    body = "&".join(f"{quote_from_bytes(name.encode())}="
                    f"{quote_from_bytes(value if isinstance(value, bytes) else value.encode('utf-8'))}"
                    for name, value in pairs)
    return client.post(form.action, data=body, content_type="application/x-www-form-urlencoded")
