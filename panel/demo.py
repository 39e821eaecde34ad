"""``medborgarpanel demo``: a running demo municipality in one command.

SQLite in the instance folder, a local SMTP catcher writing to a Maildir, the mail
dispatcher in a background thread, and the web server. The captured mail is shown
at /dev/mail, so a newcomer can click the confirmation link of a sign-up.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import click
from werkzeug.serving import run_simple

from panel import config, migrations

DEMO_MEMBERS = 3000


def _paths() -> tuple[Path, Path, Path]:
    instance = Path(config.instance_path())
    return instance, instance / "demo.sqlite", instance / "demo-mail"


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web server listens on.")
@click.option("--port", default=5000, show_default=True, help="Port of the web server.")
@click.option("--smtp-port", default=0, help="Port of the local SMTP catcher (default: a free one).")
@click.option("--members", default=DEMO_MEMBERS, show_default=True, help="Synthetic members to create.")
@click.option("--fresh", is_flag=True, help="Delete the demo database and mailbox and start over.")
@click.option("--seed-only", is_flag=True, help="Create and seed the demo database, then stop.")
def demo_command(host: str, port: int, smtp_port: int, members: int, fresh: bool, seed_only: bool) -> None:
    """Seed a demo municipality (Gotland) and run the web server, SMTP catcher and dispatcher."""
    from panel.app import create_app
    from panel.mail.devserver import DevSMTPServer
    from panel.mail.dispatcher import run as run_dispatcher
    from panel.mail.smtp import MailSettings

    instance, database, mailbox = _paths()
    if fresh:
        for path in (database, database.with_suffix(".sqlite-wal"), database.with_suffix(".sqlite-shm")):
            path.unlink(missing_ok=True)
        shutil.rmtree(mailbox, ignore_errors=True)
    instance.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{database}"
    base_url = f"http://{host}:{port}"
    smtp = DevSMTPServer(mailbox, port=smtp_port)
    app = create_app({"DATABASE_URL": url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port,
                      "MAIL_USE_TLS": False, "MAIL_USE_SSL": False, "MAIL_USERNAME": None, "MAIL_PASSWORD": None,
                      "PANEL_DEV_MAILBOX": str(mailbox), "PANEL_BASE_URL": base_url,
                      "PANEL_MUNICIPALITY": os.environ.get("PANEL_MUNICIPALITY", "Region Gotland")})
    with app.app_context():
        click.echo("Creating the database schema ...")
        migrations.upgrade(url)
        _seed(members)
    if seed_only:
        return

    smtp.start()
    stop = threading.Event()
    dispatcher = threading.Thread(
        target=run_dispatcher, name="mail-dispatcher", daemon=True,
        args=(app.extensions["database"], MailSettings.from_config(app.config)),
        kwargs={"interval": 2.0, "stop": stop, "worker_id": "demo"},
    )
    dispatcher.start()
    _banner(base_url, smtp.port, url)
    try:
        # Not app.run(): Flask refuses it inside its own CLI.
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()
        dispatcher.join(timeout=5)
        smtp.stop()


def _seed(members: int) -> None:
    from panel import demo_seed
    from panel.extensions import db

    session = db.session
    if demo_seed.is_seeded(session):
        click.echo("The demo database is already seeded (use --fresh to start over).")
        return
    click.echo("Seeding districts, staff and the SCB population figures for Gotland ...")
    demo_seed.seed_districts(session)
    demo_seed.seed_staff(session)
    population = demo_seed.seed_population(session)
    click.echo("Drawing a recruitment wave of 1,500 letters ...")
    joined = demo_seed.seed_wave(session, population)
    click.echo(f"Creating {max(members - joined, 0)} synthetic members who signed up themselves ...")
    demo_seed.seed_members(session, population, max(members - joined, 0))
    session.commit()
    click.echo(f"Seeded {members} members ({joined} from the wave).")


def _banner(base_url: str, smtp_port: int, url: str) -> None:
    from panel.demo_seed import DEMO_PASSWORD, DEMO_STAFF

    lines = [
        "",
        "Medborgarpanelen demo is running.",
        f"  Open:          {base_url}/",
        f"  Caught mail:   {base_url}/dev/mail   (SMTP catcher on 127.0.0.1:{smtp_port})",
        f"  Staff login:   {base_url}/staff/login   password for all: {DEMO_PASSWORD}",
    ]
    lines += [f"    {role:<10} {email}" for email, _name, role in DEMO_STAFF]
    lines += [f"  Database:      {url}", "  Stop with Ctrl+C.", ""]
    click.echo("\n".join(lines))
