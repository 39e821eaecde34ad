"""The application factory: a table of contents, no logic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from panel import config, web
from panel.extensions import babel, csrf, db, login_manager, mail
from panel.i18n import select_locale, select_timezone


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(web.TEMPLATES), instance_path=config.instance_path())
    app.config.from_mapping(config.from_environment())
    app.config.from_mapping(overrides or {})
    config.ensure_secret_key(app)

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    mail.init_app(app)
    login_manager.init_app(app)
    web.init_app(app)

    from panel.accounts.views import bp as accounts
    from panel.cli import db_cli, i18n_cli
    from panel.demo import demo_command
    from panel.districts.views import bp as districts
    from panel.health.views import bp as health
    from panel.mail.views import bp as mail_bp
    from panel.members.views import bp as members
    from panel.overview.views import bp as overview
    from panel.population.views import bp as population
    from panel.jobs import bp as jobs
    from panel.privacy.views import bp as privacy
    from panel.retention.views import bp as retention
    from panel.recruitment.views import bp as recruitment
    import surveys.retention  # noqa: F401  (registers the survey data retention rules)
    from surveys.answering.views import bp as answering
    from surveys.authoring.views import bp as authoring
    from surveys.exports.views import bp as exports
    from surveys.fielding.views import bp as fielding
    from surveys.results.views import bp as results
    from surveys.publication.views import bp as publication

    for blueprint in (accounts, districts, health, mail_bp, members, overview, population, privacy, recruitment,
                      authoring, fielding, answering, exports, publication):
        app.register_blueprint(blueprint)
    for blueprint in (jobs, retention):  # command-line groups only
        app.register_blueprint(blueprint)
    app.register_blueprint(results)  # the analyst's survey report
    for command in (db_cli, i18n_cli, demo_command):
        app.cli.add_command(command)
    return app
