"""Every Swedish text has an English translation, and the compiled catalog is current."""

from __future__ import annotations

from babel.messages.mofile import read_mo

from panel import catalogs


def test_every_text_is_translated_to_english():
    english = catalogs.read_catalog("en")
    missing = [m.id for m in catalogs.extract() if m.id and not (english.get(m.id, m.context) and english.get(m.id, m.context).string)]
    assert missing == [], (
        f"{len(missing)} texts lack an English translation; run `medborgarpanel i18n update` and "
        "translate panel/translations/en/LC_MESSAGES/messages.po:\n" + "\n".join(map(str, missing[:40]))
    )


def test_compiled_catalog_matches_the_po_file():
    po = catalogs.read_catalog("en")
    with catalogs.catalog_path("en").with_suffix(".mo").open("rb") as handle:
        mo = read_mo(handle)
    # (A plural message's id and string are tuples in a .po file, lists in a .mo file.)
    assert ({_plain(m.id): _plain(m.string) for m in po if m.id and m.string}
            == {_plain(m.id): _plain(m.string) for m in mo if m.id})


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_placeholders_survive_translation():
    broken = []
    english = catalogs.read_catalog("en")
    for message in english:
        if message.id and message.string:
            errors = list(message.check(english))
            if errors:
                broken.append((message.id, [str(e) for e in errors]))
    assert broken == []


def test_english_is_served_when_chosen(client):
    assert "Skip to content" in client.get("/staff/login?lang=en").get_data(as_text=True)
    assert "Hoppa till innehållet" in client.get("/staff/login?lang=sv").get_data(as_text=True)
