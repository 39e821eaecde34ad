"""Translation catalogs: extract the Swedish msgids, update and compile catalogs.

The interface is written in Swedish; each other language has a catalog in
panel/translations/<lang>/LC_MESSAGES/messages.po (and its compiled .mo).
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = Path(__file__).resolve().parent / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "pgettext": ((1, "c"), 2)}


def extract() -> Catalog:
    """Every translatable string in the Python code and the templates."""
    catalog = Catalog(locale="sv", project="medborgarpanel")
    method_map = [("panel/**.py", "python"), ("surveys/**.py", "python"),
                  ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.do"},
               "templates/**.txt": {"extensions": "jinja2.ext.do"}}
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map=method_map, options_map=options, keywords=KEYWORDS
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def catalog_path(language: str) -> Path:
    return CATALOGS / language / "LC_MESSAGES" / "messages.po"


def read_catalog(language: str) -> Catalog:
    with catalog_path(language).open("rb") as handle:
        return read_po(handle, locale=language)


def update(language: str) -> list[str]:
    """Merge new msgids into the language's catalog; return the untranslated ones."""
    template = extract()
    path = catalog_path(language)
    if path.exists():
        catalog = read_catalog(language)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(locale=language, project="medborgarpanel")
    catalog.update(template, no_fuzzy_matching=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, sort_output=True, ignore_obsolete=True)
    return [m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and not m.string]


def compile_catalog(language: str) -> Path:
    catalog = read_catalog(language)
    target = catalog_path(language).with_suffix(".mo")
    with target.open("wb") as handle:
        write_mo(handle, catalog)
    return target
