"""The import rules of DESIGN.md, checked by walking the source tree.

- analysis imports nothing from panel or surveys, and never Flask or SQLAlchemy;
- panel imports surveys only inside the app factory (panel/app.py) and the
  migration environment, which must see every table;
- models import SQLAlchemy (and the shared base) only: no Flask.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(package: str, forbidden: tuple[str, ...], allow: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in allow:
            continue
        for line, module in imported_modules(path):
            if module.split(".")[0] in forbidden:
                bad.append(f"{rel}:{line} imports {module}")
    return bad


def test_analysis_is_a_pure_statistics_package():
    assert violations("analysis", ("flask", "flask_wtf", "flask_babel", "flask_login", "flask_mail",
                                   "sqlalchemy", "alembic", "panel", "surveys", "werkzeug", "jinja2")) == []


def test_panel_imports_surveys_only_in_the_app_factory():
    allowed = ("panel/app.py", "panel/migrations/env.py", "panel/demo.py")
    assert violations("panel", ("surveys",), allow=allowed) == []


def test_models_import_sqlalchemy_only():
    model_files = [p for p in ROOT.glob("*/models/*.py")] + [p for p in ROOT.glob("*/models.py")]
    bad = []
    for path in model_files:
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if top in ("flask", "flask_wtf", "flask_babel", "flask_login", "werkzeug", "jinja2", "wtforms"):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert bad == []


def test_the_rules_can_fail(tmp_path, monkeypatch):
    """Guard against a checker that finds nothing because it reads nothing."""
    assert any(module == "sqlalchemy" for _, module in imported_modules(ROOT / "panel" / "db.py"))
