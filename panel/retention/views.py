"""``medborgarpanel retention run``: apply every retention rule once (the jobs run it hourly)."""

from __future__ import annotations

import click
from flask import Blueprint, current_app

from panel.extensions import db
from panel.retention import services

bp = Blueprint("retention", __name__, cli_group="retention")


@bp.cli.command("run")
def run_command() -> None:
    """Delete personal data whose retention period is over; each rule is committed on its own."""

    def report(result: services.Purged) -> None:
        db.session.commit()
        click.echo(f"{result.rule}: {result.rows} removed (period {result.period})")

    services.run(db.session, current_app.config, after_each=report)
