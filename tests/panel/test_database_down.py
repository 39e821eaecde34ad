"""A form sent while the database cannot be reached: a Swedish 503 page that gives the form
back, to be sent again with one button (tests/production/test_database_restart.py does the
same through gunicorn and a real PostgreSQL restart)."""

from __future__ import annotations

import re
from html import unescape

from panel.app import create_app


def hidden_fields(page: str) -> list[tuple[str, str]]:
    return [(unescape(n), unescape(v)) for n, v in
            re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)]


def database_down_client(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "PANEL_BASE_URL": "http://panel.test",
                      # a folder that does not exist: SQLite cannot open the file
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'panel.sqlite'}"})
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["respondent"] = {"invitation": 1, "survey": 1, "language": "sv"}
    return client


def test_the_typed_answers_come_back_on_the_503_page(tmp_path):
    client = database_down_client(tmp_path)
    typed = {"csrf_token": "tok", "nav": "next", "prioriteringar": ["skola", "miljo"],
             "synpunkter": 'Mer "cykelbanor" & <b>fler</b> bänkar\nTack!', "password": "hemligt"}
    response = client.post("/s/answer/prioriteringar?lang=sv", data=typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Tjänsten är tillfälligt otillgänglig" in page and "har inte sparats" in page
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Retry-After"] == "30"
    assert '<form method="post" action="/s/answer/prioriteringar?lang=sv">' in page
    assert hidden_fields(page) == [("csrf_token", "tok"), ("nav", "next"), ("prioriteringar", "skola"),
                                   ("prioriteringar", "miljo"), ("synpunkter", typed["synpunkter"])]
    assert "hemligt" not in page, "never a password"
    assert "<b>fler" not in page, "escaped"


def test_nothing_to_keep_for_a_get_or_an_upload(tmp_path):
    client = database_down_client(tmp_path)
    got = client.get("/s/answer/prioriteringar")
    assert got.status_code == 503 and "Skicka igen" not in got.get_data(as_text=True)
    upload = client.post("/s/answer/prioriteringar", data={"synpunkter": "x"}, content_type="multipart/form-data")
    assert upload.status_code == 503 and "Skicka igen" not in upload.get_data(as_text=True)
