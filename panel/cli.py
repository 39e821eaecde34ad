"""The ``medborgarpanel`` command: Flask's CLI plus the project's own commands.

Blueprint-scoped commands appear as groups: ``medborgarpanel staff create``,
``medborgarpanel mail dispatch``, ``medborgarpanel districts import`` ...
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from panel import migrations


@click.group("db")
def db_cli() -> None:
    """Database schema (Alembic migrations)."""


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade_command(revision: str) -> None:
    """Bring the schema up to date (run on every deploy)."""
    migrations.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo("Database schema is up to date.")


@db_cli.command("downgrade")
@click.argument("revision")
@with_appcontext
def downgrade_command(revision: str) -> None:
    """Step the schema back to REVISION."""
    migrations.downgrade(current_app.config["DATABASE_URL"], revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def revision_command(message: str) -> None:
    """Write a new migration from the difference between models and database (developers)."""
    migrations.revision(current_app.config["DATABASE_URL"], message)


@click.group("i18n")
def i18n_cli() -> None:
    """Translation catalogs (developers and translators)."""


@i18n_cli.command("update")
@click.argument("languages", nargs=-1)
def i18n_update(languages: tuple[str, ...]) -> None:
    """Extract the Swedish texts and merge them into each catalog (default: en and ar).

    Arabic, a residents' language, holds only the texts residents meet (staff pages stay
    Swedish or English).
    """
    from panel import catalogs

    for language in languages or catalogs.LANGUAGES:
        missing = catalogs.update(language)
        catalogs.compile_catalog(language)
        click.echo(f"{language}: {len(missing)} untranslated")
        for msgid in missing:
            click.echo(f"  - {msgid[:100]}")


def _create_app():
    from panel.app import create_app

    return create_app()


def main() -> None:
    FlaskGroup(create_app=_create_app, help="Medborgarpanelen: a citizen panel for municipalities.")()
