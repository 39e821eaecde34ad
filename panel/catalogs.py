"""Translation catalogs: extract the Swedish msgids, update and compile catalogs.

The interface is written in Swedish; each other language has a catalog in
panel/translations/<lang>/LC_MESSAGES/messages.po (and its compiled .mo).
English covers every text; the residents' languages (Arabic) cover the texts a
resident can meet, listed in RESIDENT_SOURCES.
"""

from __future__ import annotations

import ast
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
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


LANGUAGES = ("en", "ar")  # the catalogs `medborgarpanel i18n update` keeps current by default
RESIDENT_ONLY = frozenset({"ar"})  # catalogs holding only the texts residents meet

# Where the texts a resident can meet are: pages, emails and the Python code behind them.
# A Python file with names lists the top-level functions, classes or assignments that
# hold resident texts (the rest of the file is for staff); None means the whole file.
RESIDENT_TEMPLATES = (
    "templates/base.html", "templates/_site_footer.html", "templates/error.html", "templates/_forms.html",
    "templates/members/*.html",
    "templates/recruitment/join.html", "templates/recruitment/join_details.html",
    "templates/privacy/public.html", "templates/privacy/_about.html",
    "templates/surveys/answering/*.html", "templates/surveys/_questions.html",
    "templates/publication/public.html", "templates/publication/_report_body.html",
    "templates/publication/_macros.html", "templates/email/*.html", "templates/email/*.txt",
)
RESIDENT_SOURCES: dict[str, tuple[str, ...] | None] = {
    "panel/web.py": None,
    "panel/members/forms.py": None,
    "panel/members/login.py": None,
    "panel/members/services.py": None,
    "panel/members/views.py": None,
    "panel/recruitment/forms.py": ("CodeForm",),
    "panel/recruitment/views.py": ("join", "join_details"),
    "panel/recruitment/services.py": ("find_invite", "check_usable"),
    "panel/privacy/services.py": ("DEFAULT_LEGAL_BASIS", "STORED"),
    "panel/retention/services.py": None,
    "surveys/retention.py": None,
    "surveys/forms.py": None,
    "surveys/form_html.py": None,
    "surveys/answering/forms.py": None,
    "surveys/answering/views.py": None,
    "surveys/publication/presentation.py": None,
    "surveys/publication/charts.py": None,
    "panel/charts.py": None,
}


def _line_ranges(path: Path, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """The lines of the named top-level definitions (decorators included) in a Python file."""
    ranges, found = [], set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined = {node.name}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined = {target.id for target in targets if isinstance(target, ast.Name)}
        else:
            continue
        if defined & set(names):
            found |= defined & set(names)
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            ranges.append((first, node.end_lineno or node.lineno))
    if missing := set(names) - found:
        raise ValueError(f"{path}: RESIDENT_SOURCES names {sorted(missing)}, which it does not define")
    return ranges


def extract_resident() -> Catalog:
    """The texts a resident can meet (RESIDENT_TEMPLATES and RESIDENT_SOURCES)."""
    catalog = Catalog(locale="sv", project="medborgarpanel")
    files: list[tuple[Path, tuple[str, ...] | None]] = []
    for pattern in RESIDENT_TEMPLATES:
        found = sorted(ROOT.glob(pattern))
        if not found:
            raise ValueError(f"RESIDENT_TEMPLATES: nothing matches {pattern}")
        files += [(path, None) for path in found]
    files += [(ROOT / name, names) for name, names in RESIDENT_SOURCES.items()]
    for path, names in files:
        python = path.suffix == ".py"
        ranges = _line_ranges(path, names) if names else None
        for lineno, message, comments, context in extract_from_file(
            "python" if python else "jinja2", str(path), keywords=KEYWORDS,
            options={} if python else {"extensions": "jinja2.ext.do"},
        ):
            if ranges is None or any(first <= lineno <= last for first, last in ranges):
                catalog.add(message, None, [(str(path.relative_to(ROOT)), lineno)], auto_comments=comments,
                            context=context)
    return catalog


def catalog_path(language: str) -> Path:
    return CATALOGS / language / "LC_MESSAGES" / "messages.po"


def read_catalog(language: str) -> Catalog:
    with catalog_path(language).open("rb") as handle:
        return read_po(handle, locale=language)


def update(language: str) -> list[str]:
    """Merge new msgids into the language's catalog; return the untranslated ones.

    A residents' language (RESIDENT_ONLY) gets only the texts residents meet.
    """
    template = extract_resident() if language in RESIDENT_ONLY else extract()
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
